"""Many followers, many lines: every stream gets exactly its own container's lines (a small-scale rehearsal)."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fake_kube import FakeKube

from .helpers import wait_for

PODS = 50


async def _follow(http: aiohttp.ClientSession, pod: str) -> list[bytes]:
    async with http.get(f"/api/v1/namespaces/load/pods/{pod}/log", params={"follow": "true"}) as response:
        return (await response.read()).splitlines()


async def test_generator_feeds_every_follower(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    for i in range(PODS):
        kube.add_pod("load", f"app-{i}", labels={"app": "load"})
    followers = [asyncio.ensure_future(_follow(http, f"app-{i}")) for i in range(PODS)]
    await wait_for(lambda: kube.open_streams("log") == PODS, what="every follow stream to open")
    generator = kube.start_log_generator(
        ["Connected to NATS server {n} {pod}"], lines_per_second=20, namespace="load", label_selector="app=load"
    )
    await wait_for(lambda: generator.emitted >= 10, what="ten lines per container")
    generator.stop()
    await generator.wait()
    for i in range(PODS):
        kube.restart_container("load", f"app-{i}")  # ends each follow stream
    received = await asyncio.wait_for(asyncio.gather(*followers), 10)
    truth = {key.pod: count for key, count in kube.lines_appended().items() if count}
    for i, lines in enumerate(received):
        assert len(lines) == truth[f"app-{i}"] >= 10
        assert lines[0] == f"Connected to NATS server 0 app-{i}".encode()
