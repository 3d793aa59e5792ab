"""Property: `CriCounter.feed`, however the lines are cut into chunks, counts exactly what a plain line-by-line
reading counts: the same lines, the same events at the same times, the same malformed lines by reason, the same
unfinished partial lines. The counter's fast path (whole `F` lines checked in blocks, events found by the matcher
over a run) must never differ from this reference, which splits each line at its first three spaces."""

from __future__ import annotations

import re
from calendar import timegm
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from exporter.agent.cri import MAX_LINE_BYTES, Counted, CriCounter, Malformed, parse_time
from exporter.config.logs import Event, Patterns

READ_TIME = -1.0  # the clock: an event whose time does not parse is dated with it

# RFC 3339 as the counter documents it, parsed the slow, obvious way.
_REFERENCE_TIME = re.compile(
    rb"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9})\d*)?(?:[Zz]|([+-])(\d\d):(\d\d))"
)


def reference_time(token: bytes) -> float | None:
    match = _REFERENCE_TIME.fullmatch(token)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, hours, minutes = match.groups()
    try:  # timegm refuses a month outside 1..12 or year 0 (and takes day 45 or second 60 as arithmetic)
        seconds = float(timegm((int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0)))
    except ValueError:
        return None
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    if sign:
        offset = int(hours) * 3600 + int(minutes) * 60
        seconds += -offset if sign == b"+" else offset
    return seconds


@dataclass
class Reference:
    """One line at a time: `<time> <stream> <tag> <message>`, parts joined per stream."""

    patterns: Patterns
    lines: int = 0
    events: list[tuple[Event, float]] = field(default_factory=list)
    malformed: Counter[Malformed] = field(default_factory=Counter)
    partial: dict[str, bytes] = field(default_factory=dict)

    def event(self, message: bytes) -> Event | None:
        for event in Event:
            if any(text.encode() in message for text in self.patterns.substrings.get(event, ())):
                return event
            if any(re.search(regex.encode(), message, re.MULTILINE) for regex in self.patterns.regexes.get(event, ())):
                return event
        return None

    def line(self, line: bytes) -> None:
        fields = line.split(b" ", 3)
        if len(fields) < 4:
            self.malformed[Malformed.NO_FIELDS] += 1
            return
        token, stream_bytes, tag, message = fields
        if stream_bytes not in (b"stdout", b"stderr"):
            self.malformed[Malformed.BAD_STREAM] += 1
            return
        if tag not in (b"P", b"F"):
            self.malformed[Malformed.BAD_TAG] += 1
            return
        stream = stream_bytes.decode()
        held = self.partial.pop(stream, None)
        if held is not None:
            message = held + message[: MAX_LINE_BYTES - len(held)] if len(held) < MAX_LINE_BYTES else held
        if tag == b"P":
            self.partial[stream] = message
            return
        if held is not None and len(message) >= MAX_LINE_BYTES:
            self.malformed[Malformed.OVERLONG] += 1
        self.lines += 1
        event = self.event(message)
        if event is not None:
            at = reference_time(token)
            if at is None:
                self.malformed[Malformed.BAD_TIMESTAMP] += 1
                at = READ_TIME
            self.events.append((event, at))

    def finish(self) -> None:
        for message in self.partial.values():
            self.lines += 1
            event = self.event(message)
            if event is not None:
                self.events.append((event, READ_TIME))
        self.partial.clear()


def no_newline(data: bytes) -> bytes:
    return data.replace(b"\n", b"")


VALID_TIME = st.builds(
    lambda date, separator, clock, fraction, zone: date + separator + clock + fraction + zone,
    st.sampled_from((b"2026-11-30", b"1999-02-28", b"2026-12-45", b"2026-13-01", b"0000-01-01", b"1970-01-01")),
    st.sampled_from((b"T", b"t")),
    st.sampled_from((b"12:00:00", b"23:59:59", b"00:00:60")),
    st.one_of(st.just(b""), st.text("0123456789", min_size=1, max_size=12).map(lambda d: b"." + d.encode())),
    st.sampled_from((b"Z", b"z", b"+01:00", b"-05:30", b"+00:00", b"-00:00")),
)
ODD_TIME = st.sampled_from(
    (
        b"",
        b"yesterday",
        b"2026-11-30",
        b"2026-11-30T12:00:00",
        b"2026-11-30T12:00:00+0100",
        b"2026-11-30T12:00:00.Z",
        b"2026-11-30T12:00:00.5+01:00Z",
        b"2026-11-30T12:00:00,5Z",
        b"2026-11-30T12:00:00.5_5Z",  # int() would take these fractions
        b"2026-11-30T12:00:00.+5Z",
        b"2026-11-30T12:00:00. 5Z",
        b"2026-11-30T12:00:00.\xd9\xa1Z",  # not an ASCII digit
        b"2026-11-30T12:00:00\t.5Z",
        b"\x01" + b"2026-11-30T12:00:00Z",
    )
)
TIME = st.one_of(VALID_TIME, VALID_TIME, ODD_TIME, st.binary(max_size=12).map(no_newline))
FRAGMENT = st.one_of(
    st.sampled_from(
        (
            b"Connected to NATS server",
            b"Failed to connect to NATS",
            b"NATS connection lost",
            b"Connected to NA",
            b"TS server",
            b"NATS conn",
            b"ection lost",
            b"NATS",
            b" ",
            b"stdout F ",
            b" stderr P ",
            b"2026-11-30T12:00:00Z stdout F ",
            b"\r",
            b"\t",
            b"\xff",
            b"ok",
        )
    ),
    st.binary(max_size=20).map(no_newline),
)
MESSAGE = st.lists(FRAGMENT, max_size=4).map(b"".join)
CRI_LINE = st.builds(
    lambda token, stream, tag, message: b" ".join((token, stream, tag, message)),
    TIME,
    st.sampled_from((b"stdout", b"stdout", b"stderr", b"stderr", b"stdin", b"", b"STDOUT")),
    st.sampled_from((b"F", b"F", b"F", b"P", b"P", b"X", b"", b"FF")),
    MESSAGE,
)
GARBAGE = st.one_of(
    st.sampled_from((b"", b"garbage", b"a b", b"a b c", b"NATS connection lost", b"x stdout F")),
    st.binary(max_size=40).map(no_newline),
)
PLAIN_LINE = st.builds(
    lambda token, stream, message: b" ".join((token, stream, b"F", message)),
    VALID_TIME,
    st.sampled_from((b"stdout", b"stderr")),
    MESSAGE,
)
LINE = st.one_of(PLAIN_LINE, PLAIN_LINE, CRI_LINE, CRI_LINE, GARBAGE)

