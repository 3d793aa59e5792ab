"""The exporter's NetworkPolicy opens the NATS pods' monitoring port only when the configuration uses it.

The servers' view reads /connz there with `server_view.source: monitor`; the cluster probes ask /healthz there when
a target has `cluster.enabled` and a `cluster.monitor_port` other than 0. Otherwise only the client port is open.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.support import one, render, render_error

NATS_TO = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nats"}}}]
TARGET = {"name": "default", "url": "nats://nats-server.nats.svc.cluster.local:4222"}


def with_policy(config: dict[str, Any], **nats: Any) -> dict[str, Any]:
    """Values with the NetworkPolicy on, `config` as the exporter's configuration, `nats` under networkPolicy.nats."""
    return {"networkPolicy": {"enabled": True, "nats": nats}, "config": config}


def monitor_ports(values: dict[str, Any]) -> list[int] | None:
    """The ports of the monitoring egress rule (the one after the client port's), or None when there is none."""
    egress = one(render(values), "NetworkPolicy")["spec"]["egress"]
    assert [port["port"] for port in egress[0]["ports"]] == [4222]
    second = [port["port"] for port in egress[1]["ports"]]
    if second == [53, 53]:
        return None
    assert egress[1]["to"] == NATS_TO  # the monitoring port of the NATS pods, nobody else's
    assert {port["protocol"] for port in egress[1]["ports"]} == {"TCP"}
    return second


def cluster_target(**cluster: Any) -> dict[str, Any]:
    return {**TARGET, "cluster": cluster}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"server_view": {"source": "account"}}, None),
        ({"server_view": {"source": "system"}}, None),
        ({"server_view": {"source": "off", "monitor_port": 8222}}, None),
        ({"server_view": {"source": "monitor"}}, [8222]),
        ({"server_view": {"source": "monitor", "monitor_port": 18222}}, [18222]),
        ({"targets": [cluster_target(enabled=False)]}, None),
        ({"targets": [cluster_target(enabled=True)]}, [8222]),
        ({"targets": [cluster_target(enabled=True, monitor_port=0)]}, None),
        ({"targets": [TARGET, cluster_target(enabled=True, monitor_port=10222)]}, [10222]),
        (
            {"server_view": {"source": "monitor"}, "targets": [cluster_target(enabled=True, monitor_port=10222)]},
            [8222, 10222],
        ),
        ({"server_view": {"source": "monitor"}, "targets": [cluster_target(enabled=True)]}, [8222]),
    ],
    ids=[
        "nothing-uses-it",
        "view-from-account",
        "view-from-system",
        "view-off",
        "view-from-monitor",
        "view-from-monitor-other-port",
        "cluster-off",
        "cluster-probes",
        "cluster-probes-without-healthz",
        "cluster-probes-other-port",
        "both-two-ports-sorted",
        "both-one-port-once",
    ],
)
def test_the_monitoring_port_is_open_exactly_when_the_config_uses_it(
    config: dict[str, Any], expected: list[int] | None
) -> None:
    assert monitor_ports(with_policy(config)) == expected


def test_ports_turned_on_by_flags_are_listed_in_the_values() -> None:
    """`--server-view.source=monitor` in extraArgs is invisible to the chart: networkPolicy.nats.monitorPorts."""
    values = with_policy({}, monitorPorts=[8222])
    values["extraArgs"] = ["--server-view.source=monitor"]
    assert monitor_ports(values) == [8222]


def test_the_monitoring_port_goes_where_the_nats_pods_are() -> None:
    to = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nats"}}}]
    values = with_policy({"server_view": {"source": "monitor"}}, to=to)
    egress = one(render(values), "NetworkPolicy")["spec"]["egress"]
    assert egress[1] == {"ports": [{"port": 8222, "protocol": "TCP"}], "to": to}


def test_an_unknown_view_source_is_refused_by_the_schema() -> None:
    assert "server_view" in render_error({"config": {"server_view": {"source": "monitoring"}}})
