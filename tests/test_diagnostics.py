"""The troubleshooting guide as code, against the fake API server and real nats-server pods on 127.0.0.x.

The Service has two NATS pods; one of them is stopped: the Service looks healthy, the per-endpoint probe shows
the bad replica. The guide's own NetworkPolicy blocks DNS and (without the `name: nats` namespace label) NATS.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from exporter.config.diagnostics import DiagnosticsSettings
from exporter.demo.nats_server import NatsServer, free_port
from exporter.diagnostics.checks import CheckResult, CheckState
from exporter.diagnostics.runner import Diagnosis, Incidents, diagnose, diagnose_forever
from exporter.kube.client import KubeApi
from exporter.probe.result import Phase, ProbeResult, Reason
from exporter.probe.status import StatusBoard
from exporter.web.page import render
from tests.conftest import ExporterFactory, config_from_args, value, wait_for
from tests.fake_kube import FakeKube
from tests.guide import guide_example
from tests.kube_objects import endpoint_slice, nats_service

SERVICE = "nats-server"
GUIDE_POLICY = guide_example("networkpolicy-allow-nats")


class Cluster:
    def __init__(self, kube: FakeKube, port: int, servers: list[NatsServer], kubeconfig: Path) -> None:
        self.kube, self.port, self.servers, self.kubeconfig = kube, port, servers, kubeconfig

    @property
    def url(self) -> str:
        return f"nats://{SERVICE}.nats.svc.cluster.local:{self.port}"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    port = free_port()
    servers = [NatsServer(host="127.0.0.2", port=port), NatsServer(host="127.0.0.3", port=port)]
    for server in servers:
        await server.start()
    await servers[1].stop()  # nats-1 is broken; the Service does not know it yet
    async with FakeKube(bookmark_interval=0.2) as kube:
        kube.add_object(nats_service(SERVICE, "nats", port))
        kube.add_object(endpoint_slice(SERVICE, "nats", port, {"nats-0": "127.0.0.2", "nats-1": "127.0.0.3"}))
        kube.add_pod("nats", "nats-0", labels={"app": "nats"})
        kube.add_pod("petrosa-apps", "extractor-0", labels={"app": "binance-data-extractor", "tier": "app"})
        yield Cluster(kube, port, servers, kube.write_kubeconfig(tmp_path / "kubeconfig"))
    for server in servers:
        await server.close()


async def run_diagnosis(cluster: Cluster, *args: str) -> dict[str, Any]:
    config = config_from_args("--nats-url", cluster.url, "--kubeconfig", str(cluster.kubeconfig), *args)
    api = KubeApi(str(cluster.kubeconfig))
    try:
        diagnosis = await diagnose(config.targets[0], config.diagnostics, api)
    finally:
        await api.close()
    return {result.name: result for result in diagnosis.results} | {"_diagnosis": diagnosis}


async def test_one_bad_replica_behind_a_healthy_service_is_visible(cluster: Cluster) -> None:
    results = await run_diagnosis(cluster)

    assert results["service_exists"].state is CheckState.PASS
    assert results["endpoints_ready"].state is CheckState.PASS
    assert "nats-0, nats-1" in results["endpoints_ready"].evidence[0]
    assert results["endpoint_probe"].state is CheckState.FAIL
    assert "nats-1" in results["endpoint_probe"].summary
    assert "nats-0" not in results["endpoint_probe"].summary
    probes = {probe.pod: probe.result for probe in results["_diagnosis"].endpoints}
    assert probes["nats-0"].ok
    assert str(probes["nats-1"].reason) == "connection_refused"


async def test_the_guides_network_policy_blocks_dns_and_needs_the_namespace_label(cluster: Cluster) -> None:
    cluster.kube.add_object(GUIDE_POLICY)
    results = await run_diagnosis(cluster, "--diagnostics.app-selector", "tier=app")

    verdict = results["network_policy"]
    assert verdict.state is CheckState.FAIL
    evidence = " ".join(verdict.evidence)
    assert "petrosa-apps/allow-nats" in evidence
    assert "53" in evidence  # DNS egress is blocked: the guide's policy has no rule for it


async def test_no_policies_allow_everything(cluster: Cluster) -> None:
    results = await run_diagnosis(cluster, "--diagnostics.app-selector", "tier=app")
    assert results["network_policy"].state is CheckState.PASS


async def test_missing_rbac_is_unknown_not_failed(cluster: Cluster) -> None:
    cluster.kube.forbid("endpointslices")
    results = await run_diagnosis(cluster)

    assert results["endpoints_ready"].state is CheckState.UNKNOWN
    assert "endpointslices" in results["endpoints_ready"].fix
    assert results["service_exists"].state is CheckState.PASS  # the others go on


async def test_missing_service_fails_with_the_fix(cluster: Cluster) -> None:
    cluster.kube.delete_object("v1", "Service", "nats", SERVICE)
    results = await run_diagnosis(cluster)
    assert results["service_exists"].state is CheckState.FAIL
    assert "kubectl get svc" in results["service_exists"].fix


async def test_exporter_exposes_diagnostics_as_metrics(
    cluster: Cluster, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("diagnostics: {interval: 1s}\n")
    running = await start_exporter(
        "--nats-url", cluster.url, "--kubeconfig", str(cluster.kubeconfig), "--config", str(config)
    )
    samples = await wait_for(
        running.metric_is("nats_connectivity_endpoint_probe_success", 0, target="default", pod="nats-1"),
        message="the bad replica's metric",
    )
    assert value(samples, "nats_connectivity_endpoint_probe_success", target="default", pod="nats-0") == 1
    assert (value(samples, "nats_connectivity_endpoint_rtt_seconds", target="default", pod="nats-0") or 0) > 0
    assert value(samples, "nats_connectivity_service_endpoints", target="default", state="ready") == 2
    assert value(samples, "nats_connectivity_check_success", target="default", check="service_exists") == 1
    assert value(samples, "nats_connectivity_check_success", target="default", check="endpoint_probe") == 0
    _, _, page = await running.get("/")
    assert '<span class="badge down">endpoint_probe</span>' in page
    assert "fix: look at those pods" in page

    await cluster.servers[1].start()  # the replica comes back
    await wait_for(
        running.metric_is("nats_connectivity_endpoint_probe_success", 1, target="default", pod="nats-1"),
        message="the replica's recovery",
    )


async def test_check_command_report_and_exit_codes(cluster: Cluster) -> None:
    async def check(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "exporter", "check", "--nats-url", cluster.url,
            "--kubeconfig", str(cluster.kubeconfig), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={key: val for key, val in os.environ.items() if not key.startswith("NATS_")},
        )  # fmt: skip
        out, _ = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode()

    code, text = await check()
    assert code == 1
    assert "[PASS] 1. The NATS Service exists" in text
    assert "[FAIL] 5. Each NATS pod answers on its own" in text
    assert "fix:" in text

    code, document = await check("--output", "json")
    assert code == 1
    report = json.loads(document)
    states = {entry["name"]: entry["state"] for entry in report["targets"][0]["checks"]}
    assert states["endpoint_probe"] == "fail"
    assert states["service_exists"] == "pass"


async def test_exporter_audits_the_cluster_configuration(
    cluster: Cluster, start_exporter: ExporterFactory, tmp_path: Path
) -> None:
    cluster.kube.add_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "petrosa-common-config", "namespace": "petrosa-apps"},
            "data": {"NATS_URL": "nats://192.168.194.253:4222", "NATS_ENABLED": "true"},
        }
    )
    config = tmp_path / "c.yaml"
    config.write_text("diagnostics: {interval: 1s}\n")
    running = await start_exporter(
        "--nats-url", cluster.url, "--kubeconfig", str(cluster.kubeconfig), "--config", str(config)
    )
    samples = await wait_for(
        running.metric_is("nats_connectivity_config_violations", 1, namespace="petrosa-apps", rule="ip_address"),
        message="the IP-address URL flagged",
    )
    info = [dict(labels) for name, labels in samples if name == "nats_connectivity_config_url_info"]
    assert {"namespace": "petrosa-apps", "kind": "ConfigMap", "name": "petrosa-common-config", "key": "NATS_URL",
            "host_kind": "ip", "service": ""} in info  # fmt: skip
    assert value(samples, "nats_connectivity_config_violations", namespace="petrosa-apps", rule="unknown_service") == 0


async def test_audit_command_reads_stdin_like_kubectl_kustomize_pipes_it() -> None:
    manifest = b"""apiVersion: v1
