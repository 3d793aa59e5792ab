"""Kubernetes DNS reproduced, not assumed: the checks and the probe resolve through the real system resolver.

Each test runs the exporter inside a network namespace whose /etc/resolv.conf is a pod's (cluster search domains,
`ndots:5`) and points at a small DNS server the test runs there; nats-server listens in the namespace too. So the
short name resolves only from the Service's namespace, exactly as the guide's "Issue 4: Wrong Namespace" says.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.netns import REPO, dns_and_nats

FQDN = "nats-server.nats.svc.cluster.local"

Check = Callable[..., Awaitable[tuple[int, dict[str, str]]]]


def resolv_conf(namespace: str) -> str:
    search = f"{namespace}.svc.cluster.local svc.cluster.local cluster.local"
    return f"search {search}\nnameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n"


@pytest.fixture
async def pod_network() -> AsyncIterator[Check]:
    """A network namespace with cluster DNS and NATS inside; yields a runner of `check` as a pod of a namespace."""
    async with dns_and_nats("tests.cluster_dns.dns_server", (f"{FQDN}=127.0.0.1",), resolv_conf("default")) as ns:

        async def check(namespace: str, url: str) -> tuple[int, dict[str, str]]:
            (ns.etc / "resolv.conf").write_text(resolv_conf(namespace))
            process = await asyncio.create_subprocess_exec(
                *ns.exec(sys.executable, "-m", "exporter", "check", "--nats-url", url, "--output", "json",
                         "--probe.timeout", "3s"),
                cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={"PATH": os.environ["PATH"], "HOME": "/nonexistent", "POD_NAMESPACE": namespace},
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode is not None
            assert out, err.decode()
            checks = json.loads(out)["targets"][0]["checks"]
            return process.returncode, {entry["name"]: entry["state"] for entry in checks}

        yield check


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
