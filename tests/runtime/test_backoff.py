"""exporter/runtime/backoff.py: every retry loop's wait grows, is capped, and is spread by jitter."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exporter.runtime.backoff import Backoff


def test_delays_double_from_the_initial_one_until_the_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(100) == 30.0


@given(
    failures=st.integers(min_value=-5, max_value=10_000),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_a_delay_is_never_above_the_cap_nor_below_the_jittered_floor(failures: int, draw: float, jitter: float) -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=jitter)
    undisturbed = Backoff(initial=0.5, maximum=30.0, jitter=0.0).delay(failures)
    delay = backoff.delay(failures, rng=lambda: draw)
    assert undisturbed * (1 - jitter) <= delay <= undisturbed <= 30.0
