"""Kubernetes DNS reproduced, not assumed: the checks and the probe resolve through the real system resolver.

Each test runs the exporter inside a network namespace whose /etc/resolv.conf is a pod's (cluster search domains,
`ndots:5`) and points at a small DNS server the test runs there; nats-server listens in the namespace too. So the
short name resolves only from the Service's namespace, exactly as the guide's "Issue 4: Wrong Namespace" says.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from exporter.demo.nats_server import find_nats_server

REPO = Path(__file__).resolve().parents[2]
FQDN = "nats-server.nats.svc.cluster.local"

Check = Callable[..., Awaitable[tuple[int, dict[str, str]]]]


def resolv_conf(namespace: str) -> str:
    search = f"{namespace}.svc.cluster.local svc.cluster.local cluster.local"
    return f"search {search}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n"


@pytest.fixture
async def pod_network() -> AsyncIterator[Check]:
    """A network namespace with cluster DNS and NATS inside; yields a runner of `check` as a pod of a namespace."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("this test needs root and iproute2 (`ip netns`): CI and `make test` run as root")
    name = f"nce-{secrets.token_hex(3)}"
    etc = Path("/etc/netns") / name
    await _run("ip", "netns", "add", name)
    processes: list[asyncio.subprocess.Process] = []
    try:
        await _run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        etc.mkdir(parents=True)
        dns = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", name, sys.executable, "-m", "tests.cluster_dns.dns_server", "127.0.0.1", "53",
            f"{FQDN}=127.0.0.1", cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        processes.append(dns)
        assert dns.stdout is not None
        assert await asyncio.wait_for(dns.stdout.readline(), 10) == b"ready\n"
        nats = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", name, find_nats_server(), "-a", "127.0.0.1", "-p", "4222",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(nats)

        async def check(namespace: str, url: str) -> tuple[int, dict[str, str]]:
            (etc / "resolv.conf").write_text(resolv_conf(namespace))
            process = await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", name, sys.executable, "-m", "exporter", "check", "--nats-url", url,
                "--output", "json", "--probe.timeout", "3s",
                cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "POD_NAMESPACE": namespace},
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode is not None
            assert out, err.decode()
            checks = json.loads(out)["targets"][0]["checks"]
            return process.returncode, {entry["name"]: entry["state"] for entry in checks}

        yield check
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        await _run("ip", "netns", "del", name)
        shutil.rmtree(etc, ignore_errors=True)


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(*command)
    if await process.wait() != 0:
        raise RuntimeError(f"{' '.join(command)} failed with {process.returncode}")


async def test_full_name_resolves_from_any_namespace_and_nats_answers(pod_network: Check) -> None:
    code, states = await pod_network("petrosa-apps", f"nats://{FQDN}:4222")

    assert states["dns_fqdn"] == "pass"
    assert states["tcp_connect"] == "pass"
    assert states["nats_handshake"] == "pass"
    assert states["dns_short"] == "fail"  # from petrosa-apps the short name walks the search list to NXDOMAIN
    assert code == 1


async def test_short_name_resolves_only_in_the_services_namespace(pod_network: Check) -> None:
    _, from_nats = await pod_network("nats", f"nats://{FQDN}:4222")
    _, short_from_apps = await pod_network("petrosa-apps", "nats://nats-server:4222")
    code, short_from_nats = await pod_network("nats", "nats://nats-server:4222")

    assert from_nats["dns_short"] == "pass"
    assert short_from_apps["tcp_connect"] == "fail"  # the guide's "Issue 4: Wrong Namespace"
    assert short_from_nats["tcp_connect"] == "pass"
    assert short_from_nats["nats_handshake"] == "pass"
    assert code == 0
