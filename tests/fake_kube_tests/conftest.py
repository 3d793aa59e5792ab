"""A started fake per test, a kubeconfig for it, and the official sync client configured from that file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes import client

from tests.fake_kube import FakeKube

from .helpers import auth, client_ssl
from .kube_client import new_client_from_config


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> Path:
    return kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[Any]:
    """The official sync client. Call it through asyncio.to_thread: it blocks, and the fake runs in this loop."""
    api = new_client_from_config(config_file=str(kubeconfig))
    yield api
    api.close()


@pytest.fixture
def core_v1(api_client: Any) -> Any:
    return client.CoreV1Api(api_client)


@pytest.fixture
async def http(kube: FakeKube) -> AsyncIterator[aiohttp.ClientSession]:
    """A raw HTTPS session trusting the fake's CA and sending its token, for wire-level assertions."""
    connector = aiohttp.TCPConnector(ssl=client_ssl(kube))
    async with aiohttp.ClientSession(kube.url, connector=connector, headers=auth(kube)) as session:
        yield session
