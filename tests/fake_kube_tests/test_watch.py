"""Watch streams on the wire: chunked JSON lines, bookmarks, timeouts, 410 after compaction, cuts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.fake_kube import FakeKube

from .helpers import read_until_broken, wait_for

PODS = "/api/v1/namespaces/shop/pods"


async def _events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events = []
    for _ in range(count):
        line = await asyncio.wait_for(response.content.readline(), 5)
        assert line.endswith(b"\n"), line
        events.append(json.loads(line))
    return events


@pytest.mark.fake_kube(bookmark_interval=0.2)
async def test_chunked_json_lines_with_bookmarks(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    params = {"watch": "1", "allowWatchBookmarks": "true"}
    async with http.get(PODS, params=params) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert response.headers["Content-Type"] == "application/json"
        (added,) = await _events(response, 1)
        assert added["type"] == "ADDED"
        assert added["object"]["kind"] == "Pod"
        (bookmark,) = await _events(response, 1)  # this test's fake sends one every 0.2 s
    assert bookmark == {
        "type": "BOOKMARK",
        "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(kube.resource_version)}},
    }


async def test_timeout_seconds_ends_the_stream(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http.get(PODS, params={"watch": "true", "timeoutSeconds": "1"}) as response:
        assert await asyncio.wait_for(response.read(), 5) == b""
    assert 0.9 < loop.time() - started < 3


async def test_compacted_resource_version_gives_an_error_event(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    old = kube.resource_version
    kube.add_pod("shop", "web-2")
    async with http.get(PODS, params={"watch": "1", "resourceVersion": str(old)}) as response:
        (added,) = await _events(response, 1)
        assert added["object"]["metadata"]["name"] == "web-2"
    kube.compact()
    async with http.get(PODS, params={"watch": "1", "resourceVersion": str(old)}) as response:
        assert response.status == 200
        body = await asyncio.wait_for(response.read(), 5)
    error = json.loads(body)
    assert error["type"] == "ERROR"
    assert error["object"]["code"] == 410
    assert error["object"]["reason"] == "Expired"
    assert error["object"]["message"].startswith(f"too old resource version: {old} (")


async def test_send_initial_events_ends_with_a_marked_bookmark(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    kube.add_pod("shop", "web-2")
    params = {
        "watch": "1",
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    async with http.get(PODS, params=params) as response:
        events = await _events(response, 3)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_label_change_enters_and_leaves_a_selector_watch(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1", labels={"app": "other"})
    async with http.get("/api/v1/watch/namespaces/shop/pods", params={"labelSelector": "app=web"}) as response:
        await wait_for(lambda: kube.open_streams("watch") == 1, what="the watch to open")
        kube.set_labels("shop", "web-1", {"app": "web"})
        kube.set_labels("shop", "web-1", {"app": "web", "v": "2"})
        kube.set_labels("shop", "web-1", {})
        events = await _events(response, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    # DELETED carries the last matching content, at the resourceVersion of the change that unmatched it.
    assert events[2]["object"]["metadata"]["labels"] == {"app": "web", "v": "2"}
    assert events[2]["object"]["metadata"]["resourceVersion"] == str(kube.resource_version)


async def test_watch_cut_mid_event(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    async with http.get(PODS, params={"watch": "1"}) as response:
        await wait_for(lambda: kube.open_streams("watch") == 1, what="the watch to open")
        kube.cut_streams(kind="watch")
        kube.add_pod("shop", "web-1")
        received = await read_until_broken(response)
    assert received.startswith(b'{"type":"ADDED"')
    assert b"\n" not in received


async def test_table_watch_for_kubectl_get_w(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    async with http.get(PODS, params={"watch": "1"}, headers=headers) as response:
        (event,) = await _events(response, 1)
    table = event["object"]
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["rows"][0]["cells"][:3] == ["web-1", "1/1", "Running"]