# Around the chunk in its buffer, as the follower's read buffer has: must never be read.
BEFORE = b"2026-11-30T12:00:00Z stdout F Connected to NATS server junk "
AFTER = b"2026-11-30T12:00:00Z stdout F NATS connection lost"

SUBSTRINGS = Patterns.defaults()
WITH_REGEXES = Patterns(
    substrings={Event.LOST: ("NATS connection lost",)},
    regexes={Event.CONNECTED: ("^Connected to NATS",), Event.FAILED: ("connect to NATS$", r"F\s+ok")},
)
# Substrings that the CRI prefix holds (a time, a stream, `F` and the spaces around it): never matched there.
IN_PREFIX = Patterns(
    substrings={Event.CONNECTED: ("F Connected", "Connected to NATS server"), Event.LOST: (" NATS", "00Z", "stdout")},
    regexes={},
)


def check(patterns: Patterns, lines: list[bytes], data: st.DataObject) -> None:
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(lines)), max_size=6), label="cuts")))
    counter = CriCounter(patterns, clock=lambda: READ_TIME)
    total = Counted()
    for first, last in zip([0, *cuts], [*cuts, len(lines)], strict=True):
        chunk = b"".join(line + b"\n" for line in lines[first:last])
        if data.draw(st.booleans(), label="in a larger buffer"):
            buffer = bytearray(BEFORE + chunk + AFTER)
            total.add(counter.feed(buffer, len(BEFORE), len(BEFORE) + len(chunk)))
        else:
            total.add(counter.feed(chunk))
    reference = Reference(patterns)
    for line in lines:
        reference.line(line)
    assert counter.partial == reference.partial
    total.add(counter.finish_partials())
    reference.finish()
    assert total.lines == reference.lines
    assert total.events == reference.events  # the same events, in order, at exactly the same times
    assert +total.malformed == +reference.malformed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE, max_size=40), data=st.data())
def test_feed_counts_what_a_line_by_line_reading_counts(lines: list[bytes], data: st.DataObject) -> None:
    check(SUBSTRINGS, lines, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE, max_size=40), data=st.data())
def test_with_regexes_too(lines: list[bytes], data: st.DataObject) -> None:
    check(WITH_REGEXES, lines, data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE, max_size=40), data=st.data())
def test_substrings_that_the_prefix_holds_match_only_the_message(lines: list[bytes], data: st.DataObject) -> None:
    check(IN_PREFIX, lines, data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.builds(
            lambda stream, message: b"2026-11-30T12:00:00.5+01:00 " + stream + b" F " + message,
            st.sampled_from((b"stdout", b"stderr")),
            MESSAGE,
        ),
        min_size=60,
        max_size=300,
    ),
    breaks=st.lists(st.tuples(st.integers(0, 299), LINE), max_size=4),
    data=st.data(),
)
def test_long_runs_of_whole_lines_with_a_few_others(
    lines: list[bytes], breaks: list[tuple[int, bytes]], data: st.DataObject
) -> None:
    """Runs longer than a block (64 lines), broken here and there: blocks, their rest and the exceptions."""
    for index, line in breaks:
        lines.insert(min(index, len(lines)), line)
    check(SUBSTRINGS, lines, data)


@given(token=st.one_of(TIME, st.binary(max_size=40)))
@example(token=b"1970-01-01T00:00:00.1234567899Z")  # digits past the ninth do not count
def test_parse_time_is_the_reference_parser(token: bytes) -> None:
    expected = reference_time(token)
    if expected is None:
        try:
            parse_time(token)
        except ValueError:
            return
        raise AssertionError(f"{token!r} parsed")
    assert parse_time(token) == expected
