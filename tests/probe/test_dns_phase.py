"""DNS through a real resolver in a network namespace: a slow answer is the `dns` phase's alone, and a name that
never answers cannot take the resolver threads that healthy targets need."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.netns import REPO, dns_and_nats

DNS_DELAY = 0.6
RESOLV_CONF = "nameserver 127.0.0.1\noptions ndots:1 timeout:5 attempts:2\n"

Scenario = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def netns() -> AsyncIterator[Scenario]:
    """A network namespace with nats-server and tests.probe.slow_dns; yields a runner of netns_scenarios there."""
    records = (f"slow.test=127.0.0.1@{DNS_DELAY}", "fast.test=127.0.0.1", "hung.test=silent")
    async with dns_and_nats("tests.probe.slow_dns", records, RESOLV_CONF) as namespace:

        async def scenario(*args: str) -> dict[str, Any]:
            process = await asyncio.create_subprocess_exec(
                *namespace.exec(sys.executable, "-m", "tests.probe.netns_scenarios", *args),
                cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "HOME": "/nonexistent"},
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 90)
            assert out, err.decode()
            return dict(json.loads(out.splitlines()[-1]))

        yield scenario


@pytest.mark.slow
async def test_slow_dns_is_the_dns_phase_and_not_connect(netns: Scenario) -> None:
    report = await netns("slow-dns")

    assert report["ok"], report["detail"]
    phases = report["phases"]
    assert phases["dns"] >= DNS_DELAY
    assert phases["connect"] < DNS_DELAY  # the handshake did not look the name up again
    assert phases["tcp"] < DNS_DELAY


@pytest.mark.slow
async def test_a_name_that_never_answers_holds_one_resolver_thread(netns: Scenario) -> None:
    bounded = await netns("starvation", "bounded")
    unbounded = await netns("starvation", "unbounded")

    assert bounded["ok"], bounded["detail"]
    assert bounded["hung_in_flight"] == 1
    # The same probes without the target's own lookups fill the pool, and the healthy target times out in DNS:
    # the scenario is one that starves, and the bounding is what prevents it.
    assert not unbounded["ok"]
    assert "dns" in unbounded["detail"]
