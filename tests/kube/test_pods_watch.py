"""The pod watch against the faithful fake: relist backoff that keeps growing while watches fail after lists that
succeed, `Retry-After` honoured on a throttled list, the field selector sent with list and watch."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from exporter.kube.client import KubeApi
from exporter.kube.pods import PodInfo, PodSink, watch_pods
from tests.conftest import wait_for
from tests.fake_kube import FakeKube

NS = "apps"


class Recorder(PodSink):
    def __init__(self) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.lists = 0

    def replace_all(self, scope: str | None, pods: Sequence[PodInfo]) -> None:
        self.lists += 1
        self.pods = {pod.uid: pod for pod in pods}

    def upsert(self, pod: PodInfo) -> None:
        self.pods[pod.uid] = pod

    def remove(self, namespace: str, uid: str) -> None:
        self.pods.pop(uid, None)


@pytest.fixture
async def api(kube: FakeKube, tmp_path: Path) -> AsyncIterator[KubeApi]:
    client = KubeApi(str(kube.write_kubeconfig(tmp_path / "kubeconfig")), environ={})
    yield client
    await client.close()


async def run_watch(api: KubeApi, sink: Recorder, stopping: asyncio.Event, **options: str) -> asyncio.Task[None]:
    return asyncio.create_task(watch_pods(api, NS, "tier=app", ("app",), sink, stopping, rng=lambda: 0.0, **options))


async def stop(task: asyncio.Task[None], stopping: asyncio.Event) -> None:
    """An open watch notices `stopping` only at its next event: it is cancelled, as the supervisor does."""
    stopping.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


@pytest.mark.slow
async def test_relist_backoff_grows_while_watches_fail_after_lists_that_succeed(kube: FakeKube, api: KubeApi) -> None:
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    kube.forbid("pods", "watch", NS)
    sink, stopping = Recorder(), asyncio.Event()
    task = await run_watch(api, sink, stopping)
    try:
        await wait_for(lambda: sink.lists >= 4, timeout=30, message="four list-then-failed-watch cycles")
        lists = [r.time for r in kube.requests if r.verb == "list" and r.resource == "pods"]
        gaps = [later - earlier for earlier, later in itertools.pairwise(lists)]
        # 1 s, 2 s, 4 s (jitter off): a successful list does not reset the count; a watch that delivers does.
        assert gaps[0] >= 1.0
        assert gaps[1] >= 2.0
        assert gaps[2] >= 4.0
        kube.unforbid("pods", "watch", NS)
        kube.add_pod(NS, "api-1", labels={"tier": "app", "app": "api"})
        await wait_for(lambda: len(sink.pods) == 2, timeout=20, message="the watch working again")
    finally:
        await stop(task, stopping)


async def test_a_throttled_list_waits_its_retry_after(kube: FakeKube, api: KubeApi) -> None:
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    kube.throttle(f"/api/v1/namespaces/{NS}/pods", 1, retry_after=3, verb="list")
    sink, stopping = Recorder(), asyncio.Event()
    task = await run_watch(api, sink, stopping)
    try:
        await wait_for(lambda: sink.lists == 1, timeout=20, message="the list after the 429")
        lists = [r for r in kube.requests if r.verb == "list" and r.resource == "pods"]
        assert lists[0].status == 429
        assert lists[1].time - lists[0].time >= 3.0  # more than the 1 s backoff alone
    finally:
        await stop(task, stopping)


async def test_the_field_selector_goes_with_the_list_and_every_watch(kube: FakeKube, api: KubeApi) -> None:
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"}, node_name="node-1")
    kube.add_pod(NS, "api-1", labels={"tier": "app", "app": "api"}, node_name="node-2")
    sink, stopping = Recorder(), asyncio.Event()
    task = await run_watch(api, sink, stopping, field_selector="spec.nodeName=node-1")
    try:
        await wait_for(lambda: sink.lists == 1, message="the list")
        assert [pod.name for pod in sink.pods.values()] == ["api-0"]
        await wait_for(lambda: any(r.verb == "watch" for r in kube.requests), message="the watch")
        kube.add_pod(NS, "api-2", labels={"tier": "app", "app": "api"}, node_name="node-2")
        kube.add_pod(NS, "api-3", labels={"tier": "app", "app": "api"}, node_name="node-1")
        await wait_for(lambda: len(sink.pods) == 2, message="the node's new pod")
        assert sorted(pod.name for pod in sink.pods.values()) == ["api-0", "api-3"]
        assert all(
            r.query.get("fieldSelector") == "spec.nodeName=node-1" for r in kube.requests if r.resource == "pods"
        )
    finally:
        await stop(task, stopping)


async def test_a_too_large_resource_version_relists_and_nothing_is_missed(kube: FakeKube, api: KubeApi) -> None:
    """List from etcd on one API server, watch from another whose cache lags: the watch waits, then 504."""
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    kube.list_ahead_of_watch_cache(versions=1000)
    sink, stopping = Recorder(), asyncio.Event()
    task = await run_watch(api, sink, stopping)
    try:
        await wait_for(lambda: sink.lists == 2, timeout=30, message="a relist after the 504")
        lists = [r for r in kube.requests if r.verb == "list" and r.resource == "pods"]
        first_watch = next(r for r in kube.requests if r.verb == "watch" and r.resource == "pods")
        assert int(first_watch.query["resourceVersion"]) > kube.cluster.store.resource_version  # from the future
        kube.add_pod(NS, "api-1", labels={"tier": "app", "app": "api"})  # seen by the watch that follows
        await wait_for(lambda: len(sink.pods) == 2, timeout=20, message="the new pod through the next watch")
        assert sink.lists == 2  # one relist, not a loop of them
        assert len(lists) == 2
    finally:
        await stop(task, stopping)
