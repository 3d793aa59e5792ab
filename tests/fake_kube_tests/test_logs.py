"""The pod log endpoint on the wire: options, errors, follow endings and cuts, as kubelet behaves."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.fake_kube import FakeKube, LogKey

from .helpers import read_until_broken, wait_for

LOG = "/api/v1/namespaces/shop/pods/web-1/log"


async def _status(response: aiohttp.ClientResponse) -> tuple[int, str, str]:
    body = await response.json()
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == response.status
    return response.status, body["reason"], body["message"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, (400, "BadRequest", "a container name must be specified for pod web-1, choose one of: [app sidecar]")),
        ({"container": "nope"}, (400, "BadRequest", "container nope is not valid for pod web-1")),
        (
            {"container": "app", "previous": "true"},
            (400, "BadRequest", 'previous terminated container "app" in pod "web-1" not found'),
        ),
        ({"container": "app", "tailLines": "-1"}, (422, "Invalid", "tailLines: Invalid value: -1")),
        ({"container": "app", "sinceSeconds": "5", "sinceTime": "2024-01-02T03:04:05Z"}, (422, "Invalid", "")),
        ({"container": "app", "sinceTime": "yesterday"}, (400, "BadRequest", "parsing time")),
        ({"container": "app", "follow": "maybe"}, (400, "BadRequest", "invalid syntax")),
    ],
)
async def test_bad_log_requests(
    kube: FakeKube, http: aiohttp.ClientSession, query: dict[str, str], expected: tuple[int, str, str]
) -> None:
    kube.add_pod("shop", "web-1", containers=("app", "sidecar"))
    async with http.get(LOG, params=query) as response:
        status, reason, message = await _status(response)
    assert (status, reason) == expected[:2]
    assert expected[2] in message


async def test_missing_pod_is_404_and_waiting_container_is_400(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    async with http.get(LOG) as response:
        assert await _status(response) == (404, "NotFound", 'pods "web-1" not found')
    kube.add_pod("shop", "web-1", phase="Pending")
    async with http.get(LOG) as response:
        assert await _status(response) == (
            400,
            "BadRequest",
            'container "app" in pod "web-1" is waiting to start: ContainerCreating',
        )
    kube.set_pod_phase("shop", "web-1", "Running")
    kube.append_lines("shop", "web-1", ["up"])
    async with http.get(LOG) as response:
        assert await response.read() == b"up\n"


async def test_limit_bytes_and_since_seconds(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    kube.append_lines("shop", "web-1", ["ancient"], timestamps=[1_000_000_000])
    kube.append_lines("shop", "web-1", ["recent line", "another"])
    async with http.get(LOG, params={"sinceSeconds": "60"}) as response:
        assert await response.read() == b"recent line\nanother\n"
    async with http.get(LOG, params={"limitBytes": "10", "follow": "true"}) as response:
        assert await response.read() == b"ancient\nre"  # ends after the limit even when following
    async with http.get(LOG, params={"tailLines": "2", "sinceTime": "1970-01-01T00:00:01Z"}) as response:
        assert await response.read() == b"recent line\nanother\n"  # tail first, then since
    async with http.get(LOG, params={"tailLines": "0"}) as response:
        assert await response.read() == b""


async def test_follow_ends_when_the_pod_is_deleted(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    container_id = kube.container_id("shop", "web-1")
    async with http.get(LOG, params={"follow": "1"}) as response:
        await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
        kube.append_lines("shop", "web-1", ["last words"])
        assert await response.content.readline() == b"last words\n"
        kube.delete_pod("shop", "web-1")
        assert await asyncio.wait_for(response.content.read(), 5) == b""
    assert kube.lines_appended() == {LogKey("shop", "web-1", "app", container_id): 1}  # outlives the pod


async def test_previous_follow_returns_the_old_instance_and_ends(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    first = kube.append_lines("shop", "web-1", ["one"])
    second = kube.restart_container("shop", "web-1")
    assert second != first
    kube.append_lines("shop", "web-1", ["two", "three"])
    async with http.get(LOG, params={"previous": "true", "follow": "true"}) as response:
        assert await asyncio.wait_for(response.read(), 5) == b"one\n"
    assert kube.lines_appended() == {
        LogKey("shop", "web-1", "app", first): 1,
        LogKey("shop", "web-1", "app", second): 2,
    }
    pod = kube.pod("shop", "web-1")
    (status,) = pod["status"]["containerStatuses"]
    assert (status["restartCount"], status["containerID"]) == (1, second)
    assert status["lastState"]["terminated"]["containerID"] == first


async def test_caught_up_stream_is_cut_in_the_middle_of_its_next_line(
    kube: FakeKube, http: aiohttp.ClientSession
) -> None:
    kube.add_pod("shop", "web-1")
    async with http.get(LOG, params={"follow": "true"}) as response:
        kube.append_lines("shop", "web-1", ["whole"])
        assert await response.content.readline() == b"whole\n"
        assert kube.cut_streams() == 1
        kube.append_lines("shop", "web-1", ["0123456789"])
        received = await read_until_broken(response)
    assert received == b"01234"


async def test_cut_delivers_pending_lines_then_tears_the_last(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    async with http.get(LOG, params={"follow": "true", "timestamps": "true"}) as response:
        await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
        stamps = ["2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.2Z", "2024-01-02T03:04:05.3Z"]
        kube.append_lines("shop", "web-1", ["one", "two", "three"], timestamps=stamps)
        kube.cut_streams()
        received = await read_until_broken(response)
    whole = b"2024-01-02T03:04:05.100000000Z one\n2024-01-02T03:04:05.200000000Z two\n"
    assert received == whole + b"2024-01-02T03:04:05.300000000Z three\n"[:18]


async def test_immediate_cut_drops_idle_streams_between_lines(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1")
    async with http.get(LOG, params={"follow": "true"}) as response:
        await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
        kube.cut_streams(immediate=True)
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


async def test_plain_http_listener() -> None:
    async with FakeKube(tls=False) as kube:
        assert kube.url.startswith("http://")
        kube.add_pod("shop", "web-1")
        kube.append_lines("shop", "web-1", ["hello"])
        headers = {"Authorization": f"Bearer {kube.token}"}
        async with aiohttp.ClientSession() as session, session.get(kube.url + LOG, headers=headers) as response:
            assert await response.read() == b"hello\n"


async def test_stalled_stream_stays_open_and_silent(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    """The kubelet failure a follower must detect on its own: no error, no end, no lines."""
    kube.add_pod("shop", "web-1")
    async with http.get(LOG, params={"follow": "true"}) as stalled:
        await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
        assert kube.stall_streams() == 1
        kube.append_lines("shop", "web-1", ["unseen by the stalled stream"])
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stalled.content.readline(), 0.3)
        async with http.get(LOG) as fresh:
            assert await fresh.read() == b"unseen by the stalled stream\n"
        kube.cut_streams()
        assert await read_until_broken(stalled) == b""
