"""The real kubectl against the fake, with a kubeconfig the fake wrote (HTTPS, CA data, bearer token)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fake_kube import FakeKube

from .helpers import KUBECTL, kubectl, kubectl_env


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


async def test_get_pods_in_all_namespaces(kube: FakeKube, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1", labels={"app": "web"})
    kube.add_pod("nats", "nats-0", labels={"app": "nats"})
    kube.restart_container("nats", "nats-0")
    result = await kubectl(kubeconfig, "get", "pods", "-A")
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    assert rows[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1][:4] == ["nats", "nats-0", "1/1", "Running"]
    assert rows[1][4] == "1"
    assert rows[2][:5] == ["shop", "web-1", "1/1", "Running", "0"]


async def test_get_pods_by_label_in_the_context_namespace(kube: FakeKube, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1", labels={"app": "web"})
    kube.add_pod("shop", "db-1", labels={"app": "db"})
    kube.add_pod("other", "web-2", labels={"app": "web"})
    result = await kubectl(kubeconfig, "get", "pods", "-l", "app=web", "-o", "name")
    assert (result.returncode, result.stdout) == (0, "pod/web-1\n"), result.stderr
    result = await kubectl(kubeconfig, "get", "pods", "-n", "other", "-l", "app in (web)", "-o", "wide")
    assert _rows(result.stdout)[1][0] == "web-2"
    assert "node-1" in result.stdout


async def test_get_the_diagnostics_resources(kube: FakeKube, kubeconfig: Path) -> None:
    kube.add_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "nats-server", "namespace": "shop"},
            "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 4222, "protocol": "TCP"}]},
        }
    )
    kube.add_object(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "nats-server-x1", "namespace": "shop"},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"]}],
            "ports": [{"port": 4222}],
        }
    )
    kube.add_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "shop"}})
    kube.add_object({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}})
    kube.add_object(
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "shop"}}
    )
    result = await kubectl(kubeconfig, "get", "svc,endpointslices,configmaps,deployments,networkpolicies")
    assert result.returncode == 0, result.stderr
    for name in (
        "service/nats-server",
        "endpointslice.discovery.k8s.io/nats-server-x1",
        "configmap/cfg",
        "deployment.apps/web",
        "networkpolicy.networking.k8s.io/np",
    ):
        assert name in result.stdout
    assert "4222/TCP" in result.stdout
    assert "10.244.1.5" in result.stdout


async def test_logs(kube: FakeKube, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1")
    kube.append_lines("shop", "web-1", ["Connected to NATS server", "NATS connection lost"])
    result = await kubectl(kubeconfig, "logs", "web-1", "-n", "shop")
    assert (result.returncode, result.stdout) == (0, "Connected to NATS server\nNATS connection lost\n")
    result = await kubectl(kubeconfig, "logs", "web-1", "--tail=1", "--timestamps")
    assert result.stdout.endswith("Z NATS connection lost\n")


async def test_logs_follow_exits_when_the_container_restarts(kube: FakeKube, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1")
    kube.append_lines("shop", "web-1", ["one"])
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "logs",
        "-f",
        "web-1",
        "-n",
        "shop",
        env=kubectl_env(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        async with asyncio.timeout(20):
            assert await process.stdout.readline() == b"one\n"
            kube.append_lines("shop", "web-1", ["two"])
            assert await process.stdout.readline() == b"two\n"
            kube.restart_container("shop", "web-1")
            assert await process.stdout.read() == b""
            assert await process.wait() == 0, await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_errors_as_kubectl_reports_them(kube: FakeKube, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1")
    kube.forbid("pods/log")
    result = await kubectl(kubeconfig, "logs", "web-1")
    assert result.returncode == 1
    assert 'Error from server (Forbidden): pods "web-1" is forbidden' in result.stderr
    result = await kubectl(kubeconfig, "get", "pod", "nope")
    assert 'Error from server (NotFound): pods "nope" not found' in result.stderr
    kube.rotate_token()
    result = await kubectl(kubeconfig, "get", "pods")
    assert "Unauthorized" in result.stderr
    assert result.returncode == 1


async def test_auth_can_i_follows_the_forbid_rules(kube: FakeKube, kubeconfig: Path) -> None:
    result = await kubectl(kubeconfig, "auth", "can-i", "get", "pods", "--subresource=log")
    assert (result.returncode, result.stdout) == (0, "yes\n"), result.stderr
    kube.forbid("pods/log", "get", namespace="shop")
    result = await kubectl(kubeconfig, "auth", "can-i", "get", "pods", "--subresource=log")
    assert (result.returncode, result.stdout.strip()) == (1, "no")
    result = await kubectl(kubeconfig, "auth", "can-i", "get", "pods", "--subresource=log", "-n", "other")
    assert result.stdout == "yes\n"
