"""`check` runs the cluster probes and the servers' view once when the configuration enables them: the sections
"each server / each route / JetStream" and "application pods not connected", in text and JSON, and the exit code.

`check` is run as a user runs it (a subprocess of `python -m exporter check`), against real NATS servers and the
fake API server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.conftest import (
    PROBE_PASSWORD,
    PROBE_USER,
    close_cluster,
    start_cluster,
    wait_until_jetstream_ready,
)
from tests.fake_kube import FakeKube
from tests.fake_kube.objects import make_pod
from tests.servers.cluster import AppPod, nats_cluster, pod_ip, start_app_pod

pytestmark = pytest.mark.slow

NS = "shop"


async def check(*args: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    env = {key: val for key, val in os.environ.items() if not key.startswith("NATS_")} | (environ or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exporter", "check", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None, err.decode()
    return process.returncode, out.decode()


def section(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in report["sections"] if s["name"] == name]
    assert len(found) == 1, [s["name"] for s in report["sections"]]
    return found[0]


async def test_check_reports_each_server_route_and_jetstream(tmp_path: Path) -> None:
    cluster = await start_cluster(3, jetstream=True)
    try:
        await wait_until_jetstream_ready(cluster)  # `check` probes once: JetStream must have its meta leader
        config = tmp_path / "config.yaml"
        target = {
            "name": "main",
            "url": [f"nats://{server.host}:{server.port}" for server in cluster.servers],
            "credentials": {"user": PROBE_USER, "password_env": "PROBE_PASSWORD"},
            "cluster": {"enabled": True, "monitor_port": cluster.monitor_port},
            "jetstream": {"enabled": True, "replicas": 1},
        }
        config.write_text(yaml.safe_dump({"targets": [target]}))
        environ = {"PROBE_PASSWORD": PROBE_PASSWORD}

        code, text = await check("--config", str(config), environ=environ)
        assert "Each server, each route, JetStream (target main)" in text
        for name in cluster.names:
            assert f"server {name} (" in text
        assert "route n1 -> n2: success" in text
        assert "JetStream: ok" in text
        assert "=> nothing to fix" in text

        code, document = await check("--config", str(config), "--output", "json", environ=environ)
        report = json.loads(document)
        found = section(report, "cluster")
        assert found["ok"] is True
        assert found["target"] == "main"
        assert {s["server"] for s in found["servers"] if s["ok"]} == set(cluster.names)
        assert len(found["routes"]) == 6
        assert all(r["result"] == "success" for r in found["routes"])
        assert found["jetstream"]["ok"] is True
        assert code == (0 if all(t["ok"] for t in report["targets"]) else 1)

        await cluster.stop(2)
        code, text = await check("--config", str(config), environ=environ)
        assert code == 1
        stopped = f"{cluster.servers[2].host}:{cluster.servers[2].port}"
        assert f"server {stopped}: down" in text  # a first look never saw its name
        assert "=> needs attention" in text
    finally:
        await close_cluster(cluster)


async def test_check_lists_the_application_pods_not_connected(kube: FakeKube, tmp_path: Path) -> None:
    pods: list[AppPod] = []
    async with nats_cluster() as cluster:
        try:
            for index in range(2):
                kube.add_object(
                    make_pod(NS, f"orders-{index}", labels={"tier": "app", "app": "orders"}, pod_ip=pod_ip(index))
                )
            pods.append(await start_app_pod(cluster, "orders-0", pod_ip(0)))  # orders-1 never connects
            kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
            args = (
                "--nats-url", cluster.url(0), "--kubeconfig", str(kubeconfig),
                "--apps.selector", "tier=app", "--apps.namespaces", NS, "--apps.grace", "1ms",
            )  # fmt: skip

            code, text = await check(*args)
            assert code == 1
            assert "Application pods not connected (as the NATS servers see them)" in text
            assert "app shop/orders: 1 of 2 pods connected" in text
            assert f"pod shop/orders-1 ({pod_ip(1)}): not_connected" in text
            assert "pod shop/orders-0" not in text
            assert "3 server(s) answered" in text

            code, document = await check(*args, "--output", "json")
            assert code == 1
            found = section(json.loads(document), "application_pods")
            assert found["ok"] is False
            assert [pod["pod"] for pod in found["not_connected"]] == ["orders-1"]
            assert {pod["pod"]: pod["verdict"] for pod in found["pods"]} == {
                "orders-0": "connected",
                "orders-1": "not_connected",
            }
        finally:
            for pod in pods:
                await pod.close()


async def test_check_without_the_features_has_no_sections(tmp_path: Path) -> None:
    code, document = await check("--nats-url", "nats://127.0.0.1:1", "--output", "json")
    assert json.loads(document)["sections"] == []
    assert code == 1  # nothing listens there: the diagnostics fail, as before
