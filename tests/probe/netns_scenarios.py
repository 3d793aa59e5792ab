"""Probes run inside a test's network namespace (its DNS is tests.probe.slow_dns); prints one JSON line.

python -m tests.probe.netns_scenarios slow-dns
python -m tests.probe.netns_scenarios starvation bounded|unbounded
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from exporter.config import Target
from exporter.config.nats_url import parse_url
from exporter.probe.lookups import Lookups
from exporter.probe.phases import run_probe

HUNG_PROBES = 6


def _target(name: str, host: str, timeout: float) -> Target:
    return Target(name=name, servers=(parse_url(f"nats://{host}:4222"),), interval=1.0, timeout=timeout)


async def slow_dns() -> dict[str, object]:
    result = await run_probe(_target("slow", "slow.test", 5.0))
    return {"ok": result.ok, "detail": result.detail, "phases": {str(k): v for k, v in result.phases.items()}}


async def starvation(bounded: bool) -> dict[str, object]:
    """A small resolver pool, a target whose name never answers probed again and again, then a healthy target."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2))
    hung_lookups = Lookups()
    for _ in range(HUNG_PROBES):  # as its scheduler would: each probe times out, the next one starts
        await run_probe(_target("hung", "hung.test", 0.2), lookups=hung_lookups if bounded else Lookups())
    healthy = await run_probe(_target("healthy", "fast.test", 2.0), lookups=Lookups())
    return {"ok": healthy.ok, "detail": healthy.detail, "hung_in_flight": hung_lookups.in_flight}


async def main(args: list[str]) -> None:
    report = await (slow_dns() if args[0] == "slow-dns" else starvation(args[1] == "bounded"))
    print(json.dumps(report), flush=True)
    # Exit here, not through asyncio.run, which would wait for the resolver threads stuck on the silent name.
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
