"""What the real watch cache does that a kind fake would not: bookmarks about once a minute, and a 504 ERROR event
for a resourceVersion the store has not reached (410 stays for compacted ones, see test_watch.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from kubernetes import client

from tests.fake_kube import FakeKube

from .helpers import wait_for
from .kube_client import Watch

PODS = "/api/v1/namespaces/shop/pods"


async def _event(response: aiohttp.ClientResponse, timeout: float = 5) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await asyncio.wait_for(response.content.readline(), timeout))
    return event


async def test_bookmarks_come_once_a_minute_by_default() -> None:
    async with FakeKube(tls=False) as kube:
        headers = {"Authorization": f"Bearer {kube.token}"}
        params = {"watch": "1", "allowWatchBookmarks": "true"}
        async with aiohttp.ClientSession(kube.url, headers=headers) as session:
            async with session.get(PODS, params=params) as quiet:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(quiet.content.readline(), 0.5)
            kube.set_bookmark_interval(0.1)  # watches started from now on
            async with session.get(PODS, params=params) as busy:
                bookmark = await _event(busy)
    assert bookmark["type"] == "BOOKMARK"


async def test_future_resource_version_is_a_504_error_event(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.server.too_large_wait = 0.2
    future = kube.resource_version + 100
    async with http.get(PODS, params={"watch": "1", "resourceVersion": str(future)}) as response:
        assert response.status == 200
        error = await _event(response)
        assert await asyncio.wait_for(response.content.read(), 5) == b""  # then the stream ends
    assert error["type"] == "ERROR"
    status = error["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 504, "Timeout")
    assert status["message"] == f"Too large resource version: {future}, current: {kube.resource_version}"
    assert status["details"]["causes"] == [
        {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
    ]


async def test_a_watch_waits_for_a_resource_version_the_store_reaches(
    kube: FakeKube, http: aiohttp.ClientSession
) -> None:
    kube.server.too_large_wait = 10
    kube.add_namespace("shop")
    future = kube.resource_version + 1

    async def first_event() -> dict[str, Any]:
        async with http.get(PODS, params={"watch": "1", "resourceVersion": str(future)}) as response:
            return await _event(response)

    task = asyncio.ensure_future(first_event())
    await wait_for(lambda: any(r.verb == "watch" for r in kube.requests), what="the watch request to arrive")
    kube.add_pod("shop", "web-1")  # takes `future`: the watch starts after it
    kube.add_pod("shop", "web-2")
    event = await asyncio.wait_for(task, 5)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "web-2")


async def test_official_client_raises_on_the_504(kube: FakeKube, core_v1: Any) -> None:
    kube.server.too_large_wait = 0.1
    future = str(kube.resource_version + 5)

    def watch() -> None:
        for _ in Watch().stream(core_v1.list_namespaced_pod, "shop", resource_version=future, timeout_seconds=5):
            pass

    with pytest.raises(client.ApiException) as caught:
        await asyncio.wait_for(asyncio.to_thread(watch), 10)
    assert caught.value.status == 504
    assert "Too large resource version" in str(caught.value.reason)
    await wait_for(lambda: kube.open_streams("watch") == 0, what="the watch to close")
