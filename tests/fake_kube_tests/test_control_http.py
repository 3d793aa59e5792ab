"""The control API over HTTP (/_control/<action>) for the faithful behaviours, as a benchmark in another process
drives them."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.fake_kube import FakeKube

LOG = "/api/v1/namespaces/shop/pods/web-1/log"


async def _call(http: aiohttp.ClientSession, action: str, body: object) -> Any:
    async with http.post(f"/_control/{action}", json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_faithful_behaviours_over_http(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    web1 = {"namespace": "shop", "pod": "web-1"}
    await _call(http, "pods", {"namespace": "shop", "name": "web-1", "logOffset": "+01:00"})
    stamps = ["2026-11-30T12:00:00.5Z", "2026-11-30T12:00:00.5Z"]
    first = (await _call(http, "logs", {**web1, "lines": ["a"], "timestamps": stamps[:1]}))["containerID"]
    await _call(http, "logs", {**web1, "lines": ["b"], "timestamps": stamps[1:], "stream": "stderr"})
    async with http.get(LOG, params={"timestamps": "1"}) as response:
        assert await response.read() == (
            b"2026-11-30T13:00:00.500000000+01:00 a\n2026-11-30T13:00:00.500000000+01:00 b\n"
        )
    assert await _call(http, "rotate", web1) == {"rotated": 2}
    await _call(http, "status-lag", {"seconds": 30})
    second = (await _call(http, "restart", {**web1, "statusLag": 0}))["containerID"]
    assert kube.pod("shop", "web-1")["status"]["containerStatuses"][0]["containerID"] == second
    assert (await _call(http, "crash", {**web1, "exitCode": 3}))["containerID"] == second
    assert kube.cluster.status_lag == 30
    await _call(http, "throttle", {"pattern": "/api/v1/namespaces/shop/pods", "count": 1, "retryAfter": 2})
    async with http.get("/api/v1/namespaces/shop/pods") as response:
        assert (response.status, response.headers["Retry-After"]) == (429, "2")
    await _call(http, "bookmarks", {"seconds": 0.5})
    assert kube.server.bookmark_interval == 0.5
    truth = await _call(http, "truth", {"lines": True})
    assert [(t["containerID"], t["lines"]) for t in truth] == [(first, 2), (second, 0)]
    assert truth[0]["written"] == [
        {"timestamp": "2026-11-30T13:00:00.500000000+01:00", "stream": "stdout", "text": "a"},
        {"timestamp": "2026-11-30T13:00:00.500000000+01:00", "stream": "stderr", "text": "b"},
    ]


async def test_graceful_delete_over_http(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    body = {"namespace": "shop", "name": "web-1", "gracePeriodSeconds": 30, "stopContainers": False}
    marked = await _call(http, "delete", body)
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    terminated = await _call(http, "terminate", {"namespace": "shop", "pod": "web-1", "exitCode": 143})
    assert terminated == {"containerIDs": [kube.container_id("shop", "web-1")]}
    state = kube.pod("shop", "web-1")["status"]["containerStatuses"][0]["state"]
    assert state["terminated"]["exitCode"] == 143
    await _call(http, "finish-deletion", {"namespace": "shop", "name": "web-1"})
    assert kube.get_object("v1", "Pod", "shop", "web-1") is None
