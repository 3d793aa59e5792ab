"""Container restarts as a real cluster shows them: the API's pod status lags kubelet, and CrashLoopBackOff."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_kube import ApiError, FakeKube, LogKey

from .helpers import kubectl, wait_for

LOG = "/api/v1/namespaces/shop/pods/web-1/log"
PODS = "/api/v1/namespaces/shop/pods"


def _status(kube: FakeKube) -> dict[str, Any]:
    (status,) = kube.pod("shop", "web-1")["status"]["containerStatuses"]
    return dict(status)


async def test_status_lags_while_kubelet_serves_the_new_instance(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    old = kube.append_lines("shop", "web-1", ["old 1"])
    watch_params = {"watch": "1", "resourceVersion": str(kube.resource_version)}
    async with http.get(PODS, params=watch_params) as watch, http.get(LOG, params={"follow": "true"}) as follow:
        assert await follow.content.readline() == b"old 1\n"
        new = kube.restart_container("shop", "web-1", status_lag=30)
        assert await asyncio.wait_for(follow.content.read(), 5) == b""  # the old instance's stream ends at once
        kube.append_lines("shop", "web-1", ["new 1"])
        # The API still shows the old instance as running...
        status = _status(kube)
        assert (status["containerID"], status["restartCount"], list(status["state"])) == (old, 0, ["running"])
        # ...while a follow request by container name is served the new one, as kubelet does.
        async with http.get(LOG, params={"follow": "true"}) as reopened:
            assert await reopened.content.readline() == b"new 1\n"
        kube.restart_container("shop", "web-1", status_lag=0)  # a later status publishes everything kubelet knows
        status = _status(kube)
        assert status["restartCount"] == 2
        assert status["lastState"]["terminated"]["containerID"] == new
        (event,) = [json.loads(await asyncio.wait_for(watch.content.readline(), 5))]
        assert event["type"] == "MODIFIED"  # one status update covering both restarts
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", new)
    assert new != old


async def test_status_follows_after_the_lag(kube: FakeKube) -> None:
    kube.add_pod("shop", "web-1")
    old = kube.container_id("shop", "web-1")
    kube.set_status_lag(0.3)
    new = kube.restart_container("shop", "web-1", exit_code=137)
    assert _status(kube)["containerID"] == old
    await wait_for(lambda: _status(kube)["containerID"] == new, what="the status to catch up")
    status = _status(kube)
    assert status["restartCount"] == 1
    assert status["lastState"]["terminated"]["containerID"] == old
    assert status["lastState"]["terminated"]["exitCode"] == 137


async def test_crash_loop_back_off(kube: FakeKube, http: aiohttp.ClientSession, core_v1: Any, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1")
    first = kube.append_lines("shop", "web-1", ["first run"])
    second = kube.restart_container("shop", "web-1")
    kube.append_lines("shop", "web-1", ["Connected", "NATS connection lost"])
    async with http.get(LOG, params={"follow": "true"}) as follow:
        assert await follow.content.readline() == b"Connected\n"
        assert kube.crash_container("shop", "web-1", exit_code=2) == second
        assert await asyncio.wait_for(follow.read(), 5) == b"NATS connection lost\n"
    pod = await asyncio.to_thread(core_v1.read_namespaced_pod, "web-1", "shop")
    (status,) = pod.status.container_statuses
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.state.running is None
    assert status.last_state.terminated.exit_code == 2
    assert status.last_state.terminated.container_id == second
    assert (status.ready, status.restart_count) == (False, 1)
    # Both a plain and a previous request are served the crashed instance (kubelet's lastState.terminated).
    for params in ({"follow": "true"}, {"previous": "true"}):
        async with http.get(LOG, params=params) as response:
            assert await asyncio.wait_for(response.read(), 5) == b"Connected\nNATS connection lost\n"
    with pytest.raises(ApiError, match="not running"):
        kube.append_lines("shop", "web-1", ["nobody writes while backing off"])
    result = await kubectl(kubeconfig, "get", "pod", "web-1")
    assert result.stdout.splitlines()[1].split()[2] == "CrashLoopBackOff", result.stdout + result.stderr
    third = kube.restart_container("shop", "web-1")
    status_dict = _status(kube)
    assert (status_dict["containerID"], status_dict["restartCount"]) == (third, 2)
    assert "running" in status_dict["state"]
    assert status_dict["lastState"]["terminated"]["containerID"] == second
    async with http.get(LOG, params={"previous": "true"}) as response:
        assert await response.read() == b"Connected\nNATS connection lost\n"
    assert kube.lines_appended() == {
        LogKey("shop", "web-1", "app", first): 1,
        LogKey("shop", "web-1", "app", second): 2,
        LogKey("shop", "web-1", "app", third): 0,
    }


async def test_crashing_a_container_that_does_not_run_is_a_conflict(kube: FakeKube) -> None:
    kube.add_pod("shop", "web-1")
    kube.crash_container("shop", "web-1")
    with pytest.raises(ApiError, match="not running"):
        kube.crash_container("shop", "web-1")
