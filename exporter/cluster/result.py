"""What one interval of cluster probing found, as values: the metrics, the page and `check` are views of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from exporter.probe.result import ProbeResult


class HealthzMode(StrEnum):
    """The two `/healthz` questions: everything assigned to the server is current, or only that JetStream is on."""

    FULL = "full"
    JS_ENABLED_ONLY = "js_enabled_only"


class ServerReason(StrEnum):
    """Why a server's own probe failed beyond the core probe's reasons (those come from `ProbeResult.reason`)."""

    NOT_VERIFIED = "not_verified"  # the answer carried no server_name, or another address answered with the same id


class RouteResult(StrEnum):
    """How one route probe (publish on A, receive on B) ended: a fixed set, safe as a label value."""

    SUCCESS = "success"
    NO_INTEREST = "no_interest"  # A kept answering "no responders": B's subscription never reached A
    TIMEOUT = "timeout"  # A knew of B's interest, but the message never arrived on B
    SERVER_UNREACHABLE = "server_unreachable"  # no connection to A or to B (their own probe says why)
    PERMISSION_DENIED = "permission_denied"  # the server refused our subscribe or publish on the probe subject
    INTERNAL_ERROR = "internal_error"  # a bug in the exporter: logged with a traceback


class JetStreamPhase(StrEnum):
    """The canary's steps, in order."""

    JS_INFO = "js_info"
    STREAM_INFO = "stream_info"
    PUBLISH = "publish"
    FETCH = "fetch"


class JetStreamReason(StrEnum):
    """Why the JetStream canary failed: from JetStream error codes, the INFO flag, or a permissions -ERR."""

    JS_NOT_ENABLED = "js_not_enabled"  # the server (or the account) has no JetStream
    NO_LEADER = "no_leader"  # the canary stream has no leader
    QUORUM_LOST = "quorum_lost"  # the meta group or the stream's peers cannot form a quorum (10008, 10005)
    ACK_TIMEOUT = "ack_timeout"  # a publish got no acknowledgement in time
    STORAGE_EXHAUSTED = "storage_exhausted"  # server or account storage/memory/limits exhausted
    STREAM_FULL = "stream_full"  # the stream refused to store the message (10077)
    NOT_AUTHORIZED = "not_authorized"  # `-ERR Permissions Violation` on $JS.API or the canary subject
    NO_RESPONDERS = "no_responders"  # JetStream announced but nothing answered (JetStream down on that server)
    CONSUMER_STALLED = "consumer_stalled"  # the message was stored but the consumer did not deliver it
    TIMEOUT = "timeout"  # the canary's deadline passed (no answer at all)
    CONNECT_FAILED = "connect_failed"  # the canary could not connect to the target (the core probe says why)
    INTERNAL_ERROR = "internal_error"  # any other JetStream error code, or a bug of ours


class ReplicaState(StrEnum):
    CURRENT = "current"
    LAGGING = "lagging"
    OFFLINE = "offline"


class UsageResource(StrEnum):
    MEMORY = "memory"
    STORAGE = "storage"
    STREAMS = "streams"
    CONSUMERS = "consumers"


@dataclass(frozen=True, slots=True)
class ServerResult:
    """One server probed on its own through its own address, and its monitoring endpoint if reachable."""

    address: str  # the address we dialled (pod IP or the URL's host:port): bounded by the servers of the target
    server_name: str  # from INFO; the `server` label (falls back to the last name seen at this address)
    server_id: str
    probe: ProbeResult
    verified: bool
    ready: bool | None = None  # the endpoint's readiness as Kubernetes says it (None: not known)
    healthz: Mapping[HealthzMode, bool] = field(default_factory=dict)  # only the modes that answered

    @property
    def ok(self) -> bool:
        return self.probe.ok and self.verified

    @property
    def ready_but_unhealthy(self) -> bool | None:
        """True when Kubernetes routes clients here while the full /healthz fails; None when unknown."""
        full = self.healthz.get(HealthzMode.FULL)
        if self.ready is None or full is None:
            return None
        return self.ready and not full


@dataclass(frozen=True, slots=True)
class RouteProbe:
    """One ordered pair in one account: publish on `from_server`, receive on `to_server`."""

    from_server: str
    to_server: str
    account: str
    result: RouteResult
    interest_seconds: float | None = None  # until A stopped answering "no responders" for B's new subscription
    delivery_seconds: float | None = None  # from the publish on A to the message on B
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.result is RouteResult.SUCCESS


@dataclass(frozen=True, slots=True)
class JetStreamResult:
    target: str
    started_at: float
    phases: Mapping[JetStreamPhase, float] = field(default_factory=dict)  # seconds, phases completed
    reason: JetStreamReason | None = None
    failed_phase: JetStreamPhase | None = None
    detail: str = ""
    err_code: int | None = None  # the JetStream error code behind the reason, when the server sent one
    leader: str = ""
    replicas: Mapping[ReplicaState, int] = field(default_factory=dict)
    usage: Mapping[UsageResource, float] = field(default_factory=dict)  # used / limit, only for finite limits

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """One interval's work for one target."""

    target: str
    started_at: float
    duration: float
    servers: tuple[ServerResult, ...] = ()
    routes: tuple[RouteProbe, ...] = ()  # the pairs probed this interval (all of them, or this interval's sample)
    pairs_total: int = 0  # ordered pairs the cluster has, probed or not
    jetstream: JetStreamResult | None = None  # None: the canary is off for this target
