"""Applications: what the applications' own logs say about their NATS connections, per namespace and app."""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries

from .common import APP, Row, by, lines, rate, rows, selector, series, table_panel

_FROM_LOGS = "Counted from the application pods' logs (namespace is empty for local files, --logs.file)."


def _events(title: str, line: str, event: str, warning: str = "") -> timeseries.Panel:
    return lines(
        title,
        f"{line} lines per second, per application. {warning}{_FROM_LOGS}",
        series(
            by("sum", "namespace, app", rate(selector("nats_connectivity_log_events_total", APP, f'event="{event}"'))),
            "{{namespace}} {{app}}",
        ),
        unit="cps",
        size=(8, 7),
    )


def row() -> Row:
    return Row(
        "Applications",
        [
            _events("Connected events", '"Connected to NATS server"', "connected"),
            _events(
                "Failed connection events",
                '"Failed to connect to NATS"',
                "failed",
                "Failures in every 5-minute window for 10 minutes warn (NATSConnectivityApplicationConnectFailures). ",
            ),
            _events(
                "Lost connection events",
                '"NATS connection lost"',
                "lost",
                "Losses in every 5-minute window for 10 minutes warn (NATSConnectivityApplicationConnectionsLost). ",
            ),
            lines(
                "Pods by NATS state",
                "Application pods by their latest NATS log line: connected, disconnected (the latest was a failure or "
                "a loss) or unknown (no NATS line yet). Only for pods followed through the Kubernetes API.",
                series(
                    by("sum", "namespace, app, state", selector("nats_connectivity_app_pods", APP)),
                    "{{namespace}} {{app}} {{state}}",
                ),
                unit="short",
                size=(8, 7),
                stacked=True,
            ),
            table_panel(
                "Time since last event",
                "How long ago each application last logged each NATS event (the time written in the log line).",
                rows(
                    "time() - "
                    + by(
                        "max",
                        "namespace, app, event",
                        selector("nats_connectivity_log_last_event_timestamp_seconds", APP),
                    )
                ),
                size=(8, 7),
                unit="s",
                hide=("Time",),
                rename={"Value": "time since"},
                sort_by="time since",
            ),
            lines(
                "Log lines read",
                "Application log lines the exporter reads per second, per application. Flat at zero while streams are "
                "open means stalled streams or silent applications (NATSConnectivityNoLogLines).",
                series(
                    by("sum", "namespace, app", rate(selector("nats_connectivity_log_lines_total", APP))),
                    "{{namespace}} {{app}}",
                ),
                unit="cps",
                size=(8, 7),
            ),
        ],
    )
