"""One interval of cluster probing for one target, and the loop that repeats it.

`run_cluster_probe` is the unit of work (each server, the interval's route pairs, the canary) and returns a
`ClusterResult`; `ClusterBoard` keeps what the views need across intervals (the latest result, the latest probe
of every pair, counters); `cluster_forever` ties them to a target's interval. Independent of app.py.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import aiohttp

from exporter.cluster.jetstream import run_jetstream_probe
from exporter.cluster.result import ClusterResult, JetStreamReason, RouteProbe, ServerResult
from exporter.cluster.routes import probe_routes, select_pairs
from exporter.cluster.servers import ServerEndpoint, probe_servers
from exporter.config import Target
from exporter.config.cluster import DEFAULT_ACCOUNT, ClusterSettings

log = logging.getLogger(__name__)

EndpointSource = Callable[[], Awaitable[Sequence[ServerEndpoint]]]
JETSTREAM_RESULTS = ("success", *(reason.value for reason in JetStreamReason))


async def run_cluster_probe(
    target: Target,
    settings: ClusterSettings,
    endpoints: Sequence[ServerEndpoint],
    *,
    http: aiohttp.ClientSession | None = None,
    known_names: dict[str, str] | None = None,
    interval_index: int = 0,
) -> ClusterResult:
    """Probe each server, the interval's ordered pairs in every account, and the canary when it is on."""
    started_at, started = time.time(), time.perf_counter()
    servers = await probe_servers(
        target, endpoints, monitor_port=settings.monitor_port, http=http, known_names=known_names
    )
    names = route_names(servers)
    pairs = select_pairs(names, settings.max_route_pairs, interval_index)
    accounts = ((DEFAULT_ACCOUNT, target.credentials), *((a.name, a.credentials) for a in settings.accounts))
    down = {name for name, server in zip(names, servers, strict=True) if server.probe.server is None}
    jetstream = None
    routing = probe_routes(
        target, endpoints, names, pairs, accounts=accounts, concurrency=settings.route_concurrency, down=down
    )
    if settings.jetstream.enabled:
        routes, jetstream = await asyncio.gather(
            routing, run_jetstream_probe(target, settings.jetstream, servers=max(1, len(endpoints)))
        )
    else:
        routes = await routing
    n = len(names)
    return ClusterResult(
        target=target.name,
        started_at=started_at,
        duration=time.perf_counter() - started,
        servers=servers,
        routes=routes,
        pairs_total=n * (n - 1),
        jetstream=jetstream,
    )


def interval_budget(target: Target, settings: ClusterSettings) -> float:
    """The longest one interval can take when every await meets its own deadline: the loop's outer bound.

    Servers and the canary run beside the routes; route probes run `route_concurrency` at a time, each within
    the target's timeout, after one connect round per account.
    """
    accounts = 1 + len(settings.accounts)
    waves = math.ceil(settings.max_route_pairs / settings.route_concurrency)
    return target.timeout * (2 + accounts * (1 + waves))


def route_names(servers: Sequence[ServerResult]) -> list[str]:
    """The name each server goes by in pairs: its server name, or its address when two share one."""
    counts = collections.Counter(server.server_name for server in servers)
    return [server.server_name if counts[server.server_name] == 1 else server.address for server in servers]


@dataclass
class TargetClusterState:
    """What the views read for one target: kept across intervals because routes may be sampled."""

    target: str
    interval_index: int = 0
    latest: ClusterResult | None = None
    known_names: dict[str, str] = field(default_factory=dict)  # address -> last server name seen there
    routes: dict[tuple[str, str, str], RouteProbe] = field(default_factory=dict)  # (from, to, account) -> latest
    routes_enabled: bool = True  # the counters below exist at 0 from the start for what is configured
    jetstream_enabled: bool = False
    route_counts: collections.Counter[str] = field(default_factory=collections.Counter)
    jetstream_counts: collections.Counter[str] = field(default_factory=collections.Counter)


class ClusterBoard:
    """The latest cluster results of every target, updated by `record`, read by the collector and the page."""

    def __init__(self, targets: Iterable[str] = ()) -> None:
        self._states: dict[str, TargetClusterState] = {}
        for name in targets:
            self.add_target(name)

    def add_target(self, name: str) -> TargetClusterState:
        return self._states.setdefault(name, TargetClusterState(name))

    def remove_target(self, name: str) -> None:
        self._states.pop(name, None)

    def states(self) -> list[TargetClusterState]:
        return list(self._states.values())

    def get(self, name: str) -> TargetClusterState | None:
        return self._states.get(name)

    def record(self, result: ClusterResult) -> None:
        state = self.add_target(result.target)
        state.latest = result
        state.interval_index += 1
        addresses = {server.address for server in result.servers}
        state.known_names = {a: name for a, name in state.known_names.items() if a in addresses}  # pods come and go
        for server in result.servers:
            if server.server_name != server.address:
                state.known_names[server.address] = server.server_name
        current = set(route_names(result.servers))
        state.routes = {key: probe for key, probe in state.routes.items() if key[0] in current and key[1] in current}
        for probe in result.routes:
            state.routes[(probe.from_server, probe.to_server, probe.account)] = probe
            state.route_counts[probe.result.value] += 1
        if result.jetstream is not None:
            reason = result.jetstream.reason
            state.jetstream_counts["success" if reason is None else reason.value] += 1


async def cluster_forever(
    target: Target,
    settings: ClusterSettings,
    endpoints: EndpointSource,
    board: ClusterBoard,
    *,
    http: aiohttp.ClientSession | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Probe every `target.interval` until `stop` is set; one interval's failure is logged and the next one runs."""
    stop = stop or asyncio.Event()
    state = board.add_target(target.name)
    state.routes_enabled = settings.enabled and settings.max_route_pairs > 0
    state.jetstream_enabled = settings.jetstream.enabled
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        begun = loop.time()
        try:
            async with asyncio.timeout(max(target.interval, interval_budget(target, settings))):
                found = await endpoints()
                result = await run_cluster_probe(
                    target,
                    settings,
                    found,
                    http=http,
                    known_names=state.known_names,
                    interval_index=state.interval_index,
                )
            board.record(result)
        except TimeoutError:
            log.warning("cluster probe did not finish within its interval", extra={"target": target.name})
        except Exception:  # supervision boundary: one bad interval must not stop the loop
            log.exception("cluster probe crashed", extra={"target": target.name})
        remaining = target.interval - (loop.time() - begun)
        if remaining > 0:
            try:
                async with asyncio.timeout(remaining):
                    await stop.wait()
            except TimeoutError:
                pass
