"""kubelet log rotation: the API serves only the current log file; open follow streams may stall."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.fake_kube import FakeKube, LogKey

from .helpers import wait_for

LOG = "/api/v1/namespaces/shop/pods/web-1/log"


async def test_only_lines_after_the_rotation_are_served(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    container_id = kube.append_lines("shop", "web-1", ["one", "two"], timestamps=[10**18, 10**18 + 1])
    assert kube.rotate_logs("shop", "web-1") == 2
    kube.append_lines("shop", "web-1", ["three"])
    async with http.get(LOG, params={"sinceTime": "2001-01-01T00:00:00Z"}) as response:
        assert await response.read() == b"three\n"  # older than the rotation: only what is left
    async with http.get(LOG, params={"tailLines": "10"}) as response:
        assert await response.read() == b"three\n"
    written = kube.lines_written()[LogKey("shop", "web-1", "app", container_id)]
    assert [w.text for w in written] == [b"one", b"two", b"three"]  # the ground truth keeps them


async def test_an_open_follow_stream_continues_by_default(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    async with http.get(LOG, params={"follow": "1"}) as follow:
        await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
        kube.rotate_logs("shop", "web-1")
        kube.append_lines("shop", "web-1", ["after"])
        assert await asyncio.wait_for(follow.content.readline(), 5) == b"after\n"


async def test_an_open_follow_stream_may_stall_after_rotation(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    kube.add_pod("shop", "web-2")
    async with (
        http.get(LOG, params={"follow": "1"}) as stalled,
        http.get("/api/v1/namespaces/shop/pods/web-2/log", params={"follow": "1"}) as other,
    ):
        await wait_for(lambda: kube.open_streams("log") == 2, what="the follow streams to open")
        kube.rotate_logs("shop", "web-1", stall=True)
        kube.append_lines("shop", "web-1", ["lost to the stalled stream"])
        kube.append_lines("shop", "web-2", ["other pod unaffected"])
        assert await asyncio.wait_for(other.content.readline(), 5) == b"other pod unaffected\n"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stalled.content.readline(), 0.3)
        async with http.get(LOG) as fresh:
            assert await fresh.read() == b"lost to the stalled stream\n"
