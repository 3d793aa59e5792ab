"""Real NATS clusters on loopback for the cluster data path: each server on its own 127.0.0.N with the same ports.

`Relay` is a TCP relay a route can be made to go through (`cluster.advertise` pointing at it, no direct route
between the pair), so a test can cut exactly one route while both servers keep serving clients.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporter.cluster.metrics import ClusterCollector
from exporter.cluster.result import ClusterResult
from exporter.cluster.runner import ClusterBoard, run_cluster_probe
from exporter.cluster.servers import ServerEndpoint
from exporter.config import Credentials, Secret, Target
from exporter.config.cluster import ClusterSettings
from exporter.config.nats_url import NatsUrl
from exporter.demo.nats_server import NatsServer
from tests.conftest import Samples, parse_samples, wait_for

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
CLUSTER_NAME = "nce"
PROBE_USER, PROBE_PASSWORD = "probe", "probe-secret"
APP_USER, APP_PASSWORD = "app", "app-secret"


def common_free_port(hosts: Sequence[str]) -> int:
    """A port free on every host at once (the servers of a cluster share ports, as pods do)."""
    for _ in range(200):
        with socket.socket() as first:
            first.bind((hosts[0], 0))
            port = int(first.getsockname()[1])
            held: list[socket.socket] = []
            try:
                for host in hosts[1:]:
                    sock = socket.socket()
                    held.append(sock)
                    sock.bind((host, port))
                return port
            except OSError:
                continue
            finally:
                for sock in held:
                    sock.close()
    raise RuntimeError("no port free on every host")


class Relay:
    """Forwards TCP connections from 127.0.0.1:port to `upstream`; `cut()` closes them all and refuses new ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except (OSError, TimeoutError):
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@dataclass
class Cluster:
    servers: list[NatsServer]
    names: list[str]
    monitor_port: int
    relays: list[Relay] = field(default_factory=list)

    def endpoints(self, ready: bool | None = None) -> tuple[ServerEndpoint, ...]:
        return tuple(ServerEndpoint(NatsUrl("nats", server.host, server.port), ready) for server in self.servers)

    def target(self, *, timeout: float = 3.0, user: str | None = PROBE_USER, password: str | None = None) -> Target:
        credentials = Credentials(user=user, password=Secret(password or PROBE_PASSWORD)) if user else Credentials()
        return Target(
            name="default",
            servers=tuple(NatsUrl("nats", server.host, server.port) for server in self.servers),
            timeout=timeout,
            interval=5.0,
            credentials=credentials,
        )

    async def stop(self, index: int) -> None:
        await self.servers[index].stop()


def server_config(
    name: str,
    host: str,
    cluster_port: int,
    monitor_port: int,
    routes: Sequence[str],
    *,
    jetstream: bool,
    advertise: str | None = None,
    accounts: bool = True,
    extra: str = "",
) -> str:
    routes_text = ", ".join(f'"nats-route://{route}"' for route in routes)
    lines = [
        f"server_name: {name}",
        f"http: {host}:{monitor_port}",
        f'cluster {{ name: {CLUSTER_NAME}, listen: "{host}:{cluster_port}", routes: [{routes_text}]'
        + (f', advertise: "{advertise}"' if advertise else "")
        + " }",
    ]
    if jetstream:
        lines.append('jetstream { store_dir: "js" }')
    if accounts:
        js = ", jetstream: enabled" if jetstream else ""
        lines.append(
            "accounts {"
            f' PROBE: {{ users: [{{user: {PROBE_USER}, password: "{PROBE_PASSWORD}"}}]{js} }},'
            f' APP: {{ users: [{{user: {APP_USER}, password: "{APP_PASSWORD}"}}]{js} }}'
            " }"
        )
    lines.append(extra)
    return "\n".join(lines) + "\n"


async def start_cluster(
    size: int = 3, *, jetstream: bool = True, relayed_pair: tuple[int, int] | None = None
) -> Cluster:
    """Start `size` routed servers; with `relayed_pair`, those two reach each other only through relays."""
    hosts = HOSTS[:size]
    client_port = common_free_port(hosts)
    cluster_port = common_free_port(hosts)
    monitor_port = common_free_port(hosts)
    relays: dict[int, Relay] = {}
    if relayed_pair is not None:
        for index in relayed_pair:
            relays[index] = Relay((hosts[index], cluster_port))
            await relays[index].start()
    servers: list[NatsServer] = []
    names = [f"n{index + 1}" for index in range(size)]
    for index, host in enumerate(hosts):
        routes: list[str] = []
        for other, other_host in enumerate(hosts):
            if other == index:
                continue
            if relayed_pair is not None and {index, other} == set(relayed_pair):
                routes.append(f"127.0.0.1:{relays[other].port}")  # this pair only ever meets through the relays
            else:
                routes.append(f"{other_host}:{cluster_port}")
        advertise = f"127.0.0.1:{relays[index].port}" if index in relays else None
        config = server_config(
            names[index], host, cluster_port, monitor_port, routes, jetstream=jetstream, advertise=advertise
        )
        servers.append(NatsServer(host=host, port=client_port, config=config))
    cluster = Cluster(servers, names, monitor_port, list(relays.values()))
    try:
        await asyncio.gather(*(server.start() for server in servers))
    except BaseException:
        await close_cluster(cluster)
        raise
    return cluster


async def wait_until_jetstream_ready(cluster: Cluster, timeout: float = 30.0) -> None:
    """Every server's full /healthz passes: JetStream's meta leader is elected, so a canary can succeed. A fresh
    cluster takes a few seconds; a test that probes once must wait for this, not hope."""

    async def ready() -> bool:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            for server in cluster.servers:
                try:
                    async with http.get(f"http://{server.host}:{cluster.monitor_port}/healthz") as response:
                        if response.status != 200:
                            return False
                except (aiohttp.ClientError, TimeoutError):
                    return False
        return True

    await wait_for(ready, timeout=timeout, message="JetStream ready on every server (/healthz)")


async def close_cluster(cluster: Cluster) -> None:
    for relay in cluster.relays:
        await relay.cut()
    await asyncio.gather(*(server.close() for server in cluster.servers), return_exceptions=True)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    started = await start_cluster(3, jetstream=True)
    yield started
    await close_cluster(started)


def scrape(board: ClusterBoard) -> Samples:
    """What Prometheus would see: the collector rendered through a registry of its own."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ClusterCollector(board))
    return parse_samples(generate_latest(registry).decode())


async def probe_once(
    board: ClusterBoard,
    cluster: Cluster,
    settings: ClusterSettings,
    *,
    target: Target | None = None,
    ready: bool | None = None,
    http: aiohttp.ClientSession | None = None,
) -> ClusterResult:
    """One interval, recorded on `board` as the loop would (known names and the pair rotation carry over)."""
    chosen = target or cluster.target()
    state = board.add_target(chosen.name)
    result = await run_cluster_probe(
        chosen,
        settings,
        cluster.endpoints(ready),
        http=http,
        known_names=state.known_names,
        interval_index=state.interval_index,
    )
    board.record(result)
    return result
