"""When to probe: every interval per target, on a fixed grid with a random offset so targets don't fire together."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

from exporter.config import Target
from exporter.probe.client_options import client_tls
from exporter.probe.lookups import Lookups
from exporter.probe.phases import run_probe
from exporter.probe.result import ProbeResult
from exporter.runtime.waiting import wait_or_stop

MAX_START_SPREAD = 2.5  # seconds: the first probes are spread over at most this, so readiness comes quickly


async def probe_forever(
    target: Target,
    on_result: Callable[[ProbeResult], object],
    stopping: asyncio.Event,
    *,
    rng: random.Random | None = None,
) -> None:
    """Probe until `stopping` is set; a probe in flight when it is set finishes and is reported."""
    loop = asyncio.get_running_loop()
    lookups = Lookups()  # kept across probes: one lookup per name in flight, however slow DNS is
    tls = client_tls(target)  # built once and re-read only when its files change: a CA bundle per probe is costly
    offset = (rng or random.Random()).uniform(0, min(target.interval / 2, MAX_START_SPREAD))
    start = loop.time() + offset
    tick = 0
    while not await wait_or_stop(stopping, start + tick * target.interval - loop.time()):
        on_result(await run_probe(target, context=tls.context() if tls is not None else None, lookups=lookups))
        # After a probe that overran grid points, fire once at once for the latest of them (not once per point,
        # and not skipping it either: a probe that takes exactly the interval must not halve the rate).
        tick = max(tick + 1, math.floor((loop.time() - start) / target.interval))
