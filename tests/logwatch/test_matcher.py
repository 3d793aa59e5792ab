"""The three lines of the guide, and users' own substrings and regexes, found in buffers of whole lines."""

from __future__ import annotations

from exporter.config.logs import Event, Patterns
from exporter.logwatch.matcher import Matcher


def events(matcher: Matcher, data: bytes) -> list[tuple[bytes, Event]]:
    return [(data[start : data.find(b"\n", start)], event) for start, event in matcher.scan(data)]


def test_default_patterns_find_the_guides_lines_in_order() -> None:
    data = (
        b"2024 INFO starting\n"
        b"2024 INFO Connected to NATS server at nats://nats-server:4222\n"
        b"noise\n"
        b"2024 ERROR NATS connection lost: EOF\n"
        b"2024 ERROR Failed to connect to NATS: timeout\n"
        b"2024 INFO Connected to NATS server again\n"
    )
    found = events(Matcher(Patterns.defaults()), data)
    assert [event for _, event in found] == [Event.CONNECTED, Event.LOST, Event.FAILED, Event.CONNECTED]
    assert found[1][0] == b"2024 ERROR NATS connection lost: EOF"


def test_a_line_counts_once_even_when_several_patterns_match() -> None:
    data = b"Connected to NATS server after Failed to connect to NATS twice, Connected to NATS server\n"
    assert events(Matcher(Patterns.defaults()), data) == [(data.rstrip(), Event.CONNECTED)]


def test_regexes_and_substrings_together() -> None:
    patterns = Patterns(
        substrings={Event.CONNECTED: ("nats up",)},
        regexes={Event.LOST: (r"^\S+ WARN nats: disconnected",), Event.FAILED: (r"dial tcp .*: connection refused",)},
    )
    data = (
        b"x nats up\n"
        b"T WARN nats: disconnected\n"
        b"not at start T WARN nats: disconnected\n"
        b"dial tcp 1.2.3.4:4222: connection refused\n"
    )
    assert [event for _, event in events(Matcher(patterns), data)] == [Event.CONNECTED, Event.LOST, Event.FAILED]


def test_invalid_utf8_and_a_match_on_the_last_line_without_newline() -> None:
    data = b"\xff\xfe garbage \xc3\x28\nConnected to NATS server \xff"
    assert [event for _, event in Matcher(Patterns.defaults()).scan(data)] == [Event.CONNECTED]
