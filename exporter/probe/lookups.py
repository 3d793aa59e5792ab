"""Name lookups for one target, at most one in flight per name.

The system resolver blocks a thread, and a cancelled lookup keeps that thread until the resolver gives up (tens of
seconds when DNS does not answer). A probe that finds its target's previous lookup still running joins it instead
of starting another, so a target whose name hangs holds one thread however often it is probed, and the shared pool
stays free for the healthy targets.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

AddressInfo = list[tuple[Any, ...]]


class Lookups:
    """One per target (the scheduler keeps it across probes); a probe with none of its own gets a fresh one."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], asyncio.Future[AddressInfo]] = {}

    @property
    def in_flight(self) -> int:
        return sum(1 for future in self._pending.values() if not future.done())

    async def getaddrinfo(self, host: str, port: int) -> AddressInfo:
        try:  # an IP literal needs no resolver and no thread
            return list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST))
        except socket.gaierror:
            pass
        key = (host, port)
        pending = self._pending.get(key)
        if pending is None or pending.done():
            loop = asyncio.get_running_loop()
            pending = loop.run_in_executor(None, _lookup, host, port)
            pending.add_done_callback(_retrieve)
            self._pending[key] = pending
        return await asyncio.shield(pending)


def _lookup(host: str, port: int) -> AddressInfo:
    return list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def _retrieve(future: asyncio.Future[AddressInfo]) -> None:
    """A lookup whose probe gave up still ends in a result or an error; take it so asyncio does not warn."""
    if not future.cancelled():
        future.exception()
