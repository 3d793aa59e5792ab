"""A network namespace for tests where a resolver or an address matters: its own loopback, its own resolv.conf
(`ip netns exec` reads /etc/netns/NAME/resolv.conf), and a DNS server and a nats-server inside, all removed after."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.demo.nats_server import find_nats_server

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    etc: Path  # /etc/netns/NAME: write resolv.conf here

    def exec(self, *command: str) -> tuple[str, ...]:
        """`command` run inside the namespace."""
        return ("ip", "netns", "exec", self.name, *command)


@asynccontextmanager
async def dns_and_nats(dns_module: str, records: Sequence[str], resolv_conf: str) -> AsyncIterator[Namespace]:
    """A namespace with `python -m dns_module 127.0.0.1 53 *records` answering and nats-server on 127.0.0.1:4222."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("this test needs root and iproute2 (`ip netns`): CI and `make test` run as root")
    name = f"nce-{secrets.token_hex(3)}"
    namespace = Namespace(name, Path("/etc/netns") / name)
    await run("ip", "netns", "add", namespace.name)
    processes: list[asyncio.subprocess.Process] = []
    try:
        await run(*namespace.exec("ip", "link", "set", "lo", "up"))
        namespace.etc.mkdir(parents=True)
        (namespace.etc / "resolv.conf").write_text(resolv_conf)
        dns = await asyncio.create_subprocess_exec(
            *namespace.exec(sys.executable, "-m", dns_module, "127.0.0.1", "53", *records),
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        processes.append(dns)
        assert dns.stdout is not None
        assert await asyncio.wait_for(dns.stdout.readline(), 10) == b"ready\n"
        nats = await asyncio.create_subprocess_exec(
            *namespace.exec(find_nats_server(), "-a", "127.0.0.1", "-p", "4222"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(nats)
        yield namespace
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        await run("ip", "netns", "del", namespace.name)
        shutil.rmtree(namespace.etc, ignore_errors=True)


async def run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(*command)
    if await process.wait() != 0:
        raise RuntimeError(f"{' '.join(command)} failed with {process.returncode}")
