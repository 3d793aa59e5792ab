"""JetStream error codes (nats-server server/errors.json) map to reasons; message text never decides."""

from __future__ import annotations

import nats.errors
import nats.js.errors
import pytest

from exporter.cluster.failure import classify_jetstream, classify_route
from exporter.cluster.result import JetStreamPhase, JetStreamReason, RouteResult


@pytest.mark.parametrize(
    ("err_code", "reason"),
    [
        (10039, JetStreamReason.JS_NOT_ENABLED),
        (10076, JetStreamReason.JS_NOT_ENABLED),
        (10008, JetStreamReason.QUORUM_LOST),
        (10005, JetStreamReason.QUORUM_LOST),
        (10009, JetStreamReason.NO_LEADER),
        (10047, JetStreamReason.STORAGE_EXHAUSTED),
        (10023, JetStreamReason.STORAGE_EXHAUSTED),
        (10028, JetStreamReason.STORAGE_EXHAUSTED),
        (10077, JetStreamReason.STREAM_FULL),
        (10003, JetStreamReason.INTERNAL_ERROR),
    ],
)
def test_the_error_code_decides_not_the_description(err_code: int, reason: JetStreamReason) -> None:
    misleading = nats.js.errors.APIError(code=503, err_code=err_code, description="insufficient storage no leader")
    assert classify_jetstream(misleading, JetStreamPhase.STREAM_INFO) == (reason, err_code)


def test_a_permissions_violation_seen_by_error_cb_wins_over_the_timeout_it_causes() -> None:
    seen = [nats.errors.Error('nats: Permissions Violation for Publish to "$JS.API.INFO"')]
    assert classify_jetstream(TimeoutError(), JetStreamPhase.JS_INFO, seen) == (JetStreamReason.NOT_AUTHORIZED, None)
    assert classify_route(TimeoutError(), seen) is RouteResult.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("phase", "reason"),
    [
        (JetStreamPhase.JS_INFO, JetStreamReason.TIMEOUT),
        (JetStreamPhase.PUBLISH, JetStreamReason.ACK_TIMEOUT),
        (JetStreamPhase.FETCH, JetStreamReason.CONSUMER_STALLED),
    ],
)
def test_a_timeout_means_what_its_phase_was_waiting_for(phase: JetStreamPhase, reason: JetStreamReason) -> None:
    assert classify_jetstream(nats.errors.TimeoutError(), phase)[0] is reason


def test_no_responders_without_a_code_is_no_responders() -> None:
    assert classify_jetstream(nats.js.errors.NoStreamResponseError(), JetStreamPhase.PUBLISH)[0] is (
        JetStreamReason.NO_RESPONDERS
    )
    assert classify_jetstream(nats.js.errors.ServiceUnavailableError(), JetStreamPhase.JS_INFO)[0] is (
        JetStreamReason.NO_RESPONDERS
    )


def test_a_publish_timeout_after_stream_info_showed_no_majority_is_quorum_lost() -> None:
    assert classify_jetstream(TimeoutError(), JetStreamPhase.PUBLISH, quorum=False)[0] is JetStreamReason.QUORUM_LOST
    assert classify_jetstream(TimeoutError(), JetStreamPhase.PUBLISH, quorum=True)[0] is JetStreamReason.ACK_TIMEOUT
