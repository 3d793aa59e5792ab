"""Log timestamps as containerd writes them: in a zone offset, and shared or inverted between stdout and stderr."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fake_kube import FakeKube, LogKey, WrittenLine

from .helpers import kubectl

LOG = "/api/v1/namespaces/shop/pods/web-1/log"
T0 = 1_796_040_000_123_456_789  # 2026-11-30T12:00:00.123456789Z
S = 1_000_000_000


@pytest.mark.parametrize(
    ("offset", "served"),
    [
        ("+01:00", b"2026-11-30T13:00:00.123456789+01:00"),
        ("-05:30", b"2026-11-30T06:30:00.123456789-05:30"),
        ("Z", b"2026-11-30T12:00:00.123456789Z"),
    ],
)
async def test_timestamps_carry_the_containers_offset(
    kube: FakeKube, http: aiohttp.ClientSession, offset: str, served: bytes
) -> None:
    kube.add_pod("shop", "web-1", log_offset=offset)
    kube.append_lines("shop", "web-1", ["Connected to NATS"], timestamps=[T0])
    async with http.get(LOG, params={"timestamps": "true"}) as response:
        assert await response.read() == served + b" Connected to NATS\n"


async def test_since_time_in_utc_is_compared_by_instant(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    """A client sends sinceTime in UTC; lines written at +01:00 local time are selected by the instant they name."""
    kube.add_pod("shop", "web-1", log_offset="+01:00")
    kube.append_lines("shop", "web-1", ["before", "at", "after"], timestamps=[T0 - S, T0, T0 + S])
    params = {"timestamps": "true", "sinceTime": "2026-11-30T12:00:00Z"}
    async with http.get(LOG, params=params) as response:
        assert await response.read() == (
            b"2026-11-30T13:00:00.123456789+01:00 at\n2026-11-30T13:00:01.123456789+01:00 after\n"
        )


@pytest.mark.fake_kube(log_offset="-05:30")
async def test_default_offset_of_the_fake_applies_to_every_container(
    kube: FakeKube, http: aiohttp.ClientSession
) -> None:
    kube.add_pod("shop", "web-1")
    kube.add_pod("shop", "web-2", containers=("app", "sidecar"))
    kube.append_lines("shop", "web-1", ["x"], timestamps=[T0])
    kube.append_lines("shop", "web-2", ["y"], timestamps=[T0], container="sidecar")
    async with http.get(LOG, params={"timestamps": "1"}) as response:
        assert await response.read() == b"2026-11-30T06:30:00.123456789-05:30 x\n"
    params = {"timestamps": "1", "container": "sidecar"}
    async with http.get("/api/v1/namespaces/shop/pods/web-2/log", params=params) as response:
        assert await response.read() == b"2026-11-30T06:30:00.123456789-05:30 y\n"


async def test_shared_and_inverted_timestamps_are_served_in_write_order(
    kube: FakeKube, http: aiohttp.ClientSession
) -> None:
    """stdout and stderr of one container may share a timestamp, or a later line may carry an earlier one;
    kubelet serves lines in the order written and filters each by its own timestamp."""
    kube.add_pod("shop", "web-1", log_offset="+01:00")
    container_id = kube.append_lines("shop", "web-1", ["out 1"], timestamps=[T0 + 2 * S])
    kube.append_lines("shop", "web-1", ["err 1"], timestamps=[T0 + 2 * S], stream="stderr")  # the same instant
    kube.append_lines("shop", "web-1", ["err 0"], timestamps=[T0 + S], stream="stderr")  # earlier than the above
    kube.append_lines("shop", "web-1", ["out 2"], timestamps=["2026-11-30T12:00:03.5Z"])
    async with http.get(LOG, params={"timestamps": "true"}) as response:
        assert (await response.read()).splitlines() == [
            b"2026-11-30T13:00:02.123456789+01:00 out 1",
            b"2026-11-30T13:00:02.123456789+01:00 err 1",
            b"2026-11-30T13:00:01.123456789+01:00 err 0",
            b"2026-11-30T13:00:03.500000000+01:00 out 2",
        ]
    async with http.get(LOG, params={"sinceTime": "2026-11-30T12:00:02Z"}) as response:
        assert await response.read() == b"out 1\nerr 1\nout 2\n"  # the inverted line falls before sinceTime
    written = kube.lines_written()[LogKey("shop", "web-1", "app", container_id)]
    assert [(w.timestamp, w.stream, w.text) for w in written[1:3]] == [
        ("2026-11-30T13:00:02.123456789+01:00", "stderr", b"err 1"),
        ("2026-11-30T13:00:01.123456789+01:00", "stderr", b"err 0"),
    ]
    assert written[0] == WrittenLine(T0 + 2 * S, "2026-11-30T13:00:02.123456789+01:00", "stdout", b"out 1")


async def test_official_client_and_kubectl_see_the_offset(kube: FakeKube, core_v1: Any, kubeconfig: Path) -> None:
    kube.add_pod("shop", "web-1", log_offset="-05:30")
    kube.append_lines("shop", "web-1", ["early", "late"], timestamps=[T0 - 10 * S, T0])
    text = await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop", timestamps=True)
    assert text == "2026-11-30T06:29:50.123456789-05:30 early\n2026-11-30T06:30:00.123456789-05:30 late\n"
    result = await kubectl(kubeconfig, "logs", "web-1", "--timestamps", "--since-time=2026-11-30T12:00:00Z")
    assert (result.returncode, result.stdout) == (0, "2026-11-30T06:30:00.123456789-05:30 late\n"), result.stderr


def test_offsets_must_be_rfc3339() -> None:
    with pytest.raises(ValueError, match="zone offset"):
        FakeKube(log_offset="+1")
