"""The Helm chart, rendered offline by Helm's own library with each value combination: lint, schemas, behaviour."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate  # type: ignore[import-untyped]  # no type hints: pyproject overrides are not ours to edit
import pytest

from exporter.cli import build_parser
from exporter.config import load_config
from tests.deploy.combinations import AGENTS, COMBINATIONS, ENVIRONMENTS, combination
from tests.deploy.support import (
    CHART,
    NAMESPACE,
    RELEASE,
    Obj,
    container,
    env_value,
    exporter_config,
    of_kind,
    one,
    render,
    render_error,
    walk,
    workload,
)

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
NAMES = sorted(COMBINATIONS)
SERVE_NAMES = sorted(
    set(COMBINATIONS) - AGENTS
)  # the agent's pod is locked down its own way: tests/deploy/test_agent.py
LOCKED_DOWN_POD = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
LOCKED_DOWN_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Obj]]:
    return {name: render(combination(name)) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_lint_strict(name: str) -> None:
    report = helm_python.lint(CHART, combination(name), strict=True, namespace=NAMESPACE, kube_version="v1.25.0")
    problems = [message for message in report["messages"] if message["severity"] >= 2]  # warnings and errors
    assert not problems, report
    assert not report["errors"], report


@pytest.mark.parametrize("name", NAMES)
def test_every_object_validates_against_the_kubernetes_schema(name: str, rendered: dict[str, list[Obj]]) -> None:
    builtin = [obj for obj in rendered[name] if obj["kind"] not in CUSTOM_KINDS]
    assert builtin
    for obj in builtin:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(
                    f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes {version}: {error.message}"
                )


@pytest.mark.parametrize("name", NAMES)
def test_custom_resources_are_well_formed(name: str, rendered: dict[str, list[Obj]]) -> None:
    """No schema for the Prometheus Operator's kinds here: their required fields, checked by hand."""
    objects = rendered[name]
    for obj in (obj for obj in objects if obj["kind"] in CUSTOM_KINDS):
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        assert obj["metadata"]["name"]
        assert obj["metadata"]["namespace"]
        spec = obj["spec"]
        if obj["kind"] == "PrometheusRule":
            assert spec["groups"]
            for group in spec["groups"]:
                assert group["name"]
                assert group["rules"]
                for rule in group["rules"]:
                    assert rule["expr"], rule
                    assert ("alert" in rule) != ("record" in rule), rule
            continue
        endpoints = spec["endpoints" if obj["kind"] == "ServiceMonitor" else "podMetricsEndpoints"]
        assert [endpoint["port"] for endpoint in endpoints] == ["http"]
        assert endpoints[0]["path"] == "/metrics"
        # The monitor finds the exporter: its selector matches the Service (or the pods), in their namespace.
        scraped = one(objects, "Service") if obj["kind"] == "ServiceMonitor" else workload(objects)["spec"]["template"]
        assert spec["selector"]["matchLabels"].items() <= scraped["metadata"]["labels"].items()
        assert spec["namespaceSelector"]["matchNames"] == [workload(objects)["metadata"]["namespace"]]
        # The job label the alerts expect (up{job=~".*nats-connectivity-exporter.*"}).
        assert "nats-connectivity-exporter" in scraped["metadata"]["labels"][spec["jobLabel"]]


@pytest.mark.parametrize("name", SERVE_NAMES)
def test_pod_runs_locked_down(name: str, rendered: dict[str, list[Obj]]) -> None:
    pod = workload(rendered[name])["spec"]["template"]["spec"]
    assert pod["securityContext"] == LOCKED_DOWN_POD
    assert container(rendered[name])["securityContext"] == LOCKED_DOWN_CONTAINER
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container(rendered[name])["volumeMounts"]}
    # The only writable paths are emptyDirs (/tmp and, in "secured", the user's own scratch volume).
    for path, mount in mounts.items():
        if not mount.get("readOnly"):
            assert "emptyDir" in volumes[mount["name"]], path
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert not any(isinstance(value, dict) and "hostPath" in value for value in walk(pod))
    assert pod["enableServiceLinks"] is False


