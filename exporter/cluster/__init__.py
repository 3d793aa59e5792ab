"""The NATS cluster's own data path: each server on its own, every route between two servers, a JetStream canary.

`runner.run_cluster_probe` does one interval's work and returns a `ClusterResult`; `metrics.ClusterCollector`
renders the latest results. Nothing here knows the web app or the supervisor: `app.py` wires it in.
"""
