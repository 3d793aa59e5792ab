"""`kubernetes.aio` (the official async client, as the exporter uses it) against the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.aio import client

from tests.fake_kube import FakeKube

from .helpers import read_until_broken, wait_for
from .kube_client import AioWatch, aio_new_client_from_config


@pytest.fixture
async def aio_core_v1(kubeconfig: Path) -> AsyncIterator[Any]:
    api = await aio_new_client_from_config(config_file=str(kubeconfig))
    async with api:
        yield client.CoreV1Api(api)


async def test_follow_streams_lines_as_appended_and_ends_at_restart(kube: FakeKube, aio_core_v1: Any) -> None:
    kube.add_pod("shop", "web-1", containers=("app", "sidecar"))
    kube.append_lines("shop", "web-1", ["first"], container="app", timestamps=["2024-01-02T03:04:05.123456789Z"])
    response = await aio_core_v1.read_namespaced_pod_log_without_preload_content(
        "web-1", "shop", container="app", follow=True, timestamps=True
    )
    assert response.status == 200
    assert await response.content.readline() == b"2024-01-02T03:04:05.123456789Z first\n"
    kube.append_lines("shop", "web-1", [b"\xff\xfe not utf-8", "x" * (1 << 20)], container="app")
    second = await response.content.readline()
    assert second.endswith(b" \xff\xfe not utf-8\n")
    big = await response.content.readuntil(b"\n")  # a 1 MiB line arrives whole, with one timestamp prefix
    assert big.endswith(b"Z " + b"x" * (1 << 20) + b"\n")
    assert big.count(b"Z ") == 1
    kube.restart_container("shop", "web-1", "app")
    assert await response.content.read() == b""  # the stream ended cleanly
    response.release()


async def test_since_time_through_the_api_client(kube: FakeKube, aio_core_v1: Any) -> None:
    """kubernetes.aio has no since_time parameter; the query parameter goes through param_serialize/call_api."""
    kube.add_pod("shop", "web-1")
    kube.append_lines(
        "shop", "web-1", ["old", "same second", "new"], timestamps=[1_000_000_000, 2_000_000_000, 2_900_000_000]
    )
    api = aio_core_v1.api_client
    params = await api.param_serialize(
        method="GET",
        resource_path="/api/v1/namespaces/{namespace}/pods/{name}/log",
        path_params={"namespace": "shop", "name": "web-1"},
        query_params=[("sinceTime", "1970-01-01T00:00:02.5Z"), ("timestamps", True)],
        header_params={"Accept": "text/plain"},
        auth_settings=["BearerToken"],
    )
    response = await api.call_api(*params, _preload_content=False)
    body = await response.read()
    assert body.splitlines() == [
        b"1970-01-01T00:00:02.000000000Z same second",
        b"1970-01-01T00:00:02.900000000Z new",
    ]
    assert kube.requests[-1].query == {"sinceTime": "1970-01-01T00:00:02.5Z", "timestamps": "true"}


async def test_errors_raise_api_exception(kube: FakeKube, aio_core_v1: Any) -> None:
    kube.forbid("pods", "list")
    with pytest.raises(client.ApiException) as caught:
        await aio_core_v1.list_namespaced_pod("shop")
    assert caught.value.status == 403
    with pytest.raises(client.ApiException) as caught:
        await aio_core_v1.read_namespaced_pod("nope", "shop")
    assert caught.value.status == 404


async def test_log_stream_cut_mid_line_breaks_the_response(kube: FakeKube, aio_core_v1: Any) -> None:
    kube.add_pod("shop", "web-1")
    response = await aio_core_v1.read_namespaced_pod_log_without_preload_content("web-1", "shop", follow=True)
    await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
    kube.append_lines("shop", "web-1", ["Connected to NATS server"])
    kube.cut_streams()
    received = await read_until_broken(response)
    response.close()
    assert received == b"Connected to NATS server\n"[:12]
    await wait_for(lambda: kube.open_streams() == 0, what="the cut stream to be gone")


async def test_watch_with_the_async_watch_helper(kube: FakeKube, aio_core_v1: Any) -> None:
    kube.add_pod("shop", "web-1", labels={"app": "web"})
    seen: list[tuple[str, str]] = []
    async with AioWatch() as stream:
        async for event in stream.stream(aio_core_v1.list_namespaced_pod, "shop", timeout_seconds=5):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 1:
                kube.add_pod("shop", "web-2")
            else:
                stream.stop()
    assert seen == [("ADDED", "web-1"), ("ADDED", "web-2")]
