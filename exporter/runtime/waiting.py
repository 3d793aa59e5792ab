"""Sleeping that wakes early: every loop in the exporter waits with these, so shutdown is never delayed."""

from __future__ import annotations

import asyncio


async def wait_or_stop(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`, waking early when `stopping` is set; True if it was set."""
    if stopping.is_set():
        return True
    if seconds <= 0:
        return False
    try:
        async with asyncio.timeout(seconds):
            await stopping.wait()
    except TimeoutError:
        return False
    return True


async def wait_any(events: tuple[asyncio.Event, ...], seconds: float) -> bool:
    """Sleep up to `seconds`, waking early when any of `events` is set; True if one was set."""
    if any(event.is_set() for event in events):
        return True
    if seconds <= 0:
        return False
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
