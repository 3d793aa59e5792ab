"""Alerting rules, their promtool unit tests, the runbook, and alerts end to end with Prometheus and Alertmanager."""
