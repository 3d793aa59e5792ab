"""Kubernetes: the Service behind each target, its pods probed one by one, the diagnostic checks and the audit of
the NATS URLs the applications are configured with."""

from __future__ import annotations

from grafana_foundation_sdk.models import common as models
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from .common import (
    COLOUR_BACKGROUND,
    GREEN_FROM_1,
    HOST_KIND_COLOURS,
    JUST_BLUE,
    NAMESPACE,
    RED_FROM_1,
    TARGET,
    UP_DOWN,
    Row,
    bar_gauge_panel,
    by,
    coloured_column,
    instant,
    lines,
    rows,
    selector,
    series,
    stat_panel,
    table_panel,
    value_colours,
    value_text,
)


def row() -> Row:
    return Row(
        "Kubernetes",
        [
            stat_panel(
                "Service endpoints",
                "Ready and not-ready endpoints of the Service behind each target (from its EndpointSlices). No ready "
                "endpoint for two minutes pages (NATSConnectivityNoReadyEndpoints).",
                series(
                    by("max", "target", selector("nats_connectivity_service_endpoints", TARGET, 'state="ready"')),
                    "{{target}} ready",
                    "A",
                ),
                series(
                    by("max", "target", selector("nats_connectivity_service_endpoints", TARGET, 'state="not_ready"')),
                    "{{target}} not ready",
                    "B",
                ),
                unit="short",
                size=(6, 6),
                steps=JUST_BLUE,
            ),
            stat_panel(
                "NATS pods answering directly",
                "Each ready NATS pod behind the Service, probed on its own address: one bad replica hides behind a "
                "healthy Service. Down for 5 minutes warns (NATSConnectivityEndpointDown).",
                series(
                    by("max", "target, pod", selector("nats_connectivity_endpoint_probe_success", TARGET)),
                    "{{target}} {{pod}}",
                ),
                unit="none",
                size=(9, 6),
                steps=GREEN_FROM_1,
                mappings=UP_DOWN,
            ),
            lines(
                "Round trip per NATS pod",
                "PING/PONG round trip to each NATS pod, probed directly. One pod much slower than the others is "
                "overloaded or on a busy node.",
                series(
                    by("max", "target, pod", selector("nats_connectivity_endpoint_rtt_seconds", TARGET)),
                    "{{target}} {{pod}}",
                ),
                unit="s",
                size=(9, 6),
            ),
            stat_panel(
                "Failing checks",
                "Diagnostic checks that fail now (the troubleshooting guide as code; `nats-connectivity-exporter "
                "check` prints the same checks with their evidence and fix). Checks that cannot tell (no access, "
                "RBAC) are not counted.",
                series(
                    "count(" + selector("nats_connectivity_check_success", TARGET) + " == 0) or vector(0)", "failing"
                ),
                unit="short",
                size=(6, 8),
                steps=RED_FROM_1,
            ),
            table_panel(
                "Diagnostic checks",
                "Every check per target: service_exists, endpoints_ready, dns_fqdn, dns_short, tcp_connect, "
                "nats_handshake, network_policy, endpoint_probe. Absent when it cannot tell or does not apply. "
                "dns_fqdn and dns_short disagreeing warns (NATSConnectivityDNSNameMismatch).",
                rows(by("max", "target, check", selector("nats_connectivity_check_success", TARGET))),
                size=(18, 8),
                hide=("Time",),
                sort_by="result",
            ).override_by_name(
                "Value",
                [
                    *coloured_column(value_text({"1": ("pass", "green"), "0": ("fail", "red")}), COLOUR_BACKGROUND),
                    _display_name("result"),
                ],
            ),
            stat_panel(
                "NATS URLs with an IP address",
                "NATS URLs in the applications' ConfigMaps and workloads that use an IP address instead of the "
                "Service name (the configuration audit). Any warns (NATSConnectivityIPAddressConfigured).",
                series(
                    "sum("
                    + by(
                        "max",
                        "namespace",
                        selector("nats_connectivity_config_violations", NAMESPACE, 'rule="ip_address"'),
                    )
                    + ")",
                    "IP addresses",
                ),
                unit="short",
                size=(6, 8),
                steps=RED_FROM_1,
            ),
            bar_gauge_panel(
                "Configuration findings by rule",
                "Findings of the configuration audit per namespace and rule: ip_address, hardcoded_in_workload (the "
                "URL written in the workload instead of a ConfigMap), short_name_cross_namespace, "
                "inconsistent_service, unknown_service, invalid_url. `nats-connectivity-exporter audit --cluster` "
                "lists each finding with its fix.",
                instant(
                    by("max", "namespace, rule", selector("nats_connectivity_config_violations", NAMESPACE)),
                    "{{namespace}} {{rule}}",
                ),
                unit="short",
                size=(6, 8),
                steps=RED_FROM_1,
                display=models.BarGaugeDisplayMode.BASIC,
            ),
            table_panel(
                "NATS URLs in application configuration",
                "Every NATS URL found in ConfigMaps and workloads: where (namespace, kind, name, key), its host kind "
                "(fqdn, short, ip) and the Service it means. Rows with host_kind ip are the ones to fix first.",
                rows(
                    by(
                        "max",
                        "namespace, kind, name, key, host_kind, service",
                        selector("nats_connectivity_config_url_info", NAMESPACE),
                    )
                ),
                size=(12, 8),
                sort_by="host_kind",
            ).override_by_name("host_kind", coloured_column(value_colours(HOST_KIND_COLOURS), COLOUR_BACKGROUND)),
        ],
    )


def _display_name(name: str) -> DynamicConfigValue:
    return DynamicConfigValue(id_val="displayName", value=name)
