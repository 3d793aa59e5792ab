"""Close reasons: every text nats-server 2.15 writes maps to the fixed set, in one function."""

from __future__ import annotations

import pytest

from exporter.servers.connz import ConnzError, parse_connz, parse_reply, timestamp
from exporter.servers.model import CloseReason, close_reason

# The texts of nats-server's ClosedState (read from the 2.15.1 binary the tests run).
SERVER_TEXTS = {
    "Client Closed": CloseReason.CLIENT_CLOSED,
    "Slow Consumer (Pending Bytes)": CloseReason.SLOW_CONSUMER,
    "Slow Consumer (Write Deadline)": CloseReason.SLOW_CONSUMER,
    "Stale Connection": CloseReason.STALE_CONNECTION,
    "Authentication Failure": CloseReason.AUTH_FAILURE,
    "Authentication Timeout": CloseReason.AUTH_FAILURE,
    "Authentication Expired": CloseReason.AUTH_EXPIRED,
    "Credentials Revoked": CloseReason.AUTH_EXPIRED,
    "Server Shutdown": CloseReason.SERVER_SHUTDOWN,
    "Maximum Connections Exceeded": CloseReason.MAX_CONNECTIONS,
    "Maximum Account Connections Exceeded": CloseReason.MAX_CONNECTIONS,
    "Protocol Violation": CloseReason.PROTOCOL_ERROR,
    "Parse Error": CloseReason.PROTOCOL_ERROR,
    "Maximum Message Payload Exceeded": CloseReason.PROTOCOL_ERROR,
    "Write Error": CloseReason.WRITE_ERROR,
    "Read Error": CloseReason.READ_ERROR,
    "Kicked": CloseReason.OTHER,
    "Duplicate Client ID": CloseReason.OTHER,
    "Something New In 2.16": CloseReason.OTHER,
    "": CloseReason.OTHER,
}


@pytest.mark.parametrize(("text", "reason"), SERVER_TEXTS.items())
def test_close_reason(text: str, reason: CloseReason) -> None:
    assert close_reason(text) is reason


def test_timestamps_keep_nanoseconds_and_zones() -> None:
    assert timestamp("2026-11-30T11:47:11.979174743Z") == pytest.approx(1796039231.979174)
    assert timestamp("2026-11-30T12:47:11.979174743+01:00") == pytest.approx(1796039231.979174)
    assert timestamp("yesterday") is None


def test_malformed_rows_are_skipped_and_counted() -> None:
    page = parse_connz(
        {
            "server_id": "S1",
            "total": 3,
            "connections": [
                {"cid": 1, "ip": "10.0.0.1", "start": "2026-11-30T11:47:11Z", "subscriptions": 2},
                {"cid": "two", "ip": "10.0.0.2", "start": "2026-11-30T11:47:11Z"},
                "garbage",
            ],
        },
        server_name="nats-0",
    )
    assert [c.cid for c in page.connections] == [1]
    assert page.skipped == 2
    assert page.total == 3


def test_a_reply_without_data_is_an_error() -> None:
    with pytest.raises(ConnzError):
        parse_reply(b'{"error": {"code": 503, "description": "unavailable"}}')
    with pytest.raises(ConnzError):
        parse_reply(b"\xff not json")
