"""One backoff for every retry loop: capped exponential growth with jitter.

The supervisor, the session's reconnects, the pod watch's relists and the log streams' reopens all wait with this,
so that a cluster-wide problem (an API server restart, a NATS outage) never makes hundreds of workers retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """`delay(n)` for the n-th consecutive failure (n >= 1): `initial * 2**(n-1)`, at most `maximum`, then
    scaled by a random factor in [1 - jitter, 1] so that retries spread out."""

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5

    def delay(self, failures: int, *, rng: Callable[[], float] = random.random) -> float:
        exponent = min(max(failures, 1) - 1, 32)
        return min(self.maximum, self.initial * 2.0**exponent) * (1.0 - self.jitter * rng())