kind: ConfigMap
metadata: {name: petrosa-common-config, namespace: petrosa-apps}
data:
  NATS_URL: "nats://app:s3cret@192.168.194.253:4222"
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine, namespace: petrosa-apps}
data:
  NATS_URL: "nats://nats-server.nats.svc.cluster.local:4222"
"""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exporter", "audit", "-", "--format", "github",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(manifest)
    assert process.returncode == 1, err.decode()
    text = out.decode()
    assert "::error title=ip_address::<stdin>:5:" in text
    assert "s3cret" not in text + err.decode()


async def test_nats_checks_reuse_the_probes_latest_result(nats_server: NatsServer) -> None:
    """The server answers, but the exporter's own probe just failed: the checks tell the probe's story, not a
    second probe's (with their own probe they would pass here)."""
    target = config_from_args("--nats-url", nats_server.url).targets[0]
    latest = ProbeResult(
        target=target.name,
        started_at=0.0,
        duration=0.001,
        phases={Phase.DNS: 0.0001},
        reason=Reason.CONNECTION_REFUSED,
        failed_phase=Phase.TCP,
    )

    reused = await diagnose(target, DiagnosticsSettings(), None, latest=latest)
    own = await diagnose(target, DiagnosticsSettings(), None)

    states = {result.name: result.state for result in reused.results}
    assert states["tcp_connect"] is CheckState.FAIL
    assert {result.name: result.state for result in own.results}["tcp_connect"] is CheckState.PASS


