"""Overview: is each NATS target reachable now, since when not, and why (the probes)."""

from __future__ import annotations

from grafana_foundation_sdk.models import common as models

from .common import (
    COLOUR_TEXT,
    GREEN_FROM_1,
    HOST_KIND_COLOURS,
    TARGET,
    UP_DOWN,
    Row,
    bar_gauge_panel,
    bars,
    by,
    coloured_column,
    increase,
    instant,
    lines,
    rows,
    selector,
    series,
    stat_panel,
    table_panel,
    value_colours,
)


def row() -> Row:
    return Row(
        "Overview",
        [
            stat_panel(
                "Probe success",
                "Whether the last probe of each target completed every phase (DNS, TCP, NATS handshake, PING/PONG, "
                "publish/subscribe), connecting exactly as an application does. Down for two minutes pages "
                "(NATSConnectivityUnreachable).",
                series(selector("nats_connectivity_probe_success", TARGET), "{{target}}"),
                unit="none",
                size=(6, 5),
                steps=GREEN_FROM_1,
                mappings=UP_DOWN,
            ),
            stat_panel(
                "Time since last success",
                "Seconds since each target last passed a probe. It grows by the probe interval (15s by default) "
                "between healthy probes; more than a few intervals means the target is down.",
                series(
                    "time() - " + selector("nats_connectivity_probe_last_success_timestamp_seconds", TARGET),
                    "{{target}}",
                ),
                unit="s",
                size=(6, 5),
                steps=(("green", None), ("orange", 60), ("red", 120)),
            ),
            stat_panel(
                "Availability (last hour)",
                "Share of probes that succeeded over the last hour, per target (recording rule "
                "target:nats_connectivity_probe_success:ratio_rate1h).",
                series(selector("target:nats_connectivity_probe_success:ratio_rate1h", TARGET), "{{target}}"),
                unit="percentunit",
                size=(6, 5),
                steps=(("red", None), ("orange", 0.99), ("green", 0.999)),
            )
            .decimals(2)
            .min(0)
            .max(1),
            stat_panel(
                "DNS addresses",
                "How many addresses the target's name resolved to in the last probe; 0 means it did not resolve "
                "(failure reason dns_error). A Service name resolves to one ClusterIP, a headless Service to one "
                "address per pod.",
                series(selector("nats_connectivity_dns_addresses", TARGET), "{{target}}"),
                unit="short",
                size=(6, 5),
                steps=GREEN_FROM_1,
            ),
            bar_gauge_panel(
                "Current phase times",
                "Time the last probe spent in each phase: dns (name resolution), tcp (connect), connect (NATS INFO, "
                "TLS, CONNECT), rtt (PING/PONG) and pubsub (a message to itself and back). A phase that was not "
                "reached is absent.",
                instant(selector("nats_connectivity_probe_phase_seconds", TARGET), "{{target}} {{phase}}"),
                unit="s",
                size=(8, 8),
                steps=(("green", None), ("orange", 0.1), ("red", 0.5)),
                display=models.BarGaugeDisplayMode.GRADIENT,
            ),
            lines(
                "Probe duration",
                "Total time of each probe, all phases and closing included. It is bounded by the probe timeout (5s "
                "by default): a flat line at the timeout means probes time out.",
                series(selector("nats_connectivity_probe_duration_seconds", TARGET), "{{target}}"),
                unit="s",
                size=(8, 8),
            ),
            bars(
                "Failures by reason",
                "Failed probes per interval, by reason: dns_error, connection_refused, network_error, timeout, "
                "tls_error, auth_error, protocol_error, pubsub_error, internal_error. The README's failure table "
                "says what to check first for each.",
                series(
                    by(
                        "sum",
                        "target, result",
                        increase(selector("nats_connectivity_probes_total", TARGET, 'result!="success"')),
                    ),
                    "{{target}} {{result}}",
                ),
                unit="short",
                size=(8, 8),
            ),
            table_panel(
                "Targets",
                "Each configured target: its URL (credentials redacted) and the kind of host it names: fqdn (the "
                "Service's full DNS name, best), short (a short Service name, only valid from the Service's "
                "namespace), ip (an IP address: the guide's classic mistake).",
                rows(by("max", "target, url, host_kind", selector("nats_connectivity_target_info", TARGET))),
                size=(12, 6),
            ).override_by_name("host_kind", coloured_column(value_colours(HOST_KIND_COLOURS), COLOUR_TEXT)),
            table_panel(
                "NATS servers answering",
                "The NATS server that answered each target's last probe: its server_name, version and cluster (from "
                "the server's INFO). Several rows for one target over time show the Service balancing between NATS "
                "pods.",
                rows(
                    by(
                        "max",
                        "target, server_name, version, cluster",
                        selector("nats_connectivity_server_info", TARGET),
                    )
                ),
                size=(12, 6),
            ),
        ],
    )
