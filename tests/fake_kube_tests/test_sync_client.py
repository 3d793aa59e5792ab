"""The official synchronous client against the fake: lists, watches, logs and errors as it sees them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from kubernetes import client

from tests.fake_kube import FakeKube

from .helpers import wait_for
from .kube_client import Watch

T0 = 1_704_164_645_000_000_000  # 2024-01-02T03:04:05Z


def _names(pod_list: Any) -> list[str]:
    return [p.metadata.name for p in pod_list.items]


async def test_list_pods_with_label_and_field_selectors(kube: FakeKube, core_v1: Any) -> None:
    kube.add_pod("shop", "web-1", labels={"app": "web", "tier": "front"})
    kube.add_pod("shop", "web-2", labels={"app": "web"}, node_name="node-2")
    kube.add_pod("shop", "db-1", labels={"app": "db"})
    kube.add_pod("other", "web-9", labels={"app": "web"})
    kube.set_pod_phase("shop", "db-1", "Succeeded")

    def call(**kwargs: Any) -> list[str]:
        return _names(core_v1.list_namespaced_pod("shop", **kwargs))

    assert await asyncio.to_thread(call, label_selector="app=web") == ["web-1", "web-2"]
    assert await asyncio.to_thread(call, label_selector="app in (web,db),tier!=front") == ["db-1", "web-2"]
    assert await asyncio.to_thread(call, label_selector="tier") == ["web-1"]
    assert await asyncio.to_thread(call, label_selector="!tier,app notin (db)") == ["web-2"]
    assert await asyncio.to_thread(call, field_selector="spec.nodeName=node-2") == ["web-2"]
    assert await asyncio.to_thread(call, field_selector="status.phase=Running,metadata.name!=web-1") == ["web-2"]
    everywhere = await asyncio.to_thread(core_v1.list_pod_for_all_namespaces, label_selector="app==web")
    assert [(p.metadata.namespace, p.metadata.name) for p in everywhere.items] == [
        ("other", "web-9"),
        ("shop", "web-1"),
        ("shop", "web-2"),
    ]
    assert int(everywhere.metadata.resource_version) == kube.resource_version


async def test_bad_selector_is_400(kube: FakeKube, core_v1: Any) -> None:
    with pytest.raises(client.ApiException) as caught:
        await asyncio.to_thread(core_v1.list_namespaced_pod, "shop", label_selector="app in (web")
    assert caught.value.status == 400
    with pytest.raises(client.ApiException) as caught:
        await asyncio.to_thread(core_v1.list_namespaced_pod, "shop", field_selector="spec.unknown=x")
    assert caught.value.status == 400
    assert "field label not supported" in str(caught.value.body)


async def test_pod_has_uid_timestamps_and_running_container_status(kube: FakeKube, core_v1: Any) -> None:
    kube.add_pod("shop", "web-1", containers=("app", "sidecar"))
    pod = await asyncio.to_thread(core_v1.read_namespaced_pod, "web-1", "shop")
    assert pod.metadata.uid
    assert pod.metadata.creation_timestamp is not None
    assert pod.status.phase == "Running"
    statuses = {s.name: s for s in pod.status.container_statuses}
    assert statuses["app"].container_id == kube.container_id("shop", "web-1", "app")
    assert statuses["app"].state.running is not None
    assert statuses["app"].restart_count == 0


async def test_watch_sees_added_modified_deleted_through_a_selector(kube: FakeKube, core_v1: Any) -> None:
    """A pod whose labels stop matching is DELETED for that watch; DELETED on pod deletion; in order."""
    kube.add_pod("shop", "web-1", labels={"app": "web"})

    def collect() -> list[tuple[str, str, str]]:
        seen: list[tuple[str, str, str]] = []
        stream = Watch()
        for event in stream.stream(core_v1.list_namespaced_pod, "shop", label_selector="app=web", timeout_seconds=10):
            seen.append((event["type"], event["object"].metadata.name, event["object"].metadata.resource_version))
            if len(seen) == 5:
                stream.stop()
        return seen

    task = asyncio.ensure_future(asyncio.to_thread(collect))
    await wait_for(lambda: kube.open_streams("watch") == 1, what="the watch to open")
    kube.add_pod("shop", "web-2", labels={"app": "web"})
    kube.restart_container("shop", "web-2")
    kube.set_labels("shop", "web-1", {"app": "other"})
    kube.delete_pod("shop", "web-2")
    seen = await asyncio.wait_for(task, 10)
    assert [(kind, name) for kind, name, _ in seen] == [
        ("ADDED", "web-1"),
        ("ADDED", "web-2"),
        ("MODIFIED", "web-2"),
        ("DELETED", "web-1"),
        ("DELETED", "web-2"),
    ]
    versions = [int(rv) for _, _, rv in seen[1:]]
    assert versions == sorted(versions)
    assert versions[-1] == kube.resource_version


async def test_watch_resumes_from_a_resource_version(kube: FakeKube, core_v1: Any) -> None:
    kube.add_pod("shop", "web-1")
    listed = await asyncio.to_thread(core_v1.list_namespaced_pod, "shop")
    kube.add_pod("shop", "web-2")
    kube.set_labels("shop", "web-1", {"app": "x"})

    def replay() -> list[tuple[str, str]]:
        stream = Watch()
        events = stream.stream(
            core_v1.list_namespaced_pod, "shop", resource_version=listed.metadata.resource_version, timeout_seconds=1
        )
        return [(e["type"], e["object"].metadata.name) for e in events]

    assert await asyncio.to_thread(replay) == [("ADDED", "web-2"), ("MODIFIED", "web-1")]


async def test_watch_from_compacted_resource_version_raises_410(kube: FakeKube, core_v1: Any) -> None:
    kube.add_pod("shop", "web-1")
    old = str(kube.resource_version)
    kube.add_pod("shop", "web-2")
    kube.compact()

    def watch_old() -> None:
        for _ in Watch().stream(core_v1.list_namespaced_pod, "shop", resource_version=old, timeout_seconds=2):
            pass

    with pytest.raises(client.ApiException) as caught:
        await asyncio.to_thread(watch_old)
    assert caught.value.status == 410
    # A list still works and gives a resourceVersion to watch from.
    listed = await asyncio.to_thread(core_v1.list_namespaced_pod, "shop", resource_version=old)
    assert _names(listed) == ["web-1", "web-2"]


async def test_logs_with_timestamps_since_time_and_tail_lines(kube: FakeKube, api_client: Any, core_v1: Any) -> None:
    kube.add_pod("shop", "web-1")
    stamps = [T0 + 100, T0 + 999_999_999, T0 + 1_000_000_000, T0 + 2_500_000_001]
    kube.append_lines("shop", "web-1", ["zero", "one", "two", "three"], timestamps=stamps)

    text = await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop", timestamps=True)
    assert text.splitlines() == [
        "2024-01-02T03:04:05.000000100Z zero",
        "2024-01-02T03:04:05.999999999Z one",
        "2024-01-02T03:04:06.000000000Z two",
        "2024-01-02T03:04:07.500000001Z three",
    ]
    assert await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop", tail_lines=2) == "two\nthree\n"

    def since(value: str) -> str:
        # The generated client has no since_time parameter: send it through the ApiClient, as the exporter must.
        params = api_client.param_serialize(
            method="GET",
            resource_path="/api/v1/namespaces/{namespace}/pods/{name}/log",
            path_params={"namespace": "shop", "name": "web-1"},
            query_params=[("sinceTime", value)],
            header_params={"Accept": "text/plain"},
            auth_settings=["BearerToken"],
        )
        response = api_client.call_api(*params)
        response.read()
        return str(response.data.decode())

    # Whole seconds, as the API server truncates sinceTime: the rest of that second is replayed.
    assert await asyncio.to_thread(since, "2024-01-02T03:04:05.999999999Z") == "zero\none\ntwo\nthree\n"
    assert await asyncio.to_thread(since, "2024-01-02T03:04:06Z") == "two\nthree\n"
    assert await asyncio.to_thread(since, "2024-01-02T05:04:07+02:00") == "three\n"
    assert any(r.resource == "pods/log" and r.query.get("sinceTime") for r in kube.requests)


async def test_follow_ends_when_the_container_restarts(kube: FakeKube, core_v1: Any) -> None:
    kube.add_pod("shop", "web-1")
    kube.append_lines("shop", "web-1", ["before"])

    def follow() -> bytes:
        response = core_v1.read_namespaced_pod_log("web-1", "shop", follow=True, _preload_content=False)
        return b"".join(response.stream(1024))

    task = asyncio.ensure_future(asyncio.to_thread(follow))
    await wait_for(lambda: kube.open_streams("log") == 1, what="the follow stream to open")
    kube.append_lines("shop", "web-1", ["during"])
    kube.restart_container("shop", "web-1")
    kube.append_lines("shop", "web-1", ["after the restart"])
    assert await asyncio.wait_for(task, 10) == b"before\nduring\n"
    previous = await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop", previous=True)
    assert previous == "before\nduring\n"
    assert await asyncio.to_thread(core_v1.read_namespaced_pod_log, "web-1", "shop") == "after the restart\n"


@pytest.mark.parametrize(
    ("setup", "status"),
    [("wrong-token", 401), ("forbid", 403), ("missing", 404)],
)
async def test_errors_are_status_objects(kube: FakeKube, core_v1: Any, setup: str, status: int) -> None:
    kube.add_pod("shop", "web-1")
    name = "web-1"
    if setup == "wrong-token":
        kube.rotate_token()
    elif setup == "forbid":
        kube.forbid("pods/log", "get", namespace="shop")
    else:
        name = "nope"
    with pytest.raises(client.ApiException) as caught:
        await asyncio.to_thread(core_v1.read_namespaced_pod_log, name, "shop")
    assert caught.value.status == status
    body = json.loads(str(caught.value.body))
    assert (body["kind"], body["code"]) == ("Status", status)
    if setup == "forbid":
        assert 'cannot get resource "pods/log" in API group "" in the namespace "shop"' in body["message"]
        kube.unforbid("pods/log", "get", namespace="shop")
        assert await asyncio.to_thread(core_v1.read_namespaced_pod_log, name, "shop") == ""