def test_incidents_are_rate_limited_per_target() -> None:
    now = [100.0]
    incidents = Incidents(min_gap=10.0, clock=lambda: now[0])

    incidents.changed("a")
    assert incidents.arrived.is_set()
    assert incidents.take_due() == ["a"]
    incidents.diagnosed("a")
    incidents.changed("a")
    incidents.changed("b")
    assert incidents.take_due() == ["b"]  # a was diagnosed just now: it waits
    assert incidents.next_due_in() == 10.0
    now[0] += 10.0
    assert incidents.take_due() == ["a"]
    assert not incidents.arrived.is_set()
    assert incidents.next_due_in() == float("inf")


async def test_a_target_that_changes_state_is_diagnosed_at_once(nats_server: NatsServer) -> None:
    target = config_from_args("--nats-url", nats_server.url).targets[0]
    settings = DiagnosticsSettings(interval=3600.0)
    diagnoses: list[Any] = []
    incidents, stopping = Incidents(min_gap=0.0), asyncio.Event()
    worker = asyncio.create_task(
        diagnose_forever([target], settings, None, diagnoses.append, stopping, incidents=incidents)
    )
    try:
        await wait_for(lambda: len(diagnoses) == 1, message="the first round")
        incidents.changed(target.name)  # long before the next round, an hour away
        await wait_for(lambda: len(diagnoses) == 2, message="the incident's diagnosis")
    finally:
        stopping.set()
        await asyncio.wait_for(worker, timeout=10)


def test_the_page_never_says_all_passed_for_a_target_that_is_down() -> None:
    target = config_from_args("--nats-url", "nats://nats:4222").targets[0]
    board = StatusBoard([target])
    passed = Diagnosis(target.name, 0.0, (CheckResult("tcp_connect", CheckState.PASS, "fine"),))
    board.record(ProbeResult(target.name, 0.0, 0.001, {}, Reason.TIMEOUT, failed_phase=Phase.CONNECT))

    down_page = render(board, version="test", diagnoses=[passed])
    board.record(ProbeResult(target.name, 1.0, 0.001, {Phase.DNS: 0.001}))
    up_page = render(board, version="test", diagnoses=[passed])

    assert "every diagnostic check that could run passed" not in down_page
    assert "the probe fails (timeout) and no diagnostic check has found why yet" in down_page
    assert "every diagnostic check that could run passed" in up_page
