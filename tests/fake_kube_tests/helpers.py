"""Waiting with deadlines, and running kubectl against the fake."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.fake_kube import FakeKube

KUBECTL = "/usr/bin/kubectl"


async def wait_for(predicate: Callable[[], object], *, what: str, timeout: float = 5.0) -> None:
    """Poll until `predicate()` is truthy; fail naming `what` was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


def client_ssl(kube: FakeKube) -> ssl.SSLContext:
    """What a client that trusts the fake's CA uses."""
    assert kube.ca_pem is not None
    return ssl.create_default_context(cadata=kube.ca_pem.decode())


def auth(kube: FakeKube) -> dict[str, str]:
    return {"Authorization": f"Bearer {kube.token}"}


@dataclass(frozen=True, slots=True)
class Result:
    returncode: int
    stdout_bytes: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode()


def kubectl_env(kubeconfig: Path) -> dict[str, str]:
    """Own kubeconfig and discovery cache per test: nothing read from or written to the real home."""
    home = kubeconfig.parent
    return {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(home / "kube-cache"), "HOME": str(home)}


async def kubectl(kubeconfig: Path, *args: str, timeout: float = 20.0) -> Result:
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        *args,
        env=kubectl_env(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, out, err.decode(errors="replace"))


async def read_until_broken(response: aiohttp.ClientResponse) -> bytes:
    """Everything a cut stream delivered before it broke; fails if it ended cleanly instead."""
    received = b""
    try:
        async for chunk in response.content.iter_any():
            received += chunk
    except aiohttp.ClientPayloadError:
        return received
    raise AssertionError(f"the stream ended cleanly after {received!r}; expected a broken connection")
