"""NATS cluster data path: each server probed on its own, each route between two servers, the JetStream canary.

A Service hides its servers: this row shows them one by one, the full mesh of routes as a matrix (from_server rows,
to_server columns) and as bands over time, and the canary stream's phases, reasons, replicas and the account's usage.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import common as models
from grafana_foundation_sdk.models import dashboard as dashboard_models

from .common import (
    COLOUR_BACKGROUND,
    GREEN_FROM_1,
    RED_FROM_1,
    TARGET,
    UP_DOWN,
    Row,
    bar_gauge_panel,
    bars,
    by,
    increase,
    instant,
    lines,
    rows,
    selector,
    series,
    stat_panel,
    state_timeline,
    table_panel,
    value_text,
)

_ROUTE_SUCCESS = selector("nats_connectivity_route_probe_success", TARGET)
OK_FAILING = value_text({"1": ("ok", "green"), "0": ("failing", "red")})


def _route_matrix() -> dashboard_models.DataTransformerConfig:
    """One row per from_server, one column per to_server, the pair's latest success in the cell."""
    return dashboard_models.DataTransformerConfig(
        id_val="groupingToMatrix",
        options={"columnField": "to_server", "rowField": "from_server", "valueField": "Value", "emptyValue": "null"},
    )


def row() -> Row:
    return Row(
        "NATS cluster data path",
        [
            stat_panel(
                "Servers probed on their own",
                "Each NATS server behind the target, probed directly on its address with the probe's phases and "
                "verified by its INFO server_name. A server that is down fails here while the Service still works.",
                series(
                    by("min", "target, server", selector("nats_connectivity_server_probe_success", TARGET)),
                    "{{target}} {{server}}",
                ),
                unit="none",
                size=(8, 6),
                steps=GREEN_FROM_1,
                mappings=UP_DOWN,
            ),
            stat_panel(
                "/healthz",
                "Each server's /healthz on its monitoring port: full (JetStream meta leader, assigned streams and "
                "consumers) and js_enabled_only. Absent when the monitoring port does not answer "
                "(--cluster.monitor-port).",
                series(
                    by("min", "target, server, mode", selector("nats_connectivity_server_healthz", TARGET)),
                    "{{target}} {{server}} {{mode}}",
                ),
                unit="none",
                size=(8, 6),
                steps=GREEN_FROM_1,
                mappings=OK_FAILING,
            ),
            stat_panel(
                "Ready but unhealthy",
                "1 when the server is a ready endpoint of the Service while its full /healthz fails: applications are "
                "sent to a server whose JetStream is not current (NATSServerReadyButUnhealthy after 5 minutes).",
                series(
                    by("max", "target, server", selector("nats_connectivity_server_ready_unhealthy", TARGET)),
                    "{{target}} {{server}}",
                ),
                unit="none",
                size=(8, 6),
                steps=RED_FROM_1,
                mappings=value_text({"0": ("no", "green"), "1": ("yes", "red")}),
            ),
            table_panel(
                "Route matrix",
                "Each ordered pair of servers now: a message published on the row's server (from_server) arrived on "
                "the column's server (to_server), in every probed account. Pick one target. A failing cell while both "
                "servers are up is a broken route (NATSRouteBroken); a whole row and column failing is a server down.",
                rows(by("min", "from_server, to_server", _ROUTE_SUCCESS)),
                size=(8, 9),
                hide=("Time",),
            )
            .with_transformation(_route_matrix())
            .mappings(OK_FAILING)
            .cell_options(COLOUR_BACKGROUND)
            .override_by_name(  # the first column names the rows (from_server): plain text
                "from_server\\to_server",
                [dashboard_models.DynamicConfigValue(id_val="custom.cellOptions", value=models.TableAutoCellOptions())],
            ),
            state_timeline(
                "Routes over time",
                "Each ordered pair of servers over time: green while messages cross from from_server to to_server, "
                "red while they do not. Sampled clusters (cluster.max_route_pairs) update each pair in turn.",
                series(
                    by("min", "target, from_server, to_server", _ROUTE_SUCCESS),
                    "{{target}} {{from_server}} → {{to_server}}",
                ),
                size=(16, 9),
                mappings=OK_FAILING,
                steps=GREEN_FROM_1,
            ),
            lines(
                "Route delivery time",
                "Time from publishing on from_server to the message arriving on to_server (A), and for a new "
                "subscription on to_server to be known on from_server (B), slowest account, last success.",
                series(
                    by(
                        "max",
                        "target, from_server, to_server",
                        selector("nats_connectivity_route_probe_seconds", TARGET),
                    ),
                    "{{from_server}} → {{to_server}}",
                    "A",
                ),
                series(
                    by(
                        "max",
                        "target, from_server, to_server",
                        selector("nats_connectivity_route_interest_seconds", TARGET),
                    ),
                    "interest {{from_server}} → {{to_server}}",
                    "B",
                ),
                unit="s",
                size=(12, 8),
                log_scale=True,
            ),
            bars(
                "Route probe failures by result",
                "Failed route probes per interval: no_interest (the subscription never reached from_server: the "
                "route is down), timeout (the route is up but carries nothing), server_unreachable (a server is "
                "down), permission_denied (the probe user's subjects), internal_error.",
                series(
                    by(
                        "sum",
                        "target, result",
                        increase(selector("nats_connectivity_route_probes_total", TARGET, 'result!="success"')),
                    ),
                    "{{target}} {{result}}",
                ),
                unit="short",
                size=(12, 8),
            ),
            table_panel(
                "Failing routes by account",
                "Pairs that fail in one account only: since nats-server 2.10 each account is pinned to one of a "
                "pair's pooled route connections, so one broken connection breaks some accounts and not others.",
                rows(
                    by(
                        "min",
                        "target, account, from_server, to_server",
                        selector("nats_connectivity_route_account_probe_success", TARGET),
                    )
                    + " == 0"
                ),
                size=(8, 7),
                hide=("Time", "Value"),
            ),
            stat_panel(
                "JetStream canary",
                "Whether the last JetStream canary (its own tiny stream: account info, stream info, publish with "
                "ack, fetch from a durable consumer) completed. Failing for 3 minutes pages with the reason "
                "(NATSJetStreamUnavailable).",
                series(
                    by("min", "target", selector("nats_connectivity_jetstream_probe_success", TARGET)), "{{target}}"
                ),
                unit="none",
                size=(4, 7),
                steps=GREEN_FROM_1,
                mappings=UP_DOWN,
            ),
            lines(
                "JetStream phase times",
                "Time the last canary spent in each phase: js_info, stream_info, publish (until the ack), fetch. "
                "A phase not reached is absent.",
                series(
                    by("max", "target, phase", selector("nats_connectivity_jetstream_phase_seconds", TARGET)),
                    "{{target}} {{phase}}",
                ),
                unit="s",
                size=(12, 7),
                log_scale=True,
            ),
            bars(
                "JetStream failures by reason",
                "Failed canary rounds per interval, by reason: js_not_enabled, no_leader, quorum_lost, ack_timeout, "
                "storage_exhausted, stream_full, not_authorized, no_responders, consumer_stalled, timeout, "
                "connect_failed, internal_error. The runbook maps each to the server's error codes.",
                series(
                    by(
                        "sum",
                        "target, result",
                        increase(selector("nats_connectivity_jetstream_probes_total", TARGET, 'result!="success"')),
                    ),
                    "{{target}} {{result}}",
                ),
                unit="short",
                size=(12, 8),
            ),
            lines(
                "Canary stream replicas",
                "The canary stream's replicas by state: current, lagging (catching up) and offline. Fewer current "
                "than a majority of its replicas means no leader.",
                series(
                    by("max", "target, state", selector("nats_connectivity_jetstream_stream_replicas", TARGET)),
                    "{{target}} {{state}}",
                ),
                unit="short",
                size=(6, 8),
                stacked=True,
            ),
            bar_gauge_panel(
                "JetStream account usage",
                "Used / limit of the probe account's JetStream memory, storage, streams and consumers (absent when "
                "unlimited). Over 75% for 15 minutes warns, over 90% for 5 minutes pages "
                "(NATSJetStreamStorageNearlyFull, natscli's thresholds).",
                instant(
                    by("max", "target, resource", selector("nats_connectivity_jetstream_account_usage_ratio", TARGET)),
                    "{{target}} {{resource}}",
                ),
                unit="percentunit",
                size=(6, 8),
                steps=(("green", None), ("orange", 0.75), ("red", 0.9)),
                display=models.BarGaugeDisplayMode.GRADIENT,
            )
            .min(0)
            .max(1),
        ],
    )
