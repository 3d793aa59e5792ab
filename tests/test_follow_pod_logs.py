"""Following application pods through the (fake) Kubernetes API: the exporter's counts equal the ground truth.

Lines are appended while streams are cut mid-line, containers restart, pods are deleted and re-created, watch
history is compacted (410) and the token rotates; the exporter's `log_lines_total` and `log_events_total` must
match what the fake API server says it served, line for line.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exporter.demo.nats_server import NatsServer
from tests.conftest import ExporterFactory, RunningExporter, Samples, value, wait_for
from tests.fake_kube import FakeKube

NS = "petrosa-apps"
CONNECTED, FAILED, LOST = "Connected to NATS server", "Failed to connect to NATS", "NATS connection lost"


async def start_following(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path, *extra: str
) -> RunningExporter:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    return await start_exporter(
        "--nats-url", nats_server.url, "--kubeconfig", str(kubeconfig),
        "--logs.selector", "tier=app", "--logs.namespaces", NS, *extra,
    )  # fmt: skip


def count(samples: Samples, name: str, app: str, **labels: str) -> float:
    return value(samples, f"nats_connectivity_{name}", namespace=NS, app=app, **labels) or 0.0


def truth(kube: FakeKube, pods: set[str]) -> int:
    return sum(n for (namespace, pod, _c, _id), n in kube.lines_appended().items() if namespace == NS and pod in pods)


async def lines_equal(running: RunningExporter, app: str, expected: int) -> Samples | None:
    samples = await running.samples()
    return samples if count(samples, "log_lines_total", app) == expected else None


@pytest.mark.fake_kube(log_offset="+01:00")
async def test_counts_survive_cuts_restarts_deletions_compaction_and_token_rotation(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    # Already running before the exporter starts: counted from now, not from their first line.
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app.kubernetes.io/name": "api"})
    kube.add_pod(NS, "worker-0", labels={"tier": "app", "app": "worker"}, containers=("main", "sidecar"))
    kube.add_pod(NS, "other-0", labels={"tier": "infra", "app": "other"})
    kube.append_lines(NS, "api-0", [CONNECTED, "old line"])
    before = truth(kube, {"api-0"})
    running = await start_following(start_exporter, nats_server, kube, tmp_path)
    await wait_for(lambda: kube.open_streams("log") == 3, message="a stream per followed container")

    kube.append_lines(NS, "api-0", [CONNECTED, "hello", LOST, FAILED, FAILED])
    kube.append_lines(NS, "worker-0", [CONNECTED, "work"], container="main")
    kube.append_lines(NS, "worker-0", ["sidecar says hi"], container="sidecar")
    kube.append_lines(NS, "other-0", [LOST])  # not selected: never counted
    samples = await wait_for(
        lambda: lines_equal(running, "api", truth(kube, {"api-0"}) - before), message="api lines counted"
    )
    assert count(samples, "log_events_total", "api", event="failed") == 2
    assert count(samples, "log_events_total", "api", event="connected") == 1  # the one before start is not
    assert count(samples, "app_pods", "api", state="disconnected") == 1

    # Streams cut in the middle of lines that are still arriving: resumed with sinceTime, nothing doubled, also
    # with stdout and stderr lines that share an instant or go back in time (timestamps in +01:00).
    now = time.time_ns()
    kube.append_lines(NS, "api-0", ["out", "err"], timestamps=[now, now])
    kube.append_lines(NS, "api-0", ["err before out"], timestamps=[now - 20_000_000], stream="stderr")
    kube.append_lines(NS, "api-0", [f"burst {i}" for i in range(200)] + [CONNECTED])
    kube.cut_streams()
    kube.append_lines(NS, "api-0", ["after the cut", LOST])
    samples = await wait_for(
        lambda: lines_equal(running, "api", truth(kube, {"api-0"}) - before), message="lines after the cut"
    )
    assert count(samples, "log_events_total", "api", event="connected") == 2
    assert count(samples, "log_events_total", "api", event="lost") == 2

    # A container restart: the old instance's stream ends, the new instance is followed from its first line.
    kube.append_lines(NS, "api-0", ["last words of the first instance"])
    kube.restart_container(NS, "api-0")
    kube.append_lines(NS, "api-0", [CONNECTED, "second instance"])
    samples = await wait_for(
        lambda: lines_equal(running, "api", truth(kube, {"api-0"}) - before), message="the new instance's lines"
    )
    assert count(samples, "log_events_total", "api", event="connected") == 3
    assert count(samples, "app_pods", "api", state="connected") == 1

    # Watch history compacted and the watch cut: the exporter relists (410) and keeps following.
    kube.compact()
    kube.cut_streams(kind="watch", immediate=True)
    kube.add_pod(NS, "api-1", labels={"tier": "app", "app.kubernetes.io/name": "api"})
    kube.append_lines(NS, "api-1", [CONNECTED, "a new pod is counted from its first line"])
    await wait_for(
        lambda: lines_equal(running, "api", truth(kube, {"api-0", "api-1"}) - before), message="the new pod's lines"
    )

    # The token rotates (a bound service-account token does): the next 401 makes the exporter reload it.
    kube.rotate_token()
    kube.write_kubeconfig(tmp_path / "kubeconfig")
    kube.cut_streams(immediate=True)
    kube.append_lines(NS, "api-1", [LOST])
    samples = await wait_for(
        lambda: lines_equal(running, "api", truth(kube, {"api-0", "api-1"}) - before),
        message="lines read with the rotated token",
    )
    assert count(samples, "log_events_total", "api", event="lost") == 3
    assert value(samples, "nats_connectivity_kubernetes_errors_total", operation="pod logs", code="401") or value(
        samples, "nats_connectivity_kubernetes_errors_total", operation="watch pods", code="401"
    )

    # A pod deleted and re-created under the same name: its last lines count, and so does the new one.
    kube.append_lines(NS, "api-1", ["final line", FAILED])
    kube.delete_pod(NS, "api-1")
    kube.add_pod(NS, "api-1", labels={"tier": "app", "app.kubernetes.io/name": "api"})
    kube.append_lines(NS, "api-1", [CONNECTED])
    samples = await wait_for(
        lambda: lines_equal(running, "api", truth(kube, {"api-0", "api-1"}) - before), message="re-created pod"
    )
    assert count(samples, "log_events_total", "api", event="failed") == 3
    assert count(samples, "log_events_total", "api", event="connected") == 5

    # Multi-container pod: both containers' lines count for the app.
    worker = await wait_for(lambda: lines_equal(running, "worker", truth(kube, {"worker-0"})), message="worker")
    assert count(worker, "log_events_total", "worker", event="connected") == 1
    assert count(worker, "log_lines_total", "other") == 0


async def test_pod_whose_label_stops_matching_is_no_longer_followed(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    running = await start_following(start_exporter, nats_server, kube, tmp_path)
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")
    kube.append_lines(NS, "api-0", [CONNECTED])
    await wait_for(lambda: lines_equal(running, "api", 1), message="the first line")

    kube.add_pod(NS, "web-0", labels={"tier": "app", "app": "web"})
    await wait_for(lambda: kube.open_streams("log") == 2, message="the witness pod followed")
    kube.set_labels(NS, "api-0", {"tier": "retired", "app": "api"})
    await wait_for(lambda: kube.open_streams("log") == 1, timeout=10, message="the retired pod's stream closed")
    kube.append_lines(NS, "api-0", [LOST])
    # A followed pod's later line is counted only after a stream of api-0 would have delivered its earlier one.
    kube.append_lines(NS, "web-0", [CONNECTED])
    samples = await wait_for(lambda: lines_equal(running, "web", 1), message="the witness pod's line")
    assert count(samples, "log_lines_total", "api") == 1
    assert count(samples, "log_events_total", "api", event="lost") == 0
    assert count(samples, "app_pods", "api", state="connected") == 0


async def test_forbidden_logs_are_counted_and_probing_goes_on(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.forbid("pods/log")
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    running = await start_following(start_exporter, nats_server, kube, tmp_path)

    samples = await wait_for(
        running.metric_is("nats_connectivity_kubernetes_errors_total", 1, op=">=", operation="pod logs", code="403"),
        message="the 403 counted",
    )
    assert count(samples, "log_lines_total", "api") == 0
    # The 403s go on (each reopen is refused) while probes succeed.
    await wait_for(running.metric_is("nats_connectivity_probe_success", 1, target="default"), message="probing")

    kube.unforbid("pods/log")
    kube.append_lines(NS, "api-0", [CONNECTED])
    await wait_for(lambda: lines_equal(running, "api", 1), timeout=40, message="following once allowed")


async def test_per_pod_series_start_at_zero_and_go_with_the_pod_unfolded(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    running = await start_following(start_exporter, nats_server, kube, tmp_path, "--logs.per-pod")
    # Known pod, no line yet: every event's series is there, at 0, so increase() sees the first one.
    samples = await wait_for(
        running.metric_is("nats_connectivity_log_events_total", 0, namespace=NS, app="api", pod="api-0", event="lost"),
        message="the pod's series at 0",
    )
    for event in ("connected", "failed"):
        assert (
            value(samples, "nats_connectivity_log_events_total", namespace=NS, app="api", pod="api-0", event=event) == 0
        )
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")
    kube.append_lines(NS, "api-0", [CONNECTED, LOST])
    await wait_for(
        running.metric_is("nats_connectivity_log_lines_total", 2, namespace=NS, app="api", pod="api-0"),
        message="per-pod lines",
    )

    kube.delete_pod(NS, "api-0")
    samples = await wait_for(
        lambda: _without(running, "nats_connectivity_log_lines_total", namespace=NS, app="api", pod="api-0"),
        message="the departed pod's series dropped",
    )
    # Dropped, never folded: no pod="" series takes the departed pod's counts.
    assert value(samples, "nats_connectivity_log_lines_total", namespace=NS, app="api", pod="") is None
    assert value(samples, "nats_connectivity_log_events_total", namespace=NS, app="api", pod="", event="lost") is None
    assert (
        value(samples, "nats_connectivity_log_events_total", namespace=NS, app="api", pod="api-0", event="lost") is None
    )


async def _without(running: RunningExporter, name: str, **labels: str) -> Samples | None:
    samples = await running.samples()
    return samples if value(samples, name, **labels) is None else None


@pytest.mark.parametrize(
    ("settings", "reason"),
    [("silence_timeout: 500ms", "silence"), ("silence_timeout: 1m, max_stream_lifetime: 1s", "lifetime")],
)
async def test_silent_or_old_streams_are_reopened_and_nothing_is_lost(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path, settings: str, reason: str
) -> None:
    config = tmp_path / "logs.yaml"
    config.write_text(f"logs: {{{settings}}}\n")
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    running = await start_following(start_exporter, nats_server, kube, tmp_path, "--config", str(config))
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")

    kube.append_lines(NS, "api-0", [CONNECTED, *[f"line {i}" for i in range(50)]])
    await wait_for(
        running.metric_is("nats_connectivity_log_stream_restarts_total", 2, op=">=", reason=reason),
        message=f"streams reopened ({reason})",
    )
    kube.append_lines(NS, "api-0", [f"more {i}" for i in range(500)])
    samples = await wait_for(lambda: lines_equal(running, "api", 551), message="exact across the reopens")
    assert count(samples, "log_events_total", "api", event="connected") == 1


async def test_from_start_counts_existing_lines_and_odd_lines_count_once(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.add_pod(NS, "api-0", labels={"tier": "app", "app": "api"})
    kube.append_lines(
        NS, "api-0", [CONNECTED, "x" * (1024 * 1024) + " " + LOST, b"\xff\xfe invalid " + FAILED.encode()]
    )
    running = await start_following(start_exporter, nats_server, kube, tmp_path, "--logs.from-start")

    samples = await wait_for(lambda: lines_equal(running, "api", 3), message="the existing lines, from the start")
    for event in ("connected", "lost", "failed"):
        assert count(samples, "log_events_total", "api", event=event) == 1, event


async def test_two_shards_split_the_pods_between_them(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    for i in range(12):
        kube.add_pod(NS, f"api-{i}", labels={"tier": "app", "app": "api"})
    shards = [
        await start_following(
            start_exporter, nats_server, kube, tmp_path, "--shard", str(n), "--total-shards", "2", "--logs.from-start"
        )
        for n in (0, 1)
    ]
    await wait_for(lambda: kube.open_streams("log") == 12, message="every pod followed by exactly one shard")
    for i in range(12):
        kube.append_lines(NS, f"api-{i}", [CONNECTED])

    async def split() -> tuple[float, float] | None:
        counts = [count(await shard.samples(), "log_lines_total", "api") for shard in shards]
        return (counts[0], counts[1]) if sum(counts) == 12 else None

    first, second = await wait_for(split, message="the lines split between the shards")
    assert first > 0
    assert second > 0


async def test_only_the_named_containers_are_followed(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.add_pod(NS, "worker-0", labels={"tier": "app", "app": "worker"}, containers=("main", "istio-proxy"))
    running = await start_following(start_exporter, nats_server, kube, tmp_path, "--logs.containers", "main")
    await wait_for(lambda: kube.open_streams("log") == 1, message="one stream: the main container's")

    kube.append_lines(NS, "worker-0", [CONNECTED], container="main")
    kube.append_lines(NS, "worker-0", [LOST, "proxy noise"], container="istio-proxy")
    await wait_for(lambda: lines_equal(running, "worker", 1), message="main's line")
    kube.append_lines(NS, "worker-0", ["main again"], container="main")
    # By the time main's later line is counted, a followed proxy stream would have delivered its earlier ones.
    samples = await wait_for(lambda: lines_equal(running, "worker", 2), message="main's second line")
    assert count(samples, "log_events_total", "worker", event="lost") == 0
    assert kube.open_streams("log") == 1
