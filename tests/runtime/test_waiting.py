"""exporter/runtime/waiting.py: sleeps that end early when told, so shutdown never waits for an interval."""

from __future__ import annotations

import asyncio

from exporter.runtime.waiting import wait_any, wait_or_stop


async def test_wait_or_stop_returns_true_as_soon_as_stopping_is_set() -> None:
    stopping = asyncio.Event()
    waiter = asyncio.create_task(wait_or_stop(stopping, 3600))
    await asyncio.sleep(0)
    stopping.set()
    assert await asyncio.wait_for(waiter, timeout=5) is True


async def test_wait_or_stop_returns_false_when_the_time_is_up() -> None:
    assert await wait_or_stop(asyncio.Event(), 0.01) is False
    assert await wait_or_stop(asyncio.Event(), 0) is False


async def test_wait_any_wakes_for_whichever_event_is_set_and_leaves_no_waiters() -> None:
    first, second = asyncio.Event(), asyncio.Event()
    waiter = asyncio.create_task(wait_any((first, second), 3600))
    await asyncio.sleep(0)
    second.set()
    assert await asyncio.wait_for(waiter, timeout=5) is True
    assert await wait_any((asyncio.Event(),), 0.01) is False
    await asyncio.sleep(0)  # the cancelled waiters of the calls above finish
    before = len(asyncio.all_tasks())
    await wait_any((asyncio.Event(), asyncio.Event()), 0.01)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
