"""`audit --cluster` against the fake API server: the same rules on live objects, and RBAC gaps as notes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exporter.audit import Rule, audit_cluster
from exporter.audit import cluster as cluster_module
from exporter.kube.client import KubeApi
from tests.fake_kube import FakeKube

from .support import Run, run


def configmap(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def service(namespace: str, name: str, cluster_ip: str) -> dict[str, Any]:
    spec = {"clusterIP": cluster_ip, "ports": [{"name": "client", "port": 4222}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def workload(kind: str, namespace: str, name: str, env: list[dict[str, Any]]) -> dict[str, Any]:
    api_version = "batch/v1" if kind == "CronJob" else "apps/v1"
    template = {"spec": {"containers": [{"name": "app", "image": "app:1", "env": env}]}}
    spec = (
        {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}}
        if kind == "CronJob"
        else {"template": template}
    )
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


FROM_CONFIGMAP = [
    {"name": "NATS_URL", "valueFrom": {"configMapKeyRef": {"name": "petrosa-common-config", "key": "NATS_URL"}}}
]


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    async with FakeKube() as fake:
        fake.add_object(service("nats", "nats-server", "10.96.0.42"))
        fake.add_object(configmap("petrosa-apps", "petrosa-common-config", {"NATS_URL": "nats://10.96.0.42:4222"}))
        fake.add_object(workload("Deployment", "petrosa-apps", "extractor", FROM_CONFIGMAP))
        fake.add_object(workload("StatefulSet", "petrosa-apps", "archiver", FROM_CONFIGMAP))
        fake.add_object(
            workload("DaemonSet", "petrosa-apps", "agent", [{"name": "NATS_URL", "value": "nats://nats-server:4222"}])
        )
        fake.add_object(
            workload("CronJob", "nats", "backup", [{"name": "NATS_URL", "value": "nats://nats-server.nats.svc:4222"}])
        )
        yield fake


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[KubeApi]:
    client = KubeApi(str(kubeconfig), environ={})
    yield client
    await client.close()


async def run_in_thread(*argv: str) -> Run:
    """`run_audit` calls asyncio.run itself; the fake serves from this test's loop meanwhile."""
    return await asyncio.to_thread(run, *argv)


async def test_live_objects_are_audited_with_their_api_paths(api: KubeApi) -> None:
    result = await audit_cluster(api)
    assert result.services_known
    assert result.objects == 6
    cronjob = "/apis/batch/v1/namespaces/nats/cronjobs/backup"
    daemonset = "/apis/apps/v1/namespaces/petrosa-apps/daemonsets/agent"
    env = "spec.template.spec.containers[0].env[0].value"
    assert [(f.rule, str(f.object), str(f.source)) for f in result.findings] == [
        (Rule.HARDCODED_IN_WORKLOAD, "CronJob nats/backup", f"{cronjob} spec.jobTemplate.{env}"),
        (
            Rule.IP_ADDRESS,
            "ConfigMap petrosa-apps/petrosa-common-config",
            "/api/v1/namespaces/petrosa-apps/configmaps/petrosa-common-config data.NATS_URL",
        ),
        (Rule.HARDCODED_IN_WORKLOAD, "DaemonSet petrosa-apps/agent", f"{daemonset} {env}"),
        (Rule.SHORT_NAME_CROSS_NAMESPACE, "DaemonSet petrosa-apps/agent", f"{daemonset} {env}"),
    ]
    assert result.findings[1].fix == "use the Service name: nats://nats-server.nats.svc.cluster.local:4222"
    refs = sorted((e.kind, e.service) for e in result.inventory if e.origin == "configmap_ref")
    assert refs == [("Deployment", ""), ("StatefulSet", "")]  # they take the IP from the ConfigMap


async def test_forbidden_configmaps_are_a_note_and_the_rest_is_still_audited(kube: FakeKube, kubeconfig: Path) -> None:
    kube.forbid("configmaps")
    result = await run_in_thread("--cluster", "--kubeconfig", str(kubeconfig), "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["notes"] == [
        "cannot list configmaps (403 Forbidden): grant `list` on `configmaps` in the core API group cluster-wide "
        "(a ClusterRole); the NATS URLs in ConfigMaps were not audited"
    ]
    assert sorted({f["rule"] for f in document["findings"]}) == ["hardcoded_in_workload", "short_name_cross_namespace"]


async def test_forbidden_services_skip_the_rules_that_need_them(kube: FakeKube, api: KubeApi) -> None:
    kube.forbid("services")
    result = await audit_cluster(api)
    assert not result.services_known
    assert {f.rule for f in result.findings} == {Rule.IP_ADDRESS, Rule.HARDCODED_IN_WORKLOAD}
    assert result.notes == (
        "cannot list services (403 Forbidden): grant `list` on `services` in the core API group cluster-wide "
        "(a ClusterRole); unknown_service and short_name_cross_namespace were not checked",
    )


async def test_forbidden_workloads_name_their_api_group(kube: FakeKube, api: KubeApi) -> None:
    kube.forbid("cronjobs")
    result = await audit_cluster(api)
    assert result.notes == (
        'cannot list cronjobs (403 Forbidden): grant `list` on `cronjobs` in API group "batch" cluster-wide '
        "(a ClusterRole); CronJobs were not audited",
    )


async def test_nothing_readable_is_a_usage_error(kube: FakeKube, kubeconfig: Path) -> None:
    kube.forbid("*")
    result = await run_in_thread("--cluster", "--kubeconfig", str(kubeconfig))
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("nats-connectivity-exporter audit: cannot read the cluster: list configmaps: 403: ")


async def test_text_report_groups_live_objects_by_namespace(kubeconfig: Path) -> None:
    result = await run_in_thread("--cluster", "--kubeconfig", str(kubeconfig))
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[:3] == [
        "namespace nats",
        "  CronJob nats/backup",
        "    spec.jobTemplate.spec.template.spec.containers[0].env[0].value: warning hardcoded_in_workload: "
        "container app env NATS_URL=nats://nats-server.nats.svc:4222",
    ]
    assert "namespace petrosa-apps" in lines


async def test_large_lists_are_read_in_pages(kube: FakeKube, api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "PAGE_SIZE", 2)
    for index in range(5):
        kube.add_object(configmap("paged", f"cm-{index}", {"NATS_URL": "nats://nats-server.nats:4222"}))
    result = await audit_cluster(api)
    assert len([e for e in result.inventory if e.namespace == "paged"]) == 5
    pages = [r for r in kube.requests if r.resource == "configmaps"]
    assert [r.query.get("limit") for r in pages] == ["2"] * 3  # 6 ConfigMaps
    assert sum("continue" in r.query for r in pages) == 2
