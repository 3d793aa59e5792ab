"""The one place where what went wrong becomes a reason: JetStream error codes, the INFO flag, permission -ERRs.

JetStream reasons come from the numeric `err_code` the server sends (nats-server `server/errors.json`), never from
the description text. A permissions violation has no code: the server sends `-ERR 'Permissions Violation for ...'`
on the connection (the protocol's only form for it), which nats-py hands to `error_cb` and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import nats.errors
import nats.js.errors

from exporter.cluster.result import JetStreamPhase, JetStreamReason, RouteResult

# nats-server server/errors.json: error_code -> reason
JS_NOT_ENABLED_CODES = frozenset({10039, 10076})  # JSNotEnabledForAccountErr, JSNotEnabledErr
QUORUM_LOST_CODES = frozenset({10008, 10005})  # JSClusterNotAvailErr, JSClusterNoPeersErrF
NO_LEADER_CODES = frozenset({10009})  # JSClusterNotLeaderErr
STORAGE_EXHAUSTED_CODES = frozenset(
    {
        10002,  # JSAccountResourcesExceededErr
        10023,  # JSInsufficientResourcesErr
        10026,  # JSMaximumConsumersLimitErr
        10027,  # JSMaximumStreamsLimitErr
        10028,  # JSMemoryResourcesExceededErr
        10047,  # JSStorageResourcesExceededErr
    }
)
STREAM_FULL_CODES = frozenset({10077, 10053})  # JSStreamStoreFailedF, JSStreamLimitsErrF
STREAM_NOT_FOUND = 10059  # JSStreamNotFoundErr
CONSUMER_NOT_FOUND = 10014  # JSConsumerNotFoundErr
_PERMISSIONS_MARKER = "permissions violation"  # nats-py's own marker for this -ERR (protocol/parser.py)


class CanaryFailure(Exception):
    """A condition the canary detects itself (no leader, the message not delivered), with its reason."""

    def __init__(self, reason: JetStreamReason, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def is_permission_error(exc: BaseException) -> bool:
    """True for the `-ERR 'Permissions Violation ...'` nats-py passes to error_cb (it keeps the connection open)."""
    return isinstance(exc, nats.errors.Error) and _PERMISSIONS_MARKER in str(exc).lower()


def classify_jetstream(
    exc: BaseException, phase: JetStreamPhase, seen: Sequence[BaseException] = (), *, quorum: bool = True
) -> tuple[JetStreamReason, int | None]:
    """Map a canary's failure (and what error_cb saw) to its reason and the JetStream error code behind it.

    `quorum` is False when the stream info just read showed fewer current replicas than a majority: a leader
    that has not yet noticed its peers are gone still answers stream info, but cannot commit, so the publish (or
    the fetch's ack) then times out. nats-server reports 10008 only 10 to 20 s later.
    """
    if isinstance(exc, CanaryFailure):
        return exc.reason, None
    if any(is_permission_error(earlier) for earlier in seen):
        return JetStreamReason.NOT_AUTHORIZED, None
    if isinstance(exc, nats.js.errors.APIError) and exc.err_code is not None:
        return _from_code(exc.err_code), exc.err_code
    if isinstance(exc, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError):
        return JetStreamReason.NO_RESPONDERS, None
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):  # a 503 status with no body: no responders
        return JetStreamReason.NO_RESPONDERS, None
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError):
        if not quorum and phase in (JetStreamPhase.PUBLISH, JetStreamPhase.FETCH):
            return JetStreamReason.QUORUM_LOST, None
        if phase is JetStreamPhase.PUBLISH:
            return JetStreamReason.ACK_TIMEOUT, None
        if phase is JetStreamPhase.FETCH:
            return JetStreamReason.CONSUMER_STALLED, None
        return JetStreamReason.TIMEOUT, None
    return JetStreamReason.INTERNAL_ERROR, None


def _from_code(code: int) -> JetStreamReason:
    if code in JS_NOT_ENABLED_CODES:
        return JetStreamReason.JS_NOT_ENABLED
    if code in QUORUM_LOST_CODES:
        return JetStreamReason.QUORUM_LOST
    if code in NO_LEADER_CODES:
        return JetStreamReason.NO_LEADER
    if code in STORAGE_EXHAUSTED_CODES:
        return JetStreamReason.STORAGE_EXHAUSTED
    if code in STREAM_FULL_CODES:
        return JetStreamReason.STREAM_FULL
    return JetStreamReason.INTERNAL_ERROR


def classify_route(exc: BaseException, seen: Sequence[BaseException] = ()) -> RouteResult:
    """A route probe that raised (rather than ending in no_interest/timeout by its own account)."""
    if any(is_permission_error(earlier) for earlier in (*seen, exc)):
        return RouteResult.PERMISSION_DENIED
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError):
        return RouteResult.TIMEOUT
    if isinstance(exc, OSError | nats.errors.ConnectionClosedError | nats.errors.NoServersError):
        return RouteResult.SERVER_UNREACHABLE
    return RouteResult.INTERNAL_ERROR
