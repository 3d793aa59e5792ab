"""exporter/logwatch/tally.py: what the log view knows of each pod, and when series appear and go."""

from __future__ import annotations

from exporter.config.logs import Event
from exporter.logwatch.tally import LogSource, LogTally, PodState

POD = LogSource(namespace="shop", app="orders", pod="orders-0")
KEY = ("shop", "orders", "orders-0")


def test_a_known_pod_has_every_event_at_zero_and_state_unknown() -> None:
    tally = LogTally(per_pod=False)
    tally.add_pod(POD)
    assert {event: tally.events[("shop", "orders", event.value)] for event in Event} == dict.fromkeys(Event, 0)
    assert tally.pod_states[KEY] is PodState.UNKNOWN


def test_each_pod_remembers_its_latest_event_and_its_latest_loss() -> None:
    tally = LogTally(per_pod=False)
    tally.add_pod(POD)
    tally.count(POD, 3, [(Event.CONNECTED, 100.0), (Event.LOST, 160.0), (Event.CONNECTED, 175.0)])
    assert tally.pod_states[KEY] is PodState.CONNECTED
    assert tally.pod_event_at[KEY] == 175.0
    assert tally.pod_lost_at[KEY] == 160.0  # dates the gap 160 -> 175 for the servers' view


def test_a_pod_recreated_under_its_name_starts_afresh_and_outlives_its_predecessor() -> None:
    tally = LogTally(per_pod=True)
    tally.add_pod(POD)
    tally.count(POD, 1, [(Event.LOST, 50.0)])
    tally.add_pod(POD)  # the new instance (another UID), while the old one's stream is still being finished
    assert tally.pod_states[KEY] is PodState.UNKNOWN
    assert KEY not in tally.pod_lost_at
    tally.remove_pod(POD)  # the old instance's end
    assert tally.pod_states[KEY] is PodState.UNKNOWN  # still there: the new instance is alive
    assert tally.events[("shop", "orders", "orders-0", "lost")] == 1  # per-pod series kept while a pod feeds them
    tally.remove_pod(POD)
    assert KEY not in tally.pod_states
    assert ("shop", "orders", "orders-0", "lost") not in tally.events  # dropped, never folded
