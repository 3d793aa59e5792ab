"""Applications as the servers see them: the NATS servers' own connection lists joined with the application pods.

Where the Applications row counts what the applications log, this row shows what the servers know: which ready pods
have a connection, on which server, with how many subscriptions and how many bytes pending, why the servers closed
connections, and which connections belong to no pod. Verdicts are per pod, counted per app (no pod label unless
--logs.per-pod, hence the sums).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import common as models

from .common import (
    APP,
    COLOUR_BACKGROUND,
    EXPORTER,
    GREEN_FROM_1,
    JUST_BLUE,
    TARGET,
    UP_DOWN,
    Row,
    bar_gauge_panel,
    bars,
    by,
    coloured_column,
    histogram_heatmap,
    increase,
    instant,
    lines,
    rate,
    rows,
    selector,
    series,
    stat_panel,
    table_panel,
    value_colours,
)

_VERDICTS = "nats_connectivity_app_pod_verdicts"
_RECONNECT = "nats_connectivity_app_reconnect_seconds_bucket"
# A verdict's colour wherever verdicts are listed: connected is fine, unknown is "cannot tell", the rest are not.
VERDICT_COLOURS = {
    "connected": "green",
    "unknown": "blue",
    "no_subscriptions": "orange",
    "slow_consumer": "orange",
    "half_open": "red",
    "not_connected": "red",
}


def _app(metric: str, *matchers: str) -> str:
    return selector(metric, APP, *matchers)


def _reconnect_quantile(q: str) -> str:
    return f"histogram_quantile({q}, {by('sum', 'namespace, app, le', rate(_app(_RECONNECT)))})"


def row() -> Row:
    return Row(
        "Applications as the servers see them",
        [
            lines(
                "Expected vs connected pods",
                "Per application: pods Running and Ready (expected to be connected) and pods with at least one "
                "connection a NATS server lists (whatever their verdict). A gap that lasts is pods without NATS: "
                "NATSApplicationPodsNotConnected pages after 5 minutes.",
                series(
                    by("sum", "namespace, app", _app("nats_connectivity_app_pods_expected")),
                    "{{namespace}}/{{app}} expected",
                    "A",
                ),
                series(
                    by("sum", "namespace, app", _app("nats_connectivity_app_pods_connected")),
                    "{{namespace}}/{{app}} connected",
                    "B",
                ),
                unit="short",
                size=(8, 8),
            ),
            lines(
                "Pods by verdict",
                "Expected pods by verdict: connected; not_connected (no server lists it); half_open (its log says "
                "connected, no server sees it); no_subscriptions (connected, zero subscriptions: reconnected without "
                "restoring them); slow_consumer (pending bytes over the threshold, or closed as one); unknown (some "
                "servers did not answer: never called not_connected on a partial view).",
                series(by("sum", "namespace, app, verdict", _app(_VERDICTS)), "{{namespace}}/{{app}} {{verdict}}"),
                unit="short",
                size=(8, 8),
                stacked=True,
            ),
            table_panel(
                "Pods not connected now",
                "Applications with pods in a verdict other than connected, and how many. The pods themselves, with "
                "their addresses and the reason, are on the exporter's /apps page and in `check`.",
                rows(by("sum", "namespace, app, verdict", _app(_VERDICTS, 'verdict!="connected"')) + " > 0"),
                size=(8, 8),
                hide=("Time",),
                rename={"Value": "pods"},
                sort_by="pods",
            ).override_by_name("verdict", coloured_column(value_colours(VERDICT_COLOURS), COLOUR_BACKGROUND)),
            lines(
                "Connections per NATS server",
                "The application's open connections on each server. After a NATS rollout, clients often pile onto "
                "the servers that came back first: one server with most connections is an imbalance to correct "
                "(the clients' reconnect options, or `lame_duck_duration`).",
                series(
                    by("sum", "namespace, app, server", _app("nats_connectivity_app_connections")),
                    "{{namespace}}/{{app}} {{server}}",
                ),
                unit="short",
                size=(12, 8),
                stacked=True,
            ),
            lines(
                "Subscriptions",
                "Subscriptions summed over the application's connections. A drop that stays after a NATS restart "
                "means clients reconnected without restoring their subscriptions (verdict no_subscriptions).",
                series(
                    by("sum", "namespace, app", _app("nats_connectivity_app_subscriptions")), "{{namespace}}/{{app}}"
                ),
                unit="short",
                size=(6, 8),
            ),
            lines(
                "Pending bytes, worst connection",
                "The largest pending bytes of any of the application's connections: messages the server holds "
                "because the client reads too slowly. Over the threshold (--apps.slow-consumer-bytes) is a slow "
                "consumer (NATSApplicationSlowConsumers); at the server's max_pending it is disconnected.",
                series(
                    by("max", "namespace, app", _app("nats_connectivity_app_pending_bytes_max")),
                    "{{namespace}}/{{app}}",
                ),
                unit="bytes",
                size=(6, 8),
            ),
            bars(
                "Connections closed by reason",
                "Connections of the application the servers closed, per interval, by reason: client_closed (the "
                "client's own close, normal), slow_consumer, stale_connection (missed pings), auth_failure, "
                "auth_expired, server_shutdown, max_connections, protocol_error, write_error, read_error, other. "
                "Through the NATS port, closes are visible for named accounts only.",
                series(
                    by(
                        "sum", "namespace, app, reason", increase(_app("nats_connectivity_app_connection_closes_total"))
                    ),
                    "{{namespace}}/{{app}} {{reason}}",
                ),
                unit="short",
                size=(12, 8),
            ),
            table_panel(
                "Client libraries and versions",
                "The application's open connections by client library (lang) and version, as the clients announce "
                "them in CONNECT. Old versions of one app after a rollout are pods that were not restarted.",
                rows(by("sum", "namespace, app, lang, version", _app("nats_connectivity_app_clients"))),
                size=(12, 8),
                hide=("Time",),
                rename={"Value": "connections"},
                sort_by="namespace",
            ),
            histogram_heatmap(
                "Time without a connection after NATS restarts",
                "How long the application's pods were without a connection before connecting again, during NATS "
                "restarts and rollouts (app_reconnect_seconds, from the servers' view). A band at minutes is "
                "clients with long reconnect waits.",
                by("sum", "le", increase(_app(_RECONNECT))),
                unit="s",
                size=(12, 8),
            ),
            lines(
                "Reconnect time quantiles",
                "p50 and p99 of the time the application's pods were without a connection, per application, where "
                "NATS restarted in the interval. The worst pod of the last disruption is on the status page.",
                series(_reconnect_quantile("0.5"), "p50 {{namespace}}/{{app}}", "A"),
                series(_reconnect_quantile("0.99"), "p99 {{namespace}}/{{app}}", "B"),
                unit="s",
                size=(12, 8),
            ),
            bar_gauge_panel(
                "Connections no pod owns",
                "Open connections the exporter could not attribute, per server and kind: unknown_address (outside "
                "the cluster or outside --apps.selector), host_network (the node's address), shared_address (SNAT, "
                "an egress gateway or a sidecar: set the client's connection name to the pod name), "
                "before_pod_start (an older connection from a reused IP), ambiguous_name.",
                instant(
                    by("sum", "server, kind", selector("nats_connectivity_unmatched_connections", EXPORTER)) + " > 0",
                    "{{server}} {{kind}}",
                ),
                unit="short",
                size=(12, 6),
                steps=JUST_BLUE,
                display=models.BarGaugeDisplayMode.BASIC,
            ),
            stat_panel(
                "Servers answering the view",
                "NATS servers that answered the last poll of their connections, and how many were expected. Fewer "
                "for 10 minutes warns (NATSApplicationServerViewIncomplete): pods on the missing servers are "
                "unknown, not not_connected.",
                series(
                    by("max", "target", selector("nats_connectivity_server_view_servers", TARGET)),
                    "{{target}} answered",
                    "A",
                ),
                series(
                    by("max", "target", selector("nats_connectivity_server_view_servers_expected", TARGET)),
                    "{{target}} expected",
                    "B",
                ),
                unit="short",
                size=(8, 6),
                steps=JUST_BLUE,
            ),
            stat_panel(
                "View polled",
                "Whether the last poll of the servers' connections got an answer (--server-view.source: account, "
                "system or monitor).",
                series(by("min", "target", selector("nats_connectivity_server_view_success", TARGET)), "{{target}}"),
                unit="none",
                size=(4, 6),
                steps=GREEN_FROM_1,
                mappings=UP_DOWN,
            ),
        ],
    )
