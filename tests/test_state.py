"""exporter/state.py: each kind of result enters by one door, and every view then agrees about it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from exporter.config import Target
from exporter.config.nats_url import parse_url
from exporter.exposition.scrape import Exposition
from exporter.probe.result import Phase, ProbeResult, Reason
from exporter.probe.session_events import SessionEvent
from exporter.probe.status import State
from exporter.state import ExporterState

TARGET = Target(name="orders", servers=(parse_url("nats://nats.example:4222"),))


def scrape(state: ExporterState) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = Exposition(state.metrics, state.probes).render("")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def result(ok: bool, at: float) -> ProbeResult:
    reason = None if ok else Reason.CONNECTION_REFUSED
    return ProbeResult(target="orders", started_at=at, duration=0.01, phases={Phase.DNS: 0.001}, reason=reason)


def test_a_probe_result_reaches_the_counters_the_board_and_the_transition_together() -> None:
    state = ExporterState(process_metrics=False)
    state.add_target(TARGET)
    first = state.record_probe(result(True, 100.0))
    assert first is not None
    assert first.current is State.UP
    assert state.record_probe(result(True, 101.0)) is None  # no change, no transition
    down = state.record_probe(result(False, 102.0))
    assert down is not None
    assert down.reason is Reason.CONNECTION_REFUSED
    samples = scrape(state)
    assert samples[("nats_connectivity_probes_total", (("result", "success"), ("target", "orders")))] == 2
    assert samples[("nats_connectivity_probes_total", (("result", "connection_refused"), ("target", "orders")))] == 1
    assert samples[("nats_connectivity_probe_success", (("target", "orders"),))] == 0
    status = state.probes.get("orders")
    assert status is not None
    assert status.state is State.DOWN
    assert status.last_success_at == 101.0


def test_session_events_move_the_counters_and_the_connection_state_as_one() -> None:
    state = ExporterState(process_metrics=False)
    state.add_target(TARGET)
    record = state.session_recorder("orders")
    for event in (SessionEvent.CONNECTED, SessionEvent.DISCONNECTED, SessionEvent.RECONNECTED):
        record(event)
    record(SessionEvent.HEARTBEAT_LOST)
    samples = scrape(state)
    assert samples[("nats_connectivity_session_connected", (("target", "orders"),))] == 1
    assert samples[("nats_connectivity_session_disconnects_total", (("target", "orders"),))] == 1
    assert samples[("nats_connectivity_session_reconnects_total", (("target", "orders"),))] == 1
    assert samples[("nats_connectivity_publish_total", (("result", "failure"), ("target", "orders")))] == 1
    record(SessionEvent.STOPPED)
    assert ("nats_connectivity_session_connected", (("target", "orders"),)) not in scrape(state)


def test_a_removed_target_leaves_no_series_and_late_results_are_ignored() -> None:
    state = ExporterState(process_metrics=False)
    state.add_target(TARGET)
    state.record_probe(result(True, 100.0))
    state.remove_target("orders")
    assert state.record_probe(result(False, 101.0)) is None
    assert not [key for key in scrape(state) if ("target", "orders") in key[1]]
