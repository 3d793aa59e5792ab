"""exporter/runtime/supervisor.py: a crashing worker restarts with backoff, and never takes another one down."""

from __future__ import annotations

import asyncio

import pytest

from exporter.runtime import supervisor as supervisor_module
from exporter.runtime.backoff import Backoff
from exporter.runtime.supervisor import Supervisor
from tests.conftest import wait_for


@pytest.fixture(autouse=True)
def quick_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "RESTART_BACKOFF", Backoff(initial=0.01, maximum=0.05))


async def test_a_crashing_worker_is_restarted_and_the_others_keep_running() -> None:
    crashes = 0
    ticks = 0

    async def crashing() -> None:
        nonlocal crashes
        crashes += 1
        raise RuntimeError("boom")

    async def steady() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async with Supervisor() as supervisor:
        supervisor.start("crashing", crashing)
        supervisor.start("steady", steady)
        await wait_for(lambda: crashes >= 3, message="three restarts of the crashing worker")
        before = ticks
        await wait_for(lambda: ticks > before, message="the steady worker to keep ticking")
        assert supervisor.running("steady")
        assert supervisor.running("crashing")


async def test_a_finished_worker_leaves_and_its_name_can_be_used_again() -> None:
    done = asyncio.Event()

    async def once() -> None:
        done.set()

    async with Supervisor() as supervisor:
        supervisor.start("once", once)
        await asyncio.wait_for(done.wait(), timeout=5)
        await wait_for(lambda: not supervisor.running("once"), message="the finished worker to leave")
        supervisor.start("once", once)  # no "already running"


async def test_stop_cancels_one_worker_and_close_gives_the_rest_their_grace() -> None:
    cancelled: list[str] = []
    stopping = asyncio.Event()

    started = asyncio.Event()

    async def forever(name: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.append(name)

    async def polite() -> None:
        await stopping.wait()  # finishes on its own once told: close() must not need to cancel it

    async with Supervisor() as supervisor:
        supervisor.start("a", lambda: forever("a"))
        supervisor.start("polite", polite)
        await asyncio.wait_for(started.wait(), timeout=5)
        await supervisor.stop("a")
        assert cancelled == ["a"]
        assert not supervisor.running("a")
        stopping.set()
        await supervisor.close(grace=5.0)
    assert cancelled == ["a"]


async def test_a_name_in_use_is_refused() -> None:
    async def idle() -> None:
        await asyncio.Event().wait()

    async with Supervisor() as supervisor:
        supervisor.start("worker", idle)
        with pytest.raises(ValueError, match="already running"):
            supervisor.start("worker", idle)
