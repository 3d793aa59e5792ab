"""The chart's RBAC judged against what the code really asks the API for, not against a table.

The exporter follows pod logs (a stream cut on the way, so it also reads the pod) and runs its diagnostics against
the fake API server, and the cluster audit runs beside it; every request the server saw is then authorized the way
Kubernetes' RBAC authorizer would, against the rendered Roles and ClusterRoles: cluster-wide, every request is allowed
and every granted permission is used (nothing more than needed); namespaced, every request inside a namespace is
allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exporter.audit.cluster import audit_cluster
from exporter.demo.nats_server import free_port
from exporter.kube.client import KubeApi
from tests.conftest import ExporterFactory, value, wait_for
from tests.deploy.support import Obj, render
from tests.deploy.test_rbac import AUDIT, DIAGNOSTICS, LOGS, Permission
from tests.fake_kube import FakeKube
from tests.fake_kube.request_info import resolve

APPS, NATS = "petrosa-apps", "nats"
SELECTOR = "tier=app"


@dataclass(frozen=True)
class Request:
    group: str
    resource: str  # with its subresource: pods/log
    verb: str
    namespace: str  # "" for cluster-scoped requests

    @property
    def permission(self) -> Permission:
        return self.group, self.resource, self.verb

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " cluster-wide"
        return f"{self.verb} {self.resource}{'.' + self.group if self.group else ''}{where}"


def populate(kube: FakeKube, port: int) -> None:
    """The guide's setup: NATS behind a Service in `nats`, an application in petrosa-apps with its ConfigMap."""
    kube.add_namespace(APPS)
    kube.add_namespace(NATS)
    kube.add_object({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "nats-server", "namespace": NATS},
        "spec": {"selector": {"app": "nats"}, "ports": [{"name": "client", "port": 4222, "targetPort": port}]},
    })  # fmt: skip
    kube.add_object({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "nats-server-x", "namespace": NATS,
                     "labels": {"kubernetes.io/service-name": "nats-server"}},
        "addressType": "IPv4", "ports": [{"name": "client", "port": port, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True},
                       "targetRef": {"kind": "Pod", "name": "nats-0"}}],
    })  # fmt: skip
    kube.add_pod(NATS, "nats-0", labels={"app": "nats"})
    kube.add_pod(APPS, "extractor-0", labels={"app": "binance-data-extractor", "tier": "app"})
    kube.add_object({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "petrosa-common-config", "namespace": APPS},
        "data": {"NATS_URL": "nats://nats-server.nats.svc.cluster.local:4222", "NATS_ENABLED": "true"},
    })  # fmt: skip


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with FakeKube(bookmark_interval=0.2) as fake:
        yield fake


@pytest.fixture
async def requests(kube: FakeKube, start_exporter: ExporterFactory, tmp_path: Path) -> set[Request]:
    """Every API request of log following, diagnostics and the cluster audit, as RBAC sees it."""
    populate(kube, free_port())
    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig"))
    running = await start_exporter(
        "--nats-url", "nats://nats-server.nats.svc.cluster.local:4222", "--probe.interval", "1s",
        "--kubeconfig", kubeconfig, "--logs.selector", SELECTOR, "--logs.namespaces", APPS,
    )  # fmt: skip

    async def lines(expected: float) -> bool:
        samples = await running.samples()
        counted = value(samples, "nats_connectivity_log_lines_total", namespace=APPS, app="binance-data-extractor")
        return counted == expected

    await wait_for(lambda: kube.open_streams("log") > 0, message="a log stream to open")
    kube.append_lines(APPS, "extractor-0", ["Connected to NATS server"])
    await wait_for(lambda: lines(1), message="the first line to be counted")
    kube.cut_streams()  # the follower asks for the pod, to learn whether to resume
    kube.append_lines(APPS, "extractor-0", ["NATS connection lost"])
    await wait_for(lambda: lines(2), message="the line after the cut to be counted")
    diagnostics = running.exporter.state.diagnostics
    await wait_for(lambda: "default" in diagnostics.latest, timeout=20, message="one diagnosis")
    api = KubeApi(kubeconfig)
    try:
        await audit_cluster(api)
    finally:
        await api.close()
    seen = set()
    for record in kube.requests:
        info = resolve(record.method, record.path, record.query)
        if info.is_resource_request:
            resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
            seen.add(Request(info.group, resource, info.verb, info.namespace))
    return seen


def authorizer(objects: list[Obj]) -> Any:
    """RBAC's decision for one request, from rendered Roles, ClusterRoles and their bindings."""
    cluster_roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects if o["kind"] == "Role"}
    cluster_rules = [rule for o in objects if o["kind"] == "ClusterRoleBinding"
                     for rule in cluster_roles[o["roleRef"]["name"]]["rules"]]  # fmt: skip
    namespaced_rules = [(o["metadata"]["namespace"], rule) for o in objects if o["kind"] == "RoleBinding"
                        for rule in roles[(o["metadata"]["namespace"], o["roleRef"]["name"])]["rules"]]  # fmt: skip

    def matches(rule: Obj, request: Request) -> bool:
        return (request.group in rule["apiGroups"] and request.resource in rule["resources"]
                and request.verb in rule["verbs"])  # fmt: skip

    def allowed(request: Request) -> bool:
        if any(matches(rule, request) for rule in cluster_rules):
            return True
        return bool(request.namespace) and any(
            namespace == request.namespace and matches(rule, request) for namespace, rule in namespaced_rules
        )

    return allowed


ALL_FEATURES = {"rbac": {"logs": True, "diagnostics": True, "audit": True}, "config": {"logs": {"selector": SELECTOR}}}


async def test_cluster_wide_rules_allow_every_request_and_grant_nothing_unused(requests: set[Request]) -> None:
    allowed = authorizer(render(ALL_FEATURES))
    denied = sorted(str(request) for request in requests if not allowed(request))
    assert denied == [], "the code asks for more than the chart grants"
    used = {request.permission for request in requests}
    assert used == LOGS | DIAGNOSTICS | AUDIT, f"granted but never used: {(LOGS | DIAGNOSTICS | AUDIT) - used}"


async def test_namespaced_rules_allow_every_request_inside_the_namespaces(requests: set[Request]) -> None:
    values = {**ALL_FEATURES, "config": {"logs": {"selector": SELECTOR, "namespaces": [APPS]}}}
    allowed = authorizer(render(values))
    denied = {request for request in requests if not allowed(request)}
    assert {str(request) for request in denied if request.namespace} == set()
    # What remains reads across namespaces, which namespaced rules cannot grant (README: rbac.clusterWide).
    assert {request.verb for request in denied} <= {"list"}, sorted(map(str, denied))
