"""Probe overhead: the exporter's `rtt` phase against raw PING/PONG loops on the same nats-server.

Goal: median probe `rtt` / median PING/PONG of a blocking raw socket <= 1.5 (the network and the server, nothing of
an event loop); an asyncio-streams loop is printed beside it. The sides alternate in rounds, so the noise of this
2-core machine falls on all alike. The server may send its own PING at any time: every loop answers it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import defaultdict

from exporter.cli import build_parser
from exporter.config import Target, load_config
from exporter.probe.phases import run_probe
from exporter.probe.result import Phase

from ._support import HOST, TimeBudget, median, ms, nats_server, print_figure, print_stats

ROUNDS = 10
PROBES_PER_ROUND = 100  # 1,000 probes in all
PINGS_PER_ROUND = 500  # 5,000 raw round trips in all, per floor
GOAL = 1.5
PING, PONG = b"PING\r\n", b"PONG\r\n"
CONNECT = b'CONNECT {"verbose":false,"pedantic":false}\r\n' + PING
IO_TIMEOUT = 5.0
BUDGET = 30.0  # seconds for the measured rounds; fewer rounds run if the machine is slow


class RawAsyncClient:
    """The floor: PING/PONG over bare asyncio streams in the same event loop as the probe.

    This is the fair floor for the exporter, which is an asyncio program: both sides pay the same loop wake-up and
    transport costs, so the ratio shows only what nats-py and the probe add on top of the protocol exchange.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawAsyncClient:
        async with asyncio.timeout(IO_TIMEOUT):
            reader, writer = await asyncio.open_connection(HOST, port)
            info = await reader.readline()
            if not info.startswith(b"INFO "):
                raise RuntimeError(f"expected INFO, got {info[:40]!r}")
            writer.write(CONNECT)
            await reader.readuntil(PONG)
        return cls(reader, writer)

    async def ping_pongs(self, count: int) -> list[float]:
        samples: list[float] = []
        async with asyncio.timeout(IO_TIMEOUT + count * 0.01):
            for _ in range(count):
                started = time.perf_counter()
                self._writer.write(PING)
                line = await self._reader.readline()
                while line == PING:  # the server's own keep-alive: answer it and read on
                    self._writer.write(PONG)
                    line = await self._reader.readline()
                samples.append(time.perf_counter() - started)
                if line != PONG:
                    raise RuntimeError(f"expected PONG, got {line[:40]!r}")
        return samples

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


def blocking_ping_pongs(port: int, count: int) -> list[float]:
    """The kernel-and-server floor (blocking socket, no event loop): the goal's base."""
    with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = sock.makefile("rb")
        if not stream.readline().startswith(b"INFO "):
            raise RuntimeError("expected INFO")
        sock.sendall(CONNECT)
        while (line := stream.readline()) != PONG:
            if line == PING:
                sock.sendall(PONG)
            elif not line:
                raise RuntimeError("the server closed the connection")
        samples: list[float] = []
        for _ in range(count):
            started = time.perf_counter()
            sock.sendall(PING)
            line = stream.readline()
            while line == PING:  # the server's own keep-alive: answer it and read on
                sock.sendall(PONG)
                line = stream.readline()
            samples.append(time.perf_counter() - started)
            if line != PONG:
                raise RuntimeError(f"expected PONG, got {line[:40]!r}")
        return samples


async def measure(target: Target, port: int) -> None:
    raw = await RawAsyncClient.open(port)
    raw_samples: list[float] = []
    blocking_samples: list[float] = []
    phases: dict[Phase, list[float]] = defaultdict(list)
    durations: list[float] = []
    budget = TimeBudget(BUDGET)
    try:
        await raw.ping_pongs(50)  # warm-up of both sides, not counted
        for _ in range(5):
            await run_probe(target)
        for done in range(ROUNDS):
            if budget.exhausted:
                print(f"  (time budget of {budget.seconds:g}s spent: stopped after {done} of {ROUNDS} rounds)")
                break
            for _ in range(PROBES_PER_ROUND):
                result = await run_probe(target)
                if not result.ok:
                    raise RuntimeError(f"probe failed: {result.reason} {result.detail}")
                durations.append(result.duration)
                for phase, seconds in result.phases.items():
                    phases[phase].append(seconds)
            raw_samples += await raw.ping_pongs(PINGS_PER_ROUND)
            blocking_samples += await asyncio.to_thread(blocking_ping_pongs, port, PINGS_PER_ROUND)
    finally:
        await raw.close()

    print("exporter probe phases:")
    for phase in Phase:
        print_stats(f"phase {phase}", phases[phase])
    print_stats("whole probe", durations)
    print("floors:")
    print_stats("raw PING/PONG, asyncio streams", raw_samples)
    print_stats("raw PING/PONG, blocking socket", blocking_samples)
    ratio = median(phases[Phase.RTT]) / median(blocking_samples)
    print("result:")
    print_figure("rtt / raw blocking (medians)", f"{ratio:.2f}x", f"<= {GOAL}", ratio <= GOAL)
    print_figure("rtt / raw asyncio (medians)", f"{median(phases[Phase.RTT]) / median(raw_samples):.2f}x")
    print_figure("rtt - raw asyncio (medians)", ms(median(phases[Phase.RTT]) - median(raw_samples)))


def main() -> None:
    with nats_server() as server:
        config = load_config(build_parser().parse_args(["serve", "--nats-url", server.url]), {})
        asyncio.run(measure(config.targets[0], server.port))
