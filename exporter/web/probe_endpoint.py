"""`/probe?target=NAME`: one probe now, the blackbox_exporter way, and never a way to reach an arbitrary host.

Only configured targets may be probed, or hosts matching an explicit allowlist (`probe.allowed_hosts`): the
target is resolved against the configuration before anything touches the network.
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
from dataclasses import replace

from prometheus_client.exposition import choose_encoder

from exporter.config import Config, Target
from exporter.config.nats_url import UrlError, parse_server_list
from exporter.probe.metrics import probe_registry
from exporter.probe.phases import run_probe
from exporter.probe.result import Phase, ProbeResult
from exporter.probe.status import TargetStatus

SCRAPE_TIMEOUT_OFFSET = 0.5  # leave Prometheus time to receive the answer, as blackbox_exporter does
MIN_TIMEOUT = 0.1


class UnknownTarget(ValueError):
    pass


def resolve_target(config: Config, requested: str) -> Target:
    """The configured target of that name, or an allowlisted host; anything else raises UnknownTarget."""
    for target in config.targets:
        if target.name == requested:
            return target
    try:
        servers = parse_server_list(requested)
    except UrlError:
        servers = ()
    allowed = (
        bool(servers)
        and config.probe_allowed_hosts
        and all(
            not server.has_credentials and _allowed(f"{server.host}", f"{server.host}:{server.port}", config)
            for server in servers
        )
    )
    if not allowed:
        names = ", ".join(target.name for target in config.targets) or "none"
        raise UnknownTarget(
            f"unknown target {requested!r}: /probe accepts a configured target ({names})"
            + (" or a host matching probe.allowed_hosts" if config.probe_allowed_hosts else "")
        )
    return Target(name=requested, servers=servers, session=False)


def _allowed(host: str, host_port: str, config: Config) -> bool:
    return any(fnmatch.fnmatchcase(host, p) or fnmatch.fnmatchcase(host_port, p) for p in config.probe_allowed_hosts)


def deadline(target: Target, scrape_timeout_header: str | None) -> float:
    """The target's timeout, shortened to fit the scrape's own timeout when Prometheus says it."""
    timeout = target.timeout
    if scrape_timeout_header:
        with contextlib.suppress(ValueError):
            timeout = min(timeout, float(scrape_timeout_header) - SCRAPE_TIMEOUT_OFFSET)
    return max(MIN_TIMEOUT, timeout)


async def probe_now(target: Target, timeout: float) -> ProbeResult:
    return await run_probe(replace(target, timeout=timeout), timeout=timeout)


def exposition(target: Target, result: ProbeResult, accept: str) -> tuple[bytes, str]:
    status = TargetStatus(target=target, last=result, last_success_at=result.started_at if result.ok else None)
    encoder, content_type = choose_encoder(accept)
    return encoder(probe_registry(status)), content_type


def debug_trace(target: Target, result: ProbeResult, timeout: float) -> str:
    """What happened, for a person: each phase with its time, the server's INFO, the failure and its reason."""
    lines = [
        f"Probe of target {target.name!r} ({target.redacted_url}), deadline {timeout:g}s",
        f"Started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(result.started_at))}, took "
        f"{result.duration * 1000:.3f} ms",
        "Result: success" if result.ok else f"Result: FAILED in {result.failed_phase}: {result.reason}",
    ]
    if result.detail:
        lines.append(f"Detail: {result.detail}")
    lines.append("Phases:")
    for phase in Phase:
        seconds = result.phases.get(phase)
        if seconds is not None:
            note = f"   addresses: {', '.join(result.addresses)}" if phase is Phase.DNS else ""
            lines.append(f"  {phase:<8} {seconds * 1000:10.3f} ms{note}")
        elif phase is result.failed_phase:
            lines.append(f"  {phase:<8}     failed   ({result.reason})")
        else:
            lines.append(f"  {phase:<8}   not reached")
    if result.server_url:
        lines.append(f"Server URL: {result.server_url}")
    if result.server is not None:
        lines.append("Server INFO:")
        for name in result.server.__slots__:
            lines.append(f"  {name}: {getattr(result.server, name)}")
    return "\n".join(lines) + "\n"
