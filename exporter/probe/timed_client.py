"""A nats-py client that reports when its TCP connection is up and when each PONG arrives.

The probe hands nats-py the resolved addresses, so nats-py opens the one connection that is measured; these two
timestamps split that connection into the `tcp` and `connect` phases, and time PING/PONG where the bytes are read
rather than when a waiting coroutine happens to be scheduled again.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client


class TimedClient(Client):
    """`Client` plus two timestamps; the overridden hooks call nats-py's own and add only a clock read."""

    def __init__(self) -> None:
        super().__init__()
        self.on_tcp: Callable[[], None] | None = None
        self.tcp_done_at = 0.0
        self._pong_at = 0.0

    async def _connect_to_server(self, s: Any) -> None:
        await super()._connect_to_server(s)
        self.tcp_done_at = time.perf_counter()
        if self.on_tcp is not None:
            self.on_tcp()

    async def _process_pong(self) -> None:
        self._pong_at = time.perf_counter()
        await super()._process_pong()

    async def best_rtt(self, rounds: int, *, timeout: float) -> float:
        """The shortest of `rounds` PING/PONG round trips: the network's time, least disturbed by the loop's own work.

        The clock starts as PING is written to the socket and stops as the read loop parses PONG.
        """
        loop = asyncio.get_running_loop()
        best = math.inf
        for _ in range(rounds):
            future: asyncio.Future[bool] = loop.create_future()
            sent = time.perf_counter()
            await self._send_ping(future)
            await asyncio.wait_for(future, timeout)
            best = min(best, self._pong_at - sent)
        return best
