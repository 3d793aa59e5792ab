"""Test-side parts for the servers' view: a three-server NATS cluster on loopback, and application pods.

Each server has its own address (127.0.13.1..3) with the same ports, as pods have. Each application "pod" is a
real client whose connection comes from its own source address 127.0.14.N: nats-py connects with
`asyncio.open_connection` and cannot bind a source address, so the client connects to a small relay listening on
the pod's address, and the relay opens the upstream connection bound to that address. The server therefore lists
the pod's address, exactly as it would list a pod IP. Bytes are relayed with backpressure (`drain`), so a client
that stops reading is a slow consumer to the server, as it would be directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client

from exporter.demo.nats_server import NatsServer

SERVER_HOSTS = ("127.0.13.1", "127.0.13.2", "127.0.13.3")
PASSWORD = "s3cret-pw"
CONFIG = """
server_name: {name}
http: {host}:{http_port}
max_payload: 8KB
max_pending: 2MB
write_deadline: "2s"
accounts {{
  APP {{ users [{{user: app, password: {password}}}] }}
  OTHER {{ users [{{user: other, password: {password}}}] }}
  SYS {{ users [{{user: sys, password: {password}}}] }}
}}
system_account: SYS
authorization {{ users [{{user: plain, password: {password}}}] }}
cluster {{
  name: nce
  listen: {host}:{cluster_port}
  no_advertise: true
  routes: [{routes}]
}}
"""


def pod_ip(index: int) -> str:
    """127.0.14.1, 127.0.14.2, ... then 127.0.15.1: up to 250 per block."""
    return f"127.0.{14 + index // 250}.{index % 250 + 1}"


def _free_on_all(hosts: tuple[str, ...]) -> int:
    while True:
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for host in hosts[1:]:
                with socket.socket() as other:
                    other.bind((host, port))
        except OSError:
            continue
        return port


@dataclass
class Cluster:
    servers: list[NatsServer]
    http_port: int

    def url(self, index: int, user: str = "app") -> str:
        server = self.servers[index]
        return f"nats://{user}:{PASSWORD}@{server.host}:{server.port}"

    @property
    def monitor_urls(self) -> tuple[str, ...]:
        return tuple(f"http://{s.host}:{self.http_port}" for s in self.servers)

    async def wait_routed(self, timeout: float = 15.0) -> None:
        """Every server routes to both others (a request on server 0 answered by all three)."""
        client = await nats.connect(self.url(0, "sys"), error_cb=_quiet)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                inbox = client.new_inbox()
                sub = await client.subscribe(inbox)
                await client.publish("$SYS.REQ.SERVER.PING", b"", reply=inbox)
                names: set[str] = set()
                with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
                    while len(names) < 3:
                        msg = await sub.next_msg(timeout=0.5)
                        names.add(json.loads(msg.data)["server"]["name"])
                await sub.unsubscribe()
                if len(names) == 3:
                    return
                if loop.time() > deadline:
                    raise AssertionError(f"cluster not routed: {names}")
                await asyncio.sleep(0.1)
        finally:
            await client.close()


@contextlib.asynccontextmanager
async def nats_cluster() -> AsyncIterator[Cluster]:
    port, cluster_port, http_port = (_free_on_all(SERVER_HOSTS) for _ in range(3))
    servers = []
    for index, host in enumerate(SERVER_HOSTS):
        routes = ", ".join(f"nats-route://{h}:{cluster_port}" for h in SERVER_HOSTS if h != host)
        config = CONFIG.format(
            name=f"nats-{index}",
            host=host,
            http_port=http_port,
            cluster_port=cluster_port,
            routes=routes,
            password=PASSWORD,
        )
        servers.append(NatsServer(host=host, port=port, config=config))
    try:
        for server in servers:
            await server.start()
        cluster = Cluster(servers, http_port)
        await cluster.wait_routed()
        yield cluster
    finally:
        for server in servers:
            await server.close()


async def _quiet(error: Exception) -> None:
    """nats-py logs a traceback for every error without an error_cb."""


@dataclass
class Relay:
    """Listens on `source`; each accepted connection is relayed to upstream from a socket bound to `source`."""

    source: str
    upstream: tuple[str, int]
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.source, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream, local_addr=(self.source, 0))
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]
        pumps = [
            asyncio.create_task(_pump(reader, up_writer)),
            asyncio.create_task(_pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for task in pumps:
            task.cancel()
        for end in (writer, up_writer):
            end.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


@dataclass
class AppPod:
    """One application pod's client: a nats-py client whose connection comes from `ip`."""

    name: str
    ip: str
    relay: Relay
    client: Client

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.close(), 5)
        await self.relay.close()


async def start_app_pod(
    cluster: Cluster,
    name: str,
    ip: str,
    *,
    server: int = 0,
    user: str = "app",
    subscribe: bool = True,
    reconnect: bool = False,
) -> AppPod:
    target = cluster.servers[server]
    relay = Relay(ip, (target.host, target.port))
    port = await relay.start()
    client = await nats.connect(
        f"nats://{user}:{PASSWORD}@{ip}:{port}",
        name=name,
        error_cb=_quiet,
        allow_reconnect=reconnect,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=-1,
        connect_timeout=5,
    )
    if subscribe:
        await client.subscribe(f"orders.{name}")
        await client.flush(timeout=5)
    return AppPod(name, ip, relay, client)


class RawClient:
    """A minimal real NATS client on a plain socket bound to `ip`: for many connections, or one that never reads."""

    def __init__(
        self, ip: str, host: str, port: int, *, name: str, user: str = "app", small_buffer: bool = False
    ) -> None:
        self.sock = socket.socket()
        if small_buffer:  # before connect, so that the window stays small: the server's writes back up soon
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind((ip, 0))
        self.sock.settimeout(5)
        self.sock.connect((host, port))
        self._read_until(b"INFO ")
        options = {"verbose": False, "pedantic": False, "name": name, "user": user, "pass": PASSWORD}
        options |= {"lang": "raw", "version": "0.1", "protocol": 1}
        self.sock.sendall(f"CONNECT {json.dumps(options)}\r\nPING\r\n".encode())

    def _read_until(self, marker: bytes) -> None:
        seen = b""
        while marker not in seen:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"closed before {marker!r}: {seen[-200:]!r}")
            seen += chunk

    def wait_pong(self) -> None:
        self._read_until(b"PONG")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
