"""One verdict per expected pod, from the servers' view and the log view together. A pure function.

Meanings (the README and the page say the same):
- `connected`: at least one server lists a connection of the pod, with subscriptions, nothing pending beyond the
  threshold.
- `slow_consumer`: a connection of the pod has more pending bytes than `--apps.slow-consumer-bytes`, or a server
  closed one of its connections as a slow consumer within `slow_consumer_window` (whether or not it connected
  again: nats-py gives up for good after that close, so it is often the reason a pod has no connection).
- `no_subscriptions`: connected, but its connections hold no subscription at all (typically reconnected without
  restoring them). Apps listed in `publish_only` are never given this verdict.
- `half_open`: its latest log event says connected, yet no server lists a connection of it (a zombie client).
- `not_connected`: ready for longer than `grace`, and no server lists a connection of it.
- `unknown` (ours, beside the five of the contract): no server lists a connection, but absence proves nothing yet:
  the pod is within its grace period, the log event is newer than the poll, or some servers of the cluster did not
  answer (the pod may be connected to one of those; the view says how many answered of how many expected). This is
  the choice made for partial views: a pod is never called `not_connected` or `half_open` on an incomplete view.
Pods that are not ready are listed (verdict None) but given no verdict and not expected.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from exporter.config.server_view import VerdictRules
from exporter.servers.model import Connection, ExpectedPod, JoinResult, LogEntry, PodKey, ServerView, Verdict

LOG_CONNECTED = "connected"  # the log view's state for a pod whose latest event is "connected" (logwatch PodState)


@dataclass(frozen=True, slots=True)
class PodVerdict:
    pod: ExpectedPod
    verdict: Verdict | None  # None: not expected (not ready)
    detail: str
    connections: tuple[Connection, ...] = ()

    @property
    def subscriptions(self) -> int:
        return sum(c.subscriptions for c in self.connections)

    @property
    def pending_bytes_max(self) -> int:
        return max((c.pending_bytes for c in self.connections), default=0)

    @property
    def servers(self) -> tuple[str, ...]:
        return tuple(sorted({c.server for c in self.connections}))


def _since(pod: ExpectedPod) -> float | None:
    """When the pod could first be expected to connect: the later of its start and its becoming ready."""
    start, ready = pod.start_time, pod.ready_since
    if start is None or ready is None:
        return ready if start is None else start
    return max(start, ready)


def verdict_for(
    pod: ExpectedPod,
    connections: Sequence[Connection],
    view: ServerView,
    log: LogEntry | None,
    slow_closed_at: float | None,
    rules: VerdictRules,
) -> PodVerdict:
    now = view.collected_at
    found = tuple(connections)
    if not pod.ready:
        return PodVerdict(pod, None, "not ready: not expected to be connected", found)
    since = _since(pod)
    in_grace = since is not None and now - since < rules.grace
    if found:
        pending = max(c.pending_bytes for c in found) if len(found) > 1 else found[0].pending_bytes
        if pending > rules.slow_consumer_bytes:
            return PodVerdict(pod, Verdict.SLOW_CONSUMER, f"{pending} bytes pending on a connection", found)
        if slow_closed_at is not None and now - slow_closed_at <= rules.slow_consumer_window:
            return PodVerdict(pod, Verdict.SLOW_CONSUMER, "a server closed a connection as a slow consumer", found)
        if not any(c.subscriptions for c in found) and pod.app not in rules.publish_only and not in_grace:
            return PodVerdict(pod, Verdict.NO_SUBSCRIPTIONS, f"{len(found)} connection(s), no subscription", found)
        return PodVerdict(pod, Verdict.CONNECTED, f"{len(found)} connection(s)", found)
    recently_slow = slow_closed_at is not None and now - slow_closed_at <= rules.slow_consumer_window
    if recently_slow:
        return PodVerdict(pod, Verdict.SLOW_CONSUMER, "closed as a slow consumer; no connection since")
    if not view.ok:
        return PodVerdict(pod, Verdict.UNKNOWN, f"no view of the servers ({view.failure})")
    if not view.complete:
        return PodVerdict(
            pod,
            Verdict.UNKNOWN,
            f"not seen by the {view.answered} of {view.expected_servers} servers that answered",
        )
    if in_grace:
        return PodVerdict(pod, Verdict.UNKNOWN, f"started {now - since:.0f}s ago: within the grace period")  # type: ignore[operator]
    log_connected = log is not None and log.state == LOG_CONNECTED
    if log_connected and log is not None and log.at is not None and log.at > now:
        return PodVerdict(pod, Verdict.UNKNOWN, "its log says connected after the last poll")
    if log_connected:
        return PodVerdict(pod, Verdict.HALF_OPEN, "its log says connected; no server lists a connection")
    return PodVerdict(pod, Verdict.NOT_CONNECTED, "no server lists a connection")


def verdicts(
    pods: Sequence[ExpectedPod],
    joined: JoinResult,
    view: ServerView,
    logs: Mapping[PodKey, LogEntry],
    slow_closed_at: Mapping[PodKey, float],
    rules: VerdictRules,
) -> tuple[PodVerdict, ...]:
    """Every pod's verdict, in the order of `pods`."""
    return tuple(
        verdict_for(
            pod,
            joined.by_pod.get(pod.key, ()),
            view,
            logs.get(pod.key),
            slow_closed_at.get(pod.key),
            rules,
        )
        for pod in pods
    )


def count(results: Collection[PodVerdict]) -> dict[Verdict, int]:
    counts = dict.fromkeys(Verdict, 0)
    for result in results:
        if result.verdict is not None:
            counts[result.verdict] += 1
    return counts
