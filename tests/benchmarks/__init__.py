"""Benchmarks of the exporter's core: each prints figures and ratios against a baseline measured in the same run.

Run them with `make bench` (all) or `make bench ARGS=probe` (those whose module name contains `probe`).
"""
