"""Graceful pod deletion: Terminating with deletionTimestamp, containers terminated for good, logs served until the
grace period ends, then DELETED and 404."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client

from tests.fake_kube import FakeKube

from .helpers import kubectl, wait_for

LOG = "/api/v1/namespaces/shop/pods/web-1/log"
PODS = "/api/v1/namespaces/shop/pods"


async def _event(response: aiohttp.ClientResponse, timeout: float = 5) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(response.content.readline(), timeout))
    return event


async def test_terminating_then_deleted(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    container_id = kube.append_lines("shop", "web-1", ["Connected"])
    watch_params = {"watch": "1", "resourceVersion": str(kube.resource_version)}
    async with http.get(PODS, params=watch_params) as watch, http.get(LOG, params={"follow": "1"}) as follow:
        assert await follow.content.readline() == b"Connected\n"
        kube.delete_pod("shop", "web-1", grace_period=1, stop_containers=False)
        marked = await _event(watch)
        assert marked["type"] == "MODIFIED"
        assert marked["object"]["metadata"]["deletionTimestamp"]
        assert marked["object"]["metadata"]["deletionGracePeriodSeconds"] == 1
        assert "running" in marked["object"]["status"]["containerStatuses"][0]["state"]
        kube.append_lines("shop", "web-1", ["NATS connection lost"])  # the app's shutdown, after SIGTERM
        assert kube.terminate_containers("shop", "web-1") == [container_id]
        assert await asyncio.wait_for(follow.read(), 5) == b"NATS connection lost\n"  # follow ends
        stopped = await _event(watch)
        (status,) = stopped["object"]["status"]["containerStatuses"]
        assert status["state"]["terminated"]["containerID"] == container_id
        assert status["state"]["terminated"]["exitCode"] == 0
        assert status["lastState"] == {}
        # During the grace period the logs are still served, the earlier lines included.
        async with http.get(LOG, params={"follow": "1"}) as response:
            assert await asyncio.wait_for(response.read(), 5) == b"Connected\nNATS connection lost\n"
        deleted = await _event(watch)
        assert deleted["type"] == "DELETED"
    async with http.get(LOG) as response:
        assert response.status == 404


async def test_http_delete_with_a_grace_period_and_kubectl_shows_terminating(
    kube: FakeKube, core_v1: Any, kubeconfig: Path
) -> None:
    kube.add_pod("shop", "web-1")
    kube.append_lines("shop", "web-1", ["bye"])
    await asyncio.to_thread(core_v1.delete_namespaced_pod, "web-1", "shop", grace_period_seconds=30)
    pod = kube.pod("shop", "web-1")
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    assert "terminated" in pod["status"]["containerStatuses"][0]["state"]
    result = await kubectl(kubeconfig, "get", "pod", "web-1")
    assert result.stdout.splitlines()[1].split()[2] == "Terminating", result.stdout + result.stderr
    assert await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop") == "bye\n"
    kube.finish_deletion("shop", "web-1")
    with pytest.raises(client.ApiException) as caught:
        await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop")
    assert caught.value.status == 404


async def test_graceful_deletion_switch_uses_the_pods_grace_period() -> None:
    async with FakeKube(tls=False, graceful_deletion=True) as kube:
        kube.add_pod("shop", "web-1")
        headers = {"Authorization": f"Bearer {kube.token}"}
        async with aiohttp.ClientSession(kube.url, headers=headers) as session:
            async with session.delete(f"{PODS}/web-1") as response:
                assert response.status == 200
            assert kube.pod("shop", "web-1")["metadata"]["deletionGracePeriodSeconds"] == 30
            async with session.delete(f"{PODS}/web-1", params={"gracePeriodSeconds": "0"}) as response:
                assert response.status == 200
            assert kube.get_object("v1", "Pod", "shop", "web-1") is None


async def test_plain_http_delete_is_immediate_by_default(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    async with http.delete(f"{PODS}/web-1") as response:
        assert response.status == 200
    assert kube.get_object("v1", "Pod", "shop", "web-1") is None


async def test_a_restarted_container_keeps_its_last_state_when_terminated(kube: FakeKube) -> None:
    kube.add_pod("shop", "web-1")
    first = kube.container_id("shop", "web-1")
    second = kube.restart_container("shop", "web-1")
    kube.delete_pod("shop", "web-1", grace_period=5)
    await wait_for(
        lambda: "terminated" in kube.pod("shop", "web-1")["status"]["containerStatuses"][0]["state"],
        what="the container to terminate",
    )
    (status,) = kube.pod("shop", "web-1")["status"]["containerStatuses"]
    assert status["state"]["terminated"]["containerID"] == second
    assert status["lastState"]["terminated"]["containerID"] == first
