"""Overload as the API server signals it: 429 Too Many Requests with Retry-After, per path pattern, N times."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes.aio import client as aio_client

from tests.fake_kube import FakeKube

from .helpers import kubectl
from .kube_client import aio_new_client_from_config

PODS = "/api/v1/namespaces/shop/pods"


async def test_429_with_retry_after_for_n_matching_requests(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    kube.throttle("/api/v1/namespaces/*/pods/*/log", count=2, retry_after=3)
    for _ in range(2):
        async with http.get(f"{PODS}/web-1/log") as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "3"
            body = await response.json()
        assert (body["kind"], body["code"], body["reason"]) == ("Status", 429, "TooManyRequests")
        assert body["details"] == {"retryAfterSeconds": 3}
    async with http.get(PODS) as response:
        assert response.status == 200  # another path is not throttled
    async with http.get(f"{PODS}/web-1/log") as response:
        assert response.status == 200  # the third matching request passes


async def test_throttle_by_verb(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.throttle(PODS, verb="watch")
    async with http.get(PODS) as response:
        assert response.status == 200
    async with http.get(PODS, params={"watch": "1", "timeoutSeconds": "1"}) as response:
        assert response.status == 429


async def test_official_sync_client_retries_after_retry_after(kube: FakeKube, core_v1: Any) -> None:
    """urllib3 under the sync client honours Retry-After on a 429 by itself; the record shows both answers."""
    kube.add_pod("shop", "web-1")
    kube.throttle(PODS)
    pods = await asyncio.to_thread(core_v1.list_namespaced_pod, "shop")
    assert [p.metadata.name for p in pods.items] == ["web-1"]
    assert [r.status for r in kube.requests if r.path == PODS] == [429, 200]


async def test_official_aio_client_raises_on_the_429(kube: FakeKube, kubeconfig: Path) -> None:
    """kubernetes.aio (as the exporter uses it) does not retry: the caller gets the 429 and its Retry-After."""
    kube.throttle(f"{PODS}/*/log", retry_after=7)
    kube.add_pod("shop", "web-1")
    api = await aio_new_client_from_config(config_file=str(kubeconfig))
    async with api:
        with pytest.raises(aio_client.ApiException) as caught:
            await aio_client.CoreV1Api(api).read_namespaced_pod_log("web-1", "shop")
    headers: Any = caught.value.headers
    assert (caught.value.status, headers["Retry-After"]) == (429, "7")


@pytest.mark.slow
async def test_kubectl_waits_retry_after_and_succeeds(kube: FakeKube, kubeconfig: Path) -> None:
    """client-go retries a 429 after Retry-After: the throttled requests are in the record, the command succeeds."""
    kube.add_pod("shop", "web-1")
    kube.throttle(PODS, count=2)
    result = await kubectl(kubeconfig, "get", "pods", "-o", "name")
    assert (result.returncode, result.stdout) == (0, "pod/web-1\n"), result.stderr
    statuses = [r.status for r in kube.requests if r.path == PODS]
    assert statuses == [429, 429, 200]
