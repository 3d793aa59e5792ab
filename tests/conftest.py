"""Shared fixtures: real nats-server processes, a real exporter serving real HTTP, and polling helpers."""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import Exporter
from exporter.cli import build_parser
from exporter.config import Config, load_config
from exporter.demo.nats_server import NatsServer
from tests.fake_kube import FakeKube

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def wait_for(predicate: Callable[[], Any], *, timeout: float = 10.0, message: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy; fail naming what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(0.05)


def parse_samples(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def config_from_args(*args: str, environ: dict[str, str] | None = None) -> Config:
    parsed = build_parser().parse_args(["serve", *args])
    return load_config(parsed, environ or {})


@dataclass
class RunningExporter:
    exporter: Exporter
    base_url: str
    http: aiohttp.ClientSession

    async def get(self, path: str, **headers: str) -> tuple[int, str, str]:
        return await self.request("GET", path, **headers)

    async def request(self, method: str, path: str, **headers: str) -> tuple[int, str, str]:
        async with self.http.request(method, self.base_url + path, headers=headers) as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()

    async def samples(self) -> Samples:
        status, _, text = await self.get("/metrics")
        assert status == 200
        return parse_samples(text)

    async def metric(self, name: str, **labels: str) -> float | None:
        return value(await self.samples(), name, **labels)

    def metric_is(
        self, name: str, expected: float, *, op: str = "==", **labels: str
    ) -> Callable[[], Awaitable[Samples | None]]:
        """A poll for `wait_for`: the samples once `name{labels}` compares to `expected`, else None."""

        async def check() -> Samples | None:
            samples = await self.samples()
            found = value(samples, name, **labels)
            if found is None:
                return None
            matched = found >= expected if op == ">=" else found == expected
            return samples if matched else None

        return check


ExporterFactory = Callable[..., Awaitable[RunningExporter]]


@pytest.fixture
async def nats_server() -> AsyncIterator[NatsServer]:
    server = NatsServer()
    await server.start()
    yield server
    await server.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fake_kube(**options): FakeKube options for the kube fixture, e.g. log_offset='+01:00'"
    )


@pytest.fixture
async def kube(request: pytest.FixtureRequest) -> AsyncIterator[FakeKube]:
    """The fake Kubernetes API server (tests/fake_kube), started on HTTPS in the test's loop.

    As faithful as its defaults (bookmarks once a minute); `@pytest.mark.fake_kube(bookmark_interval=0.2,
    log_offset="+01:00", status_lag=1.0, graceful_deletion=True, ...)` passes other FakeKube options.
    """
    marker = request.node.get_closest_marker("fake_kube")
    fake = FakeKube(**(marker.kwargs if marker is not None else {}))
    await fake.start()
    yield fake
    await fake.stop()


class Exporters:
    """Exporters running in the test's loop, each on a free port; `close()` stops them all (the fixtures' end)."""

    def __init__(self) -> None:
        self._running: list[tuple[Exporter, asyncio.Task[None]]] = []
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def run(self, exporter: Exporter) -> RunningExporter:
        task = asyncio.create_task(exporter.run())
        self._running.append((exporter, task))
        await wait_for(lambda: exporter.listening.is_set() or task.done(), message="the exporter to listen")
        if task.done():
            task.result()
        host, port = exporter.bound_addresses[0]
        return RunningExporter(exporter, f"http://{host}:{port}", self.http)

    async def close(self) -> None:
        for exporter, task in self._running:
            exporter.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        await self.http.close()


@pytest.fixture
async def start_exporter() -> AsyncIterator[ExporterFactory]:
    """Start in-process exporters on a free port from CLI-style arguments; all are stopped at the end."""
    exporters = Exporters()

    async def start(*args: str, environ: dict[str, str] | None = None) -> RunningExporter:
        all_args = ("--web.listen-address", "127.0.0.1:0", *args)
        config = config_from_args(*all_args, environ=environ)
        return await exporters.run(Exporter(config, reload_source=lambda: config_from_args(*all_args, environ=environ)))

    yield start
    await exporters.close()


@contextlib.contextmanager
def silent_listener(reply: bytes | None = None) -> Iterator[int]:
    """A TCP listener that is not NATS: it accepts and never speaks, or answers `reply` once and closes.

    A silent connection is closed as soon as its peer closes, so the test process's own descriptor count shows
    only what the code under test leaks.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    listener.setblocking(False)
    stop = threading.Event()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)

    def serve() -> None:
        while not stop.is_set():
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is listener:
                    connection, _ = listener.accept()
                    if reply is not None:
                        with contextlib.suppress(OSError):
                            connection.sendall(reply)
                        connection.close()
                    else:
                        selector.register(connection, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(4096)
                except OSError:
                    data = b""
                if not data:  # the peer closed: so do we
                    selector.unregister(sock)
                    sock.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for key in list(selector.get_map().values()):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            sock.close()
        selector.close()