@pytest.mark.parametrize("name", NAMES)
def test_the_exporter_accepts_the_rendered_config_and_flags(
    name: str, rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    """The real CLI parses the container's args, and the real loader reads the ConfigMap's file."""
    objects = rendered[name]
    config_path = tmp_path / "config.yaml"
    config_path.write_text(one_config_text(objects), encoding="utf-8")
    args = [re.sub(r"^--config=.*", f"--config={config_path}", arg) for arg in container(objects)["args"]]
    environ = {"POD_NAME": f"{workload(objects)['metadata']['name']}-1", "POD_NAMESPACE": NAMESPACE}
    environ |= {"NODE_NAME": "node-1"} if name in AGENTS else {}
    environ |= ENVIRONMENTS.get(name, {})
    parsed = build_parser().parse_args(args)
    assert parsed.command == ("agent" if name in AGENTS else "serve")
    config = load_config(parsed, environ)
    assert config.listen_address == ":10025"
    assert [target.name for target in config.targets] == [t["name"] for t in exporter_config(objects)["targets"]]
    if workload(objects)["kind"] == "StatefulSet":
        assert (config.logs.shard, config.logs.total_shards) == (1, workload(objects)["spec"]["replicas"])
    else:
        assert config.logs.total_shards == 1


def one_config_text(objects: list[Obj]) -> str:
    configmap = next(obj for obj in of_kind(objects, "ConfigMap") if "config.yaml" in obj.get("data", {}))
    text: str = configmap["data"]["config.yaml"]
    return text


def test_defaults_probe_the_guides_url_with_a_deployment(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["defaults"]
    assert workload(objects)["kind"] == "Deployment"
    assert workload(objects)["spec"]["replicas"] == 1
    assert exporter_config(objects)["targets"] == [
        {"name": "default", "url": "nats://nats-server.nats.svc.cluster.local:4222"}
    ]
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [{"name": "http", "port": 10025, "targetPort": "http", "protocol": "TCP"}]
    assert container(objects)["ports"] == [{"name": "http", "containerPort": 10025, "protocol": "TCP"}]
    assert container(objects)["image"] == "ghcr.io/petrosa/nats-connectivity-exporter:0.1.0"
    assert container(objects)["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http", "scheme": "HTTP"}
    assert container(objects)["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http", "scheme": "HTTP"}
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Service", "ServiceAccount"]


def test_petrosa_probes_the_url_of_the_applications_configmap(rendered: dict[str, list[Obj]], tmp_path: Path) -> None:
    """NATS_URL from petrosa-common-config replaces target `default`: even the guide's IP mistake is probed as is."""
    objects = rendered["petrosa"]
    assert container(objects)["envFrom"] == [{"configMapRef": {"name": "petrosa-common-config"}}]
    config_path = tmp_path / "config.yaml"
    config_path.write_text(one_config_text(objects), encoding="utf-8")
    args = [re.sub(r"^--config=.*", f"--config={config_path}", arg) for arg in container(objects)["args"]]
    ip_url = "nats://192.168.194.253:4222"
    config = load_config(build_parser().parse_args(args), {"NATS_URL": ip_url, "NATS_ENABLED": "true"})
    assert [(target.name, target.redacted_url) for target in config.targets] == [("default", ip_url)]
    assert config.logs.selector == "app"
    assert config.logs.namespaces == ("petrosa-apps",)
    assert workload(objects)["metadata"]["namespace"] == NAMESPACE  # the release's: install it in petrosa-apps


def test_sharded_mode_is_a_statefulset_that_passes_the_shard_count(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["sharded"]
    statefulset = workload(objects)
    assert statefulset["kind"] == "StatefulSet"
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["serviceName"] == one(objects, "Service")["metadata"]["name"]
    assert "--total-shards=3" in container(objects)["args"]
    assert not any(arg.startswith("--shard=") for arg in container(objects)["args"])  # the ordinal decides
    assert env_value(container(objects), "POD_NAME") == {"fieldRef": {"fieldPath": "metadata.name"}}
    budget = one(objects, "PodDisruptionBudget")
    assert budget["spec"] == {
        "maxUnavailable": 1,
        "selector": statefulset["spec"]["selector"],
    }


def test_every_shard_takes_its_own_ordinal(rendered: dict[str, list[Obj]], tmp_path: Path) -> None:
    objects = rendered["sharded"]
    config_path = tmp_path / "config.yaml"
    config_path.write_text(one_config_text(objects), encoding="utf-8")
    args = [re.sub(r"^--config=.*", f"--config={config_path}", arg) for arg in container(objects)["args"]]
    name = workload(objects)["metadata"]["name"]
    shards = {
        load_config(build_parser().parse_args(args), {"POD_NAME": f"{name}-{ordinal}"}).logs.shard
        for ordinal in range(3)
    }
    assert shards == {0, 1, 2}


def test_secured_mounts_the_web_config_and_probes_without_credentials(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["secured"]
    spec = container(objects)
    assert "--web.config.file=/etc/nats-connectivity-exporter/web/web.yml" in spec["args"]
    assert spec["args"][-1] == "--log.level=debug"
    assert spec["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert "httpGet" not in spec["livenessProbe"]
    assert spec["readinessProbe"]["tcpSocket"] == {"port": "http"}
    volumes = {volume["name"]: volume for volume in workload(objects)["spec"]["template"]["spec"]["volumes"]}
    assert volumes["web-config"]["secret"]["secretName"] == "exporter-web"
    assert volumes["nats-creds"]["secret"] == {"secretName": "nats-monitor-creds", "defaultMode": 0o440}
    assert {"name": "nats-creds", "mountPath": "/var/run/secrets/nats", "readOnly": True} in spec["volumeMounts"]
    assert spec["image"] == "ghcr.io/petrosa/nats-connectivity-exporter@sha256:" + "a" * 64
    monitor = one(objects, "ServiceMonitor")["spec"]["endpoints"][0]
    assert monitor["scheme"] == "https"
    assert monitor["basicAuth"]["username"]["name"] == "scrape-auth"
    assert {obj["metadata"].get("namespace") for obj in objects} == {"nats-monitoring", None}


def test_offline_mounts_no_token_and_grants_nothing(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["offline"]
    assert workload(objects)["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert workload(objects)["spec"]["template"]["spec"]["serviceAccountName"] == "default"
    assert not [obj for obj in objects if obj["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")]
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    egress_ports = [[port["port"] for port in rule["ports"]] for rule in policy["egress"]]
    assert egress_ports == [[4222], [53, 53]]  # NATS and DNS; no API server without a Kubernetes feature


def test_network_policy_lets_in_prometheus_and_out_nats_dns_and_the_api(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["petrosa"]
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["podSelector"] == workload(objects)["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [
        {
            "ports": [{"port": "http", "protocol": "TCP"}],
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                }
            ],
        }
    ]
    nats, dns, api = policy["egress"]
    assert nats == {
        "ports": [{"port": 4222, "protocol": "TCP"}],
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nats"}}}],
    }
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert api == {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}
    sharded_api = one(rendered["sharded"], "NetworkPolicy")["spec"]["egress"][2]
    assert sharded_api == {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}]}


def test_a_config_change_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        annotations = workload(render(values))["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["checksum/config"])

    assert checksum({}) == checksum({})
    assert checksum({}) != checksum({"config": {"probe": {"interval": "30s"}}})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sharding": {"enabled": True}}, "set config.logs.selector"),
        ({"config": {"logs": {"selector": "app"}}, "replicas": 2}, "use sharding.enabled"),
        ({"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}, "both would scrape"),
        (
            {"config": {"logs": {"selector": "app"}}, "rbac": {"namespaces": ["a"]}},
            "config.logs.namespaces is empty",
        ),
        (
            {"config": {"logs": {"selector": "app", "namespaces": ["a", "b"]}}, "rbac": {"namespaces": ["a"]}},
            "config.logs.namespaces has b, which rbac.namespaces leaves out",
        ),
        ({"replica": 2}, "additional properties 'replica' not allowed"),
        ({"config": {"target": [{"url": "nats://nats:4222"}]}}, "additional properties 'target' not allowed"),
        ({"rbac": {"clusterwide": True}}, "additional properties 'clusterwide' not allowed"),
    ],
    ids=[
        "sharding-without-logs",
        "replicas-with-logs",
        "two-monitors",
        "rbac-narrower-than-logs",
        "log-ns-missing",
        "misspelt-top-level-key",
        "misspelt-config-key",
        "misspelt-rbac-key",
    ],
)
def test_contradictory_values_fail_with_a_message(values: dict[str, Any], message: str) -> None:
    assert message in render_error(values)


def test_release_and_namespace_names_everything(rendered: dict[str, list[Obj]]) -> None:
    for obj in rendered["defaults"]:
        assert obj["metadata"]["name"] == RELEASE + "-nats-connectivity-exporter"
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if not obj["kind"].startswith("Cluster"):
            assert obj["metadata"]["namespace"] == NAMESPACE
