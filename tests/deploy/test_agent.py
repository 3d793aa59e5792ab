"""The chart's `mode: agent`: a DaemonSet of node agents, what it mounts, what it may do, how Prometheus labels it.

Lint, the Kubernetes schemas and the custom resources' shape are checked for the "agent" combination with every
other one in test_chart.py; these tests say what is particular to the agent.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.combinations import combination
from tests.deploy.support import NAMESPACE, Obj, container, env_value, of_kind, one, render, render_error, walk
from tests.deploy.test_rbac import CLUSTER, Permission, granted, merged

AGENT: dict[str, Any] = {"mode": "agent"}
PODS_READ: frozenset[Permission] = frozenset({("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch")})
STATE_DIR = "/var/lib/nats-connectivity-exporter"


@pytest.fixture(scope="module")
def objects() -> list[Obj]:
    return render(combination("agent"))


def pod_spec(objects: list[Obj]) -> Obj:
    spec: Obj = one(objects, "DaemonSet")["spec"]["template"]["spec"]
    return spec


def test_agent_mode_is_a_daemonset_running_the_agent_command(objects: list[Obj]) -> None:
    daemonset = one(objects, "DaemonSet")
    assert not [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet")]
    assert "replicas" not in daemonset["spec"]
    assert daemonset["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}}
    args = container(objects)["args"]
    assert args[0] == "agent"
    assert "--agent.log-dir=/var/log/pods" in args
    assert f"--agent.state-dir={STATE_DIR}" in args
    assert not any(arg.startswith("--total-shards") for arg in args)


def test_the_agent_learns_its_node_from_the_downward_api(objects: list[Obj]) -> None:
    assert env_value(container(objects), "NODE_NAME") == {"fieldRef": {"fieldPath": "spec.nodeName"}}


def test_deployment_mode_has_no_node_name_and_no_host_path() -> None:
    objects = render({"config": {"logs": {"selector": "app"}}})
    with pytest.raises(KeyError):
        env_value(container(objects), "NODE_NAME")
    assert not any(isinstance(value, dict) and "hostPath" in value for value in walk(objects))
    assert container(objects)["args"][0] == "serve"


def test_logs_are_mounted_read_only_and_only_the_positions_are_writable(objects: list[Obj]) -> None:
    volumes = {volume["name"]: volume for volume in pod_spec(objects)["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container(objects)["volumeMounts"]}
    host_paths = {
        path: volumes[mount["name"]]["hostPath"]
        for path, mount in mounts.items()
        if "hostPath" in volumes[mount["name"]]
    }
    assert host_paths == {
        "/var/log/pods": {"path": "/var/log/pods", "type": "Directory"},
        "/var/log/containers": {"path": "/var/log/containers", "type": "DirectoryOrCreate"},
        STATE_DIR: {"path": STATE_DIR, "type": "DirectoryOrCreate"},
    }
    assert mounts["/var/log/pods"]["readOnly"] is True
    assert mounts["/var/log/containers"]["readOnly"] is True
    writable = {path for path, mount in mounts.items() if not mount.get("readOnly")}
    assert writable == {"/tmp", STATE_DIR}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


def test_the_host_paths_follow_the_values() -> None:
    objects = render({"mode": "agent", "agent": {"logDir": "/data/pods", "stateDir": "/data/nce"}})
    args = container(objects)["args"]
    assert "--agent.log-dir=/data/pods" in args
    assert "--agent.state-dir=/data/nce" in args
    paths = {volume["hostPath"]["path"] for volume in pod_spec(objects)["volumes"] if "hostPath" in volume}
    assert paths == {"/data/pods", "/var/log/containers", "/data/nce"}


def test_the_agent_tolerates_every_taint_and_keeps_the_users_tolerations(objects: list[Obj]) -> None:
    tolerations = pod_spec(objects)["tolerations"]
    # A toleration with operator Exists and no key matches every taint: control-plane and tainted nodes included.
    assert {"operator": "Exists"} in tolerations
    assert {"key": "monitoring", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in tolerations


def test_the_agent_runs_with_no_capability_and_no_host_namespace(objects: list[Obj]) -> None:
    spec = pod_spec(objects)
    security = container(objects)["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["privileged"] is False
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    # Root, for the root-owned 0640 log files and the kubelet-created state directory; no capability on top.
    assert security["runAsUser"] == spec["securityContext"]["runAsUser"] == 0
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(key), key


def test_the_agents_resources_fit_an_idle_agent_of_about_50_mb(objects: list[Obj]) -> None:
    resources = container(objects)["resources"]
    assert resources["requests"]["memory"] == "64Mi"
    assert resources["limits"]["memory"] == "128Mi"
    assert resources["requests"]["cpu"] == "20m"
    assert "cpu" not in resources["limits"]  # no throttling of the probes' timing


@pytest.mark.parametrize(
    "values",
    [
        AGENT,
        merged(AGENT, {"config": {"logs": {"selector": "app", "namespaces": ["petrosa-apps"]}}}),
        merged(AGENT, {"rbac": {"namespaces": ["petrosa-apps"], "logs": True, "diagnostics": True, "audit": True}}),
        merged(AGENT, {"rbac": {"logs": False, "diagnostics": False, "audit": False}}),
    ],
    ids=["defaults", "log-namespaces", "rbac-namespaces-and-every-toggle", "every-toggle-off"],
)
def test_the_agent_may_only_read_pods_cluster_wide(values: dict[str, Any]) -> None:
    """Pods of one node span every namespace: one ClusterRole, pods get/list/watch, and nothing else."""
    objects = render(values)
    assert granted(objects) == {CLUSTER: PODS_READ}
    assert pod_spec(objects)["automountServiceAccountToken"] is True


def test_rbac_create_false_grants_nothing_in_agent_mode() -> None:
    assert granted(render(merged(AGENT, {"rbac": {"create": False}}))) == {}


def test_the_pod_monitor_labels_every_series_with_the_agents_node(objects: list[Obj]) -> None:
    monitor = one(objects, "PodMonitor")["spec"]
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert endpoint["relabelings"][0] == {
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_pod_node_name"],
        "targetLabel": "node",
    }
    assert monitor["selector"]["matchLabels"].items() <= pod_template_labels(objects).items()


def pod_template_labels(objects: list[Obj]) -> dict[str, str]:
    labels: dict[str, str] = one(objects, "DaemonSet")["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_users_relabelings_come_after_the_node_label() -> None:
    own = {"action": "labeldrop", "regex": "pod"}
    objects = render(merged(AGENT, {"podMonitor": {"enabled": True, "relabelings": [own]}}))
    relabelings = one(objects, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["relabelings"]
    assert [rule.get("targetLabel") for rule in relabelings] == ["node", None]
    assert relabelings[1] == own


def test_the_deployments_pod_monitor_adds_no_node_label() -> None:
    objects = render({"podMonitor": {"enabled": True}})
    assert "relabelings" not in one(objects, "PodMonitor")["spec"]["podMetricsEndpoints"][0]


def test_agent_mode_renders_no_service_and_no_disruption_budget() -> None:
    objects = render(merged(AGENT, {"podDisruptionBudget": {"enabled": True}}))
    assert not of_kind(objects, "Service")
    assert not of_kind(objects, "PodDisruptionBudget")
    assert {obj["metadata"].get("namespace") for obj in objects} == {NAMESPACE, None}


def test_the_network_policy_selects_the_agents_and_lets_them_reach_the_api(objects: list[Obj]) -> None:
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == one(objects, "DaemonSet")["spec"]["selector"]
    egress_ports = [sorted({port["port"] for port in rule["ports"]}) for rule in policy["egress"]]
    assert egress_ports == [[4222], [53], [443, 6443]]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mode": "daemonset"}, "mode"),
        (merged(AGENT, {"serviceMonitor": {"enabled": True}}), "mode agent is scraped by podMonitor"),
        (
            merged(AGENT, {"sharding": {"enabled": True}, "config": {"logs": {"selector": "app"}}}),
            "turn sharding.enabled off",
        ),
        (merged(AGENT, {"agent": {"stateDir": "var/lib/nce"}}), "stateDir"),
    ],
    ids=["unknown-mode", "service-monitor", "sharding", "relative-state-dir"],
)
def test_contradictory_agent_values_fail_with_a_message(values: dict[str, Any], message: str) -> None:
    assert message in render_error(values)


@pytest.mark.parametrize("values", [AGENT, {"podMonitor": {"enabled": True}}], ids=["agent", "deployment"])
def test_monitors_keep_the_applications_namespace_label(values: dict[str, Any]) -> None:
    """The log families' `namespace` is the application's: without honorLabels Prometheus would rename it
    `exported_namespace` and write the exporter's own namespace there, and every dashboard and alert grouping by
    namespace would be wrong; the agent's per-node series would not add up to serve's."""
    objects = render(merged(values, {"podMonitor": {"enabled": True}}))
    assert one(objects, "PodMonitor")["spec"]["podMetricsEndpoints"][0]["honorLabels"] is True


def test_the_service_monitor_keeps_the_applications_namespace_label() -> None:
    objects = render({"serviceMonitor": {"enabled": True}})
    assert one(objects, "ServiceMonitor")["spec"]["endpoints"][0]["honorLabels"] is True
