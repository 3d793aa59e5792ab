"""RTT accuracy: the probe's `rtt` through a TCP proxy that adds a known delay, against that delay.

Goal: at 20 ms added round-trip delay, median reported `rtt` minus 20 ms minus the proxy's own overhead (the median
at 0 ms added) is within 1 ms. Points at 0, 5 and 20 ms alternate in rounds so the machine's noise falls on all.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

from exporter.cli import build_parser
from exporter.config import Target, load_config
from exporter.probe.phases import run_probe
from exporter.probe.result import Phase

from ._support import HOST, TimeBudget, median, ms, nats_server, print_figure, print_stats

ADDED_RTT = (0.0, 0.005, 0.020)  # seconds added per round trip; each direction gets half
GOAL_AT = 0.020
GOAL = 0.001
ROUNDS = 4
PROBES_PER_POINT = 30  # per round: 120 probes per point in all
BUDGET = 45.0  # seconds for the measured rounds; fewer rounds run if the machine is slow
FINE_WAIT = 0.0015  # the last stretch of a delay is slept precisely (see `_sleep_until`)
READ_SIZE = 65536
START_TIMEOUT = 5.0


def _sleep_until(due: float) -> None:
    """Sleep the last stretch of a delay with the OS's precise sleep, blocking only the proxy's own loop.

    asyncio's timers wake through epoll, whose timeout is rounded up to whole milliseconds: that alone would make
    the proxy late by ~0.5 ms per direction on average, which this benchmark would then blame on the exporter.
    `time.sleep` (clock_nanosleep) wakes within tens of microseconds and releases the GIL meanwhile.
    """
    remaining = due - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


class DelayProxy:
    """Forwards each chunk at its arrival time plus `one_way` seconds, in order, in both directions.

    Each direction has a queue of (due time, chunk): the reader stamps and enqueues at once, and the writer waits
    only for the head's remaining time, so delays overlap and throughput is not capped by them.
    It runs its own event loop in its own thread, like a network element apart from the exporter's loop.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.one_way = 0.0
        self.port = 0
        self.connections = 0
        self.lateness: dict[float, list[float]] = defaultdict(list)  # by nominal one-way delay: actual - nominal
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)
        self._failure: BaseException | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[DelayProxy]:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._failure is not None:
            raise RuntimeError(f"delay proxy did not start: {self._failure!r}")
        try:
            yield self
        finally:
            if self._loop is not None and self._stop is not None:
                self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(START_TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            raise

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._relay(reader, writer)
            finally:
                handlers.discard(task)

        server = await asyncio.start_server(on_client, HOST, 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            if handlers:  # the last connections' ends of stream may still be on their way
                _, late = await asyncio.wait(handlers, timeout=1.0)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.upstream_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer))
        finally:
            client_writer.close()
            upstream_writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, float, bytes]] = asyncio.Queue()
        forwarder = asyncio.create_task(self._forward(queue, writer))
        try:
            while True:
                try:
                    chunk = await reader.read(READ_SIZE)
                except OSError:
                    chunk = b""
                one_way = self.one_way
                queue.put_nowait((time.monotonic() + one_way, one_way, chunk))  # b"": end of stream, delayed too
                if not chunk:
                    break
            await forwarder
        finally:
            forwarder.cancel()

    async def _forward(self, queue: asyncio.Queue[tuple[float, float, bytes]], writer: asyncio.StreamWriter) -> None:
        while True:
            due, one_way, chunk = await queue.get()
            coarse = due - time.monotonic() - FINE_WAIT
            if coarse > 0:
                await asyncio.sleep(coarse)
            _sleep_until(due)
            if not chunk:
                writer.close()
                return
            if one_way > 0:
                self.lateness[one_way].append(time.monotonic() - due)
            writer.write(chunk)


def _target(url: str) -> Target:
    return load_config(build_parser().parse_args(["serve", "--nats-url", url]), {}).targets[0]


async def _rtts(target: Target, count: int) -> list[float]:
    samples: list[float] = []
    for _ in range(count):
        result = await run_probe(target)
        if not result.ok:
            raise RuntimeError(f"probe failed: {result.reason} {result.detail}")
        samples.append(result.phases[Phase.RTT])
    return samples


async def measure(direct: Target, proxied: Target, proxy: DelayProxy) -> None:
    samples: dict[float | None, list[float]] = defaultdict(list)  # None: straight to nats-server
    await _rtts(proxied, 5)  # warm-up
    budget = TimeBudget(BUDGET)
    for done in range(ROUNDS):
        if budget.exhausted:
            print(f"  (time budget of {budget.seconds:g}s spent: stopped after {done} of {ROUNDS} rounds)")
            break
        samples[None] += await _rtts(direct, PROBES_PER_POINT)
        for added in ADDED_RTT:
            proxy.one_way = added / 2
            samples[added] += await _rtts(proxied, PROBES_PER_POINT)
    proxy.one_way = 0.0

    print("reported rtt:")
    print_stats("direct to nats-server", samples[None])
    for added in ADDED_RTT:
        print_stats(f"through proxy, {added * 1e3:g} ms added", samples[added])
    lateness = [late for values in proxy.lateness.values() for late in values]
    if lateness:
        print_stats("proxy's own lateness per chunk", lateness)
    overhead = median(samples[0.0])
    print(f"result (overhead = median through the proxy at 0 ms added = {ms(overhead)}):")
    for added in ADDED_RTT[1:]:
        reported = median(samples[added])
        print_figure(f"{added * 1e3:g} ms: median - added", ms(reported - added))
        error = reported - added - overhead
        goal = f"|x| <= {ms(GOAL)}" if added == GOAL_AT else ""
        met = abs(error) <= GOAL if added == GOAL_AT else None
        print_figure(f"{added * 1e3:g} ms: median - added - overhead", ms(error), goal, met)
        late = proxy.lateness.get(added / 2)
        if late:  # what is left is the exporter's own error: the proxy was late on the PING and on the PONG
            print_figure(f"{added * 1e3:g} ms: ... - proxy lateness x2", ms(error - 2 * median(late)))


def main() -> None:
    with nats_server() as server, DelayProxy(server.port).running() as proxy:
        asyncio.run(measure(_target(server.url), _target(f"nats://{HOST}:{proxy.port}"), proxy))
        print(f"  (the proxy relayed {proxy.connections} connections)")
