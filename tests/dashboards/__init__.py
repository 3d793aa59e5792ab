"""Grafana dashboards: lint, PromQL validity, drift against the real /metrics, and panels showing data."""
