"""Per node: NATS as the node agent sees it from every node (the DaemonSet `nats-connectivity-exporter agent`).

The agents expose the same families as the exporter; Prometheus adds `node` through the PodMonitor's relabelling of
`__meta_kubernetes_pod_node_name`. Every selector here has `node=~"$node"`, whose "All" is ".+": only series that
have a node count, so the exporter Deployment's own series never mix in. Empty without the agent.
"""

from __future__ import annotations

from .common import (
    EXPORTER,
    GREEN_FROM_1,
    NODE,
    RED_FROM_1,
    Row,
    bars,
    by,
    increase,
    lines,
    rate,
    selector,
    series,
    stat_panel,
    state_timeline,
    value_text,
)

_SUCCESS = selector("nats_connectivity_probe_success", NODE)
# The agent's log reading has no target: its series are selected by node only.
_AGENT = (*EXPORTER, "node")


def row() -> Row:
    return Row(
        "Per node",
        [
            stat_panel(
                "Nodes that cannot reach NATS",
                "Nodes whose agent fails every probe of the target now. One node failing while others succeed for "
                "3 minutes pages (NATSUnreachableFromNode): its application pods cannot connect either. Every node "
                "failing is an outage (NATSConnectivityUnreachable).",
                series(by("sum", "target", f"1 - {by('max', 'target, node', _SUCCESS)}"), "{{target}}"),
                unit="short",
                size=(6, 8),
                steps=RED_FROM_1,
            ),
            state_timeline(
                "Probe success by node",
                "Each node's probe of each target over time: green while the agent on that node reaches NATS, red "
                "while it does not. Several nodes red at once point at a zone, a node pool or a CNI rollout.",
                series(by("max", "target, node", _SUCCESS), "{{node}} {{target}}"),
                size=(18, 8),
                mappings=value_text({"1": ("up", "green"), "0": ("down", "red")}),
                steps=GREEN_FROM_1,
            ),
            lines(
                "Round trip per node",
                "PING/PONG round trip of the last probe from each node. One node much slower than the others has a "
                "busy network path (its kube-proxy, CNI or uplink).",
                series(
                    by("max", "target, node", selector("nats_connectivity_probe_phase_seconds", NODE, 'phase="rtt"')),
                    "{{node}} {{target}}",
                ),
                unit="s",
                size=(8, 8),
                log_scale=True,
            ),
            lines(
                "p99 connect time per node",
                "p99 of the connect phase (TCP, TLS and the NATS handshake) from each node, from the probe latency "
                "histogram.",
                series(
                    "histogram_quantile(0.99, "
                    + by(
                        "sum",
                        "node, le",
                        rate(selector("nats_connectivity_probe_latency_seconds_bucket", NODE, 'phase="connect"')),
                    )
                    + ")",
                    "{{node}}",
                ),
                unit="s",
                size=(8, 8),
                log_scale=True,
            ),
            bars(
                "Failures by node and reason",
                "Failed probes per interval from each node, by reason. dns_error on one node only is its DNS cache; "
                "timeout or connection_refused on one node only is its kube-proxy rules or CNI.",
                series(
                    by(
                        "sum",
                        "node, result",
                        increase(selector("nats_connectivity_probes_total", NODE, 'result!="success"')),
                    ),
                    "{{node}} {{result}}",
                ),
                unit="short",
                size=(8, 8),
            ),
            lines(
                "Container log bytes read per node",
                "Bytes of container log files (/var/log/pods) each agent reads per second. An agent reads its own "
                "node's pods only, so the log load spreads over the nodes.",
                series(
                    by("sum", "node", rate(selector("nats_connectivity_agent_log_bytes_read_total", _AGENT))),
                    "{{node}}",
                    "A",
                ),
                unit="Bps",
                size=(12, 7),
            ),
            bars(
                "Unreadable log lines per node",
                "CRI log lines an agent could not read, per interval, by why (skipped, never fatal). Steady numbers "
                "mean a container runtime writing another format than CRI.",
                series(
                    by(
                        "sum",
                        "node, reason",
                        increase(selector("nats_connectivity_agent_log_malformed_lines_total", _AGENT)),
                    ),
                    "{{node}} {{reason}}",
                ),
                unit="short",
                size=(12, 7),
            ),
        ],
    )
