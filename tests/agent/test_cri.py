"""The CRI parser: partial lines joined per stream, patterns matched on the message only, malformed lines counted."""

from __future__ import annotations

import pytest

from exporter.agent.cri import MAX_LINE_BYTES, Counted, CriCounter, Malformed, parse_time
from exporter.config.logs import Event, Patterns

T = b"2026-11-30T12:00:00.123456789Z"


def feed(counter: CriCounter, *lines: bytes) -> Counted:
    return counter.feed(b"".join(line + b"\n" for line in lines))


def events(counted: Counted) -> list[Event]:
    return [event for event, _ in counted.events]


def test_whole_lines_are_counted_and_events_found() -> None:
    counted = feed(
        CriCounter(Patterns.defaults()),
        T + b" stdout F hello",
        T + b" stderr F Connected to NATS server nats://x:4222",
        T + b" stdout F NATS connection lost",
    )
    assert counted.lines == 3
    assert events(counted) == [Event.CONNECTED, Event.LOST]
    assert not counted.malformed


def test_partial_lines_are_joined_per_stream_before_matching() -> None:
    counter = CriCounter(Patterns.defaults())
    counted = feed(
        counter,
        T + b" stdout P Connected to NA",
        T + b" stderr P Failed to con",
        T + b" stdout F TS server",  # closes stdout's line: "Connected to NATS server"
        T + b" stderr F nect to NATS",
    )
    assert counted.lines == 2
    assert events(counted) == [Event.CONNECTED, Event.FAILED]


def test_a_partial_line_carries_over_to_the_next_chunk() -> None:
    counter = CriCounter(Patterns.defaults())
    first = feed(counter, T + b" stdout P NATS connec")
    assert first.lines == 0
    second = feed(counter, T + b" stdout F tion lost", T + b" stdout F next")
    assert second.lines == 2
    assert events(second) == [Event.LOST]


def test_the_prefix_is_never_matched() -> None:
    # A regex that would match the prefix's stream field, and a case-sensitive substring.
    patterns = Patterns(substrings={Event.LOST: ("NATS connection lost",)}, regexes={Event.FAILED: ("stdout F",)})
    counted = feed(
        CriCounter(patterns),
        T + b" stdout F nats connection lost",  # wrong case: not an event
        T + b" stdout F plain",
    )
    assert counted.lines == 2
    assert events(counted) == []


def test_anchored_regexes_match_at_the_message_start() -> None:
    patterns = Patterns(substrings={}, regexes={Event.CONNECTED: ("^nats: connected",)})
    counted = feed(CriCounter(patterns), T + b" stdout F nats: connected to x", T + b" stdout F say nats: connected")
    assert events(counted) == [Event.CONNECTED]


def test_malformed_lines_are_counted_by_reason_and_skipped() -> None:
    counted = feed(
        CriCounter(Patterns.defaults()),
        b"garbage",
        T + b" stdin F Connected to NATS server",
        T + b" stdout X Connected to NATS server",
        T + b" stdout F NATS connection lost",
    )
    assert counted.lines == 1
    assert events(counted) == [Event.LOST]
    assert counted.malformed == {Malformed.NO_FIELDS: 1, Malformed.BAD_STREAM: 1, Malformed.BAD_TAG: 1}


def test_an_event_with_an_unreadable_time_still_counts_at_the_read_time() -> None:
    counter = CriCounter(Patterns.defaults(), clock=lambda: 42.0)
    counted = feed(counter, b"yesterday stdout F NATS connection lost")
    assert counted.events == [(Event.LOST, 42.0)]
    assert counted.malformed == {Malformed.BAD_TIMESTAMP: 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"2026-11-30T12:00:00Z", 1796040000.0),
        (b"2026-11-30T12:00:00.5Z", 1796040000.5),
        (b"2026-11-30T13:00:00.25+01:00", 1796040000.25),
        (b"2026-11-30T06:30:00-05:30", 1796040000.0),
    ],
)
def test_times_with_any_offset(text: bytes, expected: float) -> None:
    assert parse_time(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", [b"2026-11-30", b"2026-11-30T12:00:00", b"2026-11-30T12:00:00+0100", b"xx"])
def test_bad_times_are_refused(text: bytes) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_time(text)


def test_event_times_come_from_offset_timestamps() -> None:
    counted = feed(CriCounter(Patterns.defaults()), b"2026-11-30T13:00:00.5+01:00 stdout F NATS connection lost")
    [(event, at)] = counted.events
    assert event is Event.LOST
    assert at == pytest.approx(1796040000.5)


def test_a_regex_hit_is_dated_by_its_own_line_not_an_earlier_one_ending_alike() -> None:
    patterns = Patterns(substrings={}, regexes={Event.CONNECTED: ("^Connected to NATS",)})
    counted = feed(
        CriCounter(patterns),
        b"2026-11-30T12:00:01Z stdout F say Connected to NATS",  # ends with the hit's message; no hit itself
        b"2026-11-30T12:00:02Z stdout F Connected to NATS",
    )
    assert counted.events == [(Event.CONNECTED, 1796040002.0)]


def test_a_joined_line_past_the_limit_counts_once_as_overlong_and_matches_its_start() -> None:
    counter = CriCounter(Patterns.defaults())
    half = b"x" * (MAX_LINE_BYTES // 2 + 1)
    counted = feed(
        counter,
        T + b" stdout P NATS connection lost " + half,
        T + b" stdout P " + half,
        T + b" stdout F Connected to NATS server",  # past the limit: not matched
        T + b" stdout F next",
    )
    assert counted.lines == 2
    assert events(counted) == [Event.LOST]
    assert counted.malformed == {Malformed.OVERLONG: 1}
