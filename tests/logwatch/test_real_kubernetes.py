"""The log follower against Kubernetes as it really behaves (the faithful fake): status lag after restarts,
containers terminated for good, CrashLoopBackOff, log rotation while a stream is down, throttling, `^` patterns.

Every count is compared with the fake's ground truth (`lines_written`, per container instance).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from exporter.demo.nats_server import NatsServer
from exporter.kube.client import KubeApi
from tests.conftest import ExporterFactory, RunningExporter, Samples, value, wait_for
from tests.fake_kube import FakeKube

NS = "apps"
LABELS = {"tier": "app", "app": "api"}
CONNECTED, FAILED, LOST = "Connected to NATS server", "Failed to connect to NATS", "NATS connection lost"
LOG_PATH = "/api/v1/namespaces/*/pods/*/log"


async def follow(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path, *extra: str
) -> RunningExporter:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    return await start_exporter(
        "--nats-url", nats_server.url, "--kubeconfig", str(kubeconfig),
        "--logs.selector", "tier=app", "--logs.namespaces", NS, *extra,
    )  # fmt: skip


def written(kube: FakeKube, pod: str) -> int:
    """Lines every instance of the pod wrote, rotated ones included."""
    return sum(len(lines) for key, lines in kube.lines_written().items() if key.namespace == NS and key.pod == pod)


def lines_total(samples: Samples, app: str = "api") -> float:
    return value(samples, "nats_connectivity_log_lines_total", namespace=NS, app=app) or 0.0


def events(samples: Samples, event: str, app: str = "api") -> float:
    return value(samples, "nats_connectivity_log_events_total", namespace=NS, app=app, event=event) or 0.0


async def counted(running: RunningExporter, expected: int, app: str = "api") -> Samples | None:
    samples = await running.samples()
    return samples if lines_total(samples, app) == expected else None


@pytest.mark.fake_kube(status_lag=2.0, log_offset="-05:30")
async def test_a_restart_under_status_lag_counts_each_instance_once(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    running = await follow(start_exporter, nats_server, kube, tmp_path)
    kube.add_pod(NS, "api-0", labels=LABELS)
    await wait_for(lambda: kube.open_streams("log") == 1, message="the first instance followed")
    kube.append_lines(NS, "api-0", [CONNECTED, "first instance"])
    await wait_for(lambda: counted(running, 2), message="the first instance's lines")

    # kubelet starts the next instance at once; the status says so two seconds later. A follower that reopened
    # by name meanwhile would count the new instance's lines, which the new instance's follower counts too.
    kube.append_lines(NS, "api-0", [LOST])
    kube.restart_container(NS, "api-0")
    kube.append_lines(NS, "api-0", [CONNECTED, "second instance", "more"])
    await wait_for(lambda: kube.open_streams("log") == 1 and counted(running, written(kube, "api-0")), timeout=20,
                   message="both instances counted")  # fmt: skip
    kube.append_lines(NS, "api-0", ["a witness line"])
    samples = await wait_for(lambda: counted(running, written(kube, "api-0")), message="the witness line")
    assert events(samples, "connected") == 2
    assert events(samples, "lost") == 1


@pytest.mark.fake_kube(status_lag=1.0, log_offset="+01:00")
async def test_the_last_lines_of_a_container_terminated_for_good_are_read(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    running = await follow(start_exporter, nats_server, kube, tmp_path)
    kube.add_pod(NS, "api-0", labels=LABELS)
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")
    kube.append_lines(NS, "api-0", [CONNECTED])
    await wait_for(lambda: counted(running, 1), message="the first line")

    # Terminating: the shutdown logs "connection lost" as its last words, then the container exits for good
    # (state.terminated, empty lastState), and the pod is served until its grace period ends.
    kube.delete_pod(NS, "api-0", grace_period=30, stop_containers=False)
    kube.append_lines(NS, "api-0", ["shutting down", LOST])
    kube.terminate_containers(NS, "api-0")
    samples = await wait_for(lambda: counted(running, written(kube, "api-0")), timeout=20, message="last words")
    assert events(samples, "lost") == 1
    kube.finish_deletion(NS, "api-0")
    await wait_for(lambda: kube.open_streams("log") == 0, message="nothing left open")


@pytest.mark.fake_kube(status_lag=0.5)
async def test_crash_loop_back_off_reads_the_crashed_instance_and_then_the_next(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    running = await follow(start_exporter, nats_server, kube, tmp_path)
    kube.add_pod(NS, "api-0", labels=LABELS)
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")
    kube.append_lines(NS, "api-0", [FAILED, "giving up"])
    kube.crash_container(NS, "api-0")
    await wait_for(lambda: counted(running, 2), timeout=20, message="the crashed instance's lines")
    kube.restart_container(NS, "api-0")
    kube.append_lines(NS, "api-0", [CONNECTED])
    samples = await wait_for(lambda: counted(running, written(kube, "api-0")), timeout=20, message="the next one")
    assert events(samples, "failed") == 1
    assert events(samples, "connected") == 1


async def test_lines_rotated_away_while_the_stream_was_down_are_a_counted_gap_never_doubled(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    running = await follow(start_exporter, nats_server, kube, tmp_path)
    kube.add_pod(NS, "api-0", labels=LABELS)
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")
    kube.append_lines(NS, "api-0", [CONNECTED, "before"])
    await wait_for(lambda: counted(running, 2), message="the first lines")

    kube.forbid("pods/log")
    kube.cut_streams(kind="log", immediate=True)
    await wait_for(
        running.metric_is("nats_connectivity_kubernetes_errors_total", 1, op=">=", operation="pod logs", code="403"),
        message="the stream down",
    )
    kube.append_lines(NS, "api-0", [LOST, "lost to rotation"])
    kube.rotate_logs(NS, "api-0")
    later = time.time_ns() + 2_000_000_000  # a later second than anything counted
    kube.append_lines(NS, "api-0", [CONNECTED, "after"], timestamps=[later, later + 1])
    kube.unforbid("pods/log")

    samples = await wait_for(lambda: counted(running, 4), timeout=40, message="the lines after the rotation")
    assert value(samples, "nats_connectivity_log_gaps_total", reason="rotated") == 1
    assert events(samples, "lost") == 0  # rotated away: not counted, and said so
    assert events(samples, "connected") == 2
    assert written(kube, "api-0") == 6


async def test_429_retry_after_is_honoured_and_from_now_is_the_exporters_clock(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.add_pod(NS, "api-0", labels=LABELS)
    kube.append_lines(NS, "api-0", [LOST, "before the exporter"])
    # The first log request is throttled: lines logged after the exporter decided to follow the pod, but before
    # the API answered, must count (a `tailLines=0` start would drop them).
    kube.throttle(LOG_PATH, 1, retry_after=2, verb="get")
    running = await follow(start_exporter, nats_server, kube, tmp_path)
    await wait_for(lambda: any(r.status == 429 for r in kube.requests), message="the throttled request")
    kube.append_lines(NS, "api-0", [CONNECTED, "while throttled"])
    samples = await wait_for(lambda: counted(running, 2), timeout=20, message="the lines logged while throttled")
    assert events(samples, "lost") == 0
    logs = [r for r in kube.requests if r.resource == "pods/log"]
    assert logs[0].status == 429
    assert logs[1].time - logs[0].time >= 2.0  # Retry-After waited
    assert "tailLines" not in logs[1].query
    assert "sinceTime" in logs[1].query


async def test_anchored_patterns_match_the_message_in_pods_and_files(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    config = tmp_path / "logs.yaml"
    config.write_text('logs:\n  patterns:\n    connected: [{regex: "^up and connected"}]\n    lost: ["11"]\n')
    app_log = tmp_path / "app.log"
    app_log.write_text("")
    running = await follow(
        start_exporter, nats_server, kube, tmp_path, "--config", str(config), "--logs.file", f"local={app_log}"
    )
    kube.add_pod(NS, "api-0", labels=LABELS, log_offset="+11:00")
    await wait_for(lambda: kube.open_streams("log") == 1, message="the pod followed")
    # "11" is in every timestamp of this pod: a pattern sees the message only.
    kube.append_lines(NS, "api-0", ["up and connected", "not up and connected"])
    with app_log.open("a") as file:
        file.write("up and connected\nnot up and connected\n")
    samples = await wait_for(lambda: counted(running, 2), message="the pod's lines")
    assert events(samples, "connected") == 1
    assert events(samples, "lost") == 0
    samples = await wait_for(
        running.metric_is("nats_connectivity_log_lines_total", 2, namespace="", app="local"), message="file lines"
    )
    assert value(samples, "nats_connectivity_log_events_total", namespace="", app="local", event="connected") == 1


async def test_known_apps_have_every_event_series_at_zero_and_unplaceable_is_exported(
    start_exporter: ExporterFactory, nats_server: NatsServer, kube: FakeKube, tmp_path: Path
) -> None:
    kube.add_pod(NS, "api-0", labels=LABELS)
    running = await follow(start_exporter, nats_server, kube, tmp_path)
    samples = await wait_for(
        running.metric_is("nats_connectivity_log_events_total", 0, namespace=NS, app="api", event="lost"),
        message="the app's series at 0",
    )
    assert events(samples, "connected") == 0
    assert value(samples, "nats_connectivity_log_lines_unplaceable_total", reason="bad_timestamp") == 0
    assert value(samples, "nats_connectivity_log_gaps_total", reason="rotated") == 0


async def test_serve_never_uses_an_implicit_home_kubeconfig(
    start_exporter: ExporterFactory,
    nats_server: NatsServer,
    kube: FakeKube,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    kube.write_kubeconfig(home / ".kube" / "config")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    running = await start_exporter("--nats-url", nats_server.url, environ={})
    await wait_for(running.metric_is("nats_connectivity_probe_success", 1, target="default"), message="running")
    assert running.exporter.kube is None
    assert kube.requests == []


async def test_the_cluster_and_context_in_use_are_logged(
    kube: FakeKube, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A surprise context must be visible: the first API call says where the exporter's Kubernetes access comes
    from and which context of the kubeconfig it uses."""
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    api = KubeApi(str(kubeconfig), environ={}, home_config=False)
    try:
        with caplog.at_level(logging.INFO, logger="exporter.kube.client"):
            await api.get_json("list pods", "/api/v1/pods")
    finally:
        await api.close()
    [record] = [r for r in caplog.records if r.getMessage() == "Kubernetes access"]
    assert record.__dict__["source"] == "--kubeconfig"
    assert record.__dict__["kubeconfig"] == str(kubeconfig)
    assert record.__dict__["context"] == "fake-kube"
