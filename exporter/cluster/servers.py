"""Each server on its own: the core probe's phases against one server's own address, its identity, its /healthz.

A Service hides which server answered; this module asks each one directly. nats-py offers no switch to ignore the
servers an INFO advertises (`connect_urls`), so each probe is given exactly one URL, one attempt and no
reconnection (`exporter.probe.phases.run_probe` does that), and the answer is checked by INFO `server_name` and
`server_id`: an address that answers with another address's id is not this server (a proxy, a Service IP).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import aiohttp

from exporter.cluster.result import HealthzMode, ServerResult
from exporter.config import Target
from exporter.config.nats_url import NatsUrl
from exporter.probe.phases import run_probe

_HEALTHZ_QUERY = {HealthzMode.FULL: "", HealthzMode.JS_ENABLED_ONLY: "?js-enabled-only=true"}


@dataclass(frozen=True, slots=True)
class ServerEndpoint:
    """One server to probe: its client URL, its readiness as Kubernetes reports it, where /healthz is."""

    url: NatsUrl
    ready: bool | None = None  # None: not known (outside Kubernetes)
    pod: str = ""  # the pod behind the address (EndpointSlice targetRef): the name of a server that never answered

    @property
    def address(self) -> str:
        return f"{self.url.netloc_host}:{self.url.port}"


def endpoints_from_target(target: Target) -> tuple[ServerEndpoint, ...]:
    """Outside Kubernetes: each URL of a multi-server target is one server."""
    return tuple(ServerEndpoint(url) for url in target.servers)


def endpoints_from_addresses(
    target: Target, addresses: Sequence[tuple[str, bool]] | Sequence[tuple[str, bool, str]]
) -> tuple[ServerEndpoint, ...]:
    """In Kubernetes: each pod IP of the target's EndpointSlices (with its `ready` condition and, where known, its
    pod's name), on the target's port."""
    base = target.servers[0]
    return tuple(
        ServerEndpoint(replace(base, host=found[0]), found[1], found[2] if len(found) > 2 else "")
        for found in addresses
    )


async def probe_servers(
    target: Target,
    endpoints: Sequence[ServerEndpoint],
    *,
    monitor_port: int,
    http: aiohttp.ClientSession | None,
    known_names: Mapping[str, str] | None = None,
) -> tuple[ServerResult, ...]:
    """Probe every endpoint at once; `known_names` (address -> last server name) labels a server that is down."""
    results = await asyncio.gather(
        *(_probe_one(target, endpoint, monitor_port=monitor_port, http=http) for endpoint in endpoints)
    )
    # A restarted NATS pod comes back on a new address, down while it starts: its pod's name (the official chart
    # sets server_name from it) keeps its series rather than a new `ip:port` series.
    fallback = {endpoint.address: endpoint.pod for endpoint in endpoints if endpoint.pod}
    return verify(results, {**fallback, **(known_names or {})})


async def _probe_one(
    target: Target, endpoint: ServerEndpoint, *, monitor_port: int, http: aiohttp.ClientSession | None
) -> ServerResult:
    one = replace(target, servers=(endpoint.url,))
    probing = run_probe(one)
    if http is not None and monitor_port:
        probe, healthz = await asyncio.gather(
            probing, healthz_all(http, endpoint.url.netloc_host, monitor_port, target.timeout)
        )
    else:
        probe, healthz = await probing, {}
    info = probe.server
    return ServerResult(
        address=endpoint.address,
        server_name=info.server_name if info is not None else "",
        server_id=info.server_id if info is not None else "",
        probe=probe,
        verified=info is not None and bool(info.server_name and info.server_id),
        ready=endpoint.ready,
        healthz=healthz,
    )


def verify(results: Sequence[ServerResult], known_names: Mapping[str, str]) -> tuple[ServerResult, ...]:
    """Two addresses answering with one server id are not two servers: neither is verified.

    A server that did not answer keeps the name it last answered with at its address, else its address, so that
    its series keep their label while it is down.
    """
    ids = collections.Counter(result.server_id for result in results if result.server_id)
    verified: list[ServerResult] = []
    for result in results:
        name = result.server_name or known_names.get(result.address, result.address)
        unique = bool(result.server_id) and ids[result.server_id] == 1
        verified.append(replace(result, server_name=name, verified=result.verified and unique))
    return tuple(verified)


async def healthz_all(http: aiohttp.ClientSession, host: str, port: int, timeout: float) -> dict[HealthzMode, bool]:
    """Both /healthz modes; a mode missing from the answer means the monitoring port did not answer at all."""
    modes = tuple(HealthzMode)
    answers = await asyncio.gather(*(healthz(http, host, port, mode, timeout) for mode in modes))
    return {mode: ok for mode, ok in zip(modes, answers, strict=True) if ok is not None}


async def healthz(http: aiohttp.ClientSession, host: str, port: int, mode: HealthzMode, timeout: float) -> bool | None:
    """True on 200, False on any other status (nats-server answers 503 with the failing check), None: no answer."""
    url = f"http://{host}:{port}/healthz{_HEALTHZ_QUERY[mode]}"
    try:
        async with asyncio.timeout(timeout):
            async with http.get(url, allow_redirects=False) as response:
                await response.read()
                return response.status == 200
    except (TimeoutError, aiohttp.ClientError, OSError):
        return None
