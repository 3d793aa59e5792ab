"""Dashboards as code: Grafana's typed builders (grafana-foundation-sdk) write dashboards/*.json.

One module per dashboard row (`overview`, `latency`, ...), each a `row()` returning its panels; `common` holds what
the rows share; `nats_connectivity` puts the rows in order under the variables; `output` lists the dashboards and
writes or checks their files. The exporter never imports this package (the SDK is a tool of the test extra only).
"""
