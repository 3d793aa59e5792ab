"""CRI log lines to counted application lines: `<time> <stdout|stderr> <P|F> <message>`, partials joined.

The runtime (containerd, CRI-O) splits a long line into `P` parts (16 KiB each by default) closed by an `F` part;
stdout and stderr are split independently, so each stream keeps its own unfinished line. Almost every line is a
whole `F` line: those are counted in bulk, in C. One regex walks a run of such lines 64 at a time (each block that
matches is 64 lines, so the run is counted as it is checked, with no separate pass for newlines); the matcher's
`bytes.find` passes then find the events in the run. Python looks only at the exceptions (`P` parts, the `F` that
closes them, malformed lines) and at the lines the matcher hits (about one in a hundred), whose message is matched
again alone, so a pattern never matches the CRI prefix. The time is parsed only where it is used: an event's time.

Malformed lines are counted by reason and otherwise skipped; nothing here raises on input.
"""

from __future__ import annotations

import re
import time
from calendar import timegm
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import cast

from exporter.config.logs import Event, Patterns
from exporter.logwatch.matcher import Matcher

MAX_LINE_BYTES = 1024 * 1024  # a joined line keeps at most this much of its message; its rest is not matched
STREAMS = ("stdout", "stderr")
BLOCK_LINES = 64  # lines per block match: fewer calls from Python, still little left over for `bytes.count`


def _plain_line(streams: bytes) -> bytes:
    """One whole `F` line of the given streams, newline included: the time, the stream, `F`, the message.

    The time is any run of bytes above space: stricter than the format (a line it refuses takes the line-by-line
    path, which decides), and it must exclude the newline, or a line with no space at all would be read as the
    time of the next one (`[^ ]` would be faster in `re`, and wrong). `.` is any byte but a newline (faster in `re`
    than `[^\\n]`). Possessive: nothing is tried twice.
    """
    return rb"[!-\xff]++ " + streams + rb" F .*+\n"


@dataclass(frozen=True, slots=True)
class _PlainRun:
    """How the whole `F` lines of the streams with no unfinished line are walked: blocks, then the rest at once."""

    first: re.Pattern[bytes]  # one line: whether a run starts here (the one call an exception line costs)
    block: re.Pattern[bytes]  # exactly BLOCK_LINES lines (unrolled 16 times, repeated: the fastest form in `re`)
    rest: re.Pattern[bytes]  # as many as there are (fewer than a block), counted apart

    @classmethod
    def of(cls, streams: bytes) -> _PlainRun:
        line = _plain_line(streams)
        block = re.compile(b"(?:" + line * 16 + b"){%d}+" % (BLOCK_LINES // 16))
        return cls(re.compile(line), block, re.compile(b"(?:" + line + b")*+"))


# By (stdout holds parts, stderr holds parts): a stream with an unfinished line has its lines read one by one.
_RUNS = {
    (False, False): _PlainRun.of(rb"std(?:out|err)"),
    (True, False): _PlainRun.of(b"stderr"),
    (False, True): _PlainRun.of(b"stdout"),
}
_EVERY_STREAM = _RUNS[False, False]
# A line's CRI prefix, for stripping every prefix of a buffer at once (regex patterns only).
_PREFIX = re.compile(rb"^\S+ std(?:out|err) [PF] ", re.MULTILINE)


class Malformed(StrEnum):
    """Why a line was not counted: a fixed set, so it can label a metric."""

    NO_FIELDS = "no_fields"  # fewer than four space-separated fields
    BAD_STREAM = "bad_stream"  # neither stdout nor stderr
    BAD_TAG = "bad_tag"  # neither P nor F
    BAD_TIMESTAMP = "bad_timestamp"  # an event line's time did not parse (the line still counts; read time used)
    OVERLONG = "overlong"  # a joined line past MAX_LINE_BYTES (counted once; its rest not matched)
    TRUNCATED = "truncated"  # a file ended inside a line, and the writer had moved on to the next file


_TIME = re.compile(rb"(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?(?:[Zz]|([+-])(\d\d):(\d\d))")


@lru_cache(maxsize=256)
def _whole_second(date_time_zone: bytes) -> tuple[float, int] | None:
    """(Unix seconds of the date and time, the zone's correction in seconds) of `<date>T<time><zone>` without a
    fraction, or None if that is not one: the part of a time that many lines share (one second's worth)."""
    match = _TIME.fullmatch(date_time_zone)
    if match is None:
        return None
    date_time, _fraction, sign, hours, minutes = match.groups()
    fields = (date_time[0:4], date_time[5:7], date_time[8:10], date_time[11:13], date_time[14:16], date_time[17:19])
    year, month, day, hour, minute, second = (int(value) for value in fields)
    offset = int(hours) * 3600 + int(minutes) * 60 if sign else 0
    return float(timegm((year, month, day, hour, minute, second, 0, 0, 0))), (-offset if sign == b"+" else offset)


def parse_time(token: bytes) -> float:
    """Unix seconds of an RFC 3339 time with any fraction and `Z` or a `±HH:MM` offset; ValueError if not one.

    containerd writes local time with its offset (`2026-11-30T12:00:00.5+01:00`), kubelet keeps it. The zone is
    the last byte (`Z`) or the last six; what lies between the seconds and the zone is the fraction (`.` and
    digits, the first nine of which count). The whole second and zone are looked up in a cache.
    """
    zone = len(token) - 1 if token[-1:] in (b"Z", b"z") else len(token) - 6
    whole = _whole_second(token[:19] + token[zone:]) if zone >= 19 else None
    fraction = token[19:zone]
    if whole is None or (fraction and (fraction[:1] != b"." or not fraction[1:].isdigit())):
        raise ValueError(token[:40])
    seconds, correction = whole
    if fraction:
        digits = fraction[1:10]
        seconds += int(digits) / 10 ** len(digits)
    return seconds + correction


def _as_bytes(data: bytes | bytearray) -> bytes:
    """The matcher is typed for bytes and reads a bytearray the same way (`find`, `re`): no copy needed."""
    return cast(bytes, data)


@dataclass(slots=True)
class Counted:
    """What one batch of CRI lines held: whole application lines, events with their times, malformed lines."""

    lines: int = 0
    events: list[tuple[Event, float]] = field(default_factory=list)
    malformed: Counter[Malformed] = field(default_factory=Counter)

    def add(self, other: Counted) -> None:
        self.lines += other.lines
        self.events.extend(other.events)
        self.malformed.update(other.malformed)


class CriCounter:
    """One container's CRI lines (all its files, in order) to counted lines. Feed whole lines only."""

    def __init__(self, patterns: Patterns, *, clock: Callable[[], float] = time.time) -> None:
        self._matcher = Matcher(patterns)
        # A hit's own message is checked against the substrings directly (cheaper than another scan), in the
        # matcher's order: a line naming several events counts for the first.
        self._literals = [(text.encode(), event) for event in Event for text in patterns.substrings.get(event, ())]
        self._message_only = any(patterns.regexes.values())  # a regex may anchor on `^`: match bare messages
        self._clock = clock
        self.partial: dict[str, bytes] = {}  # stream -> the message parts of its unfinished line

    def feed(self, data: bytes | bytearray, begin: int = 0, end: int | None = None) -> Counted:
        """Count data[begin:end], which ends with a newline (or is empty)."""
        stop = len(data) if end is None else end
        counted = Counted()
        position = begin
        while position < stop:
            partial = self.partial
            run = _RUNS.get(("stdout" in partial, "stderr" in partial)) if partial else _EVERY_STREAM
            if run is not None and run.first.match(data, position, stop) is not None:
                position = self._plain_run(run, data, position, stop, counted)
                continue
            newline = data.find(b"\n", position, stop)
            line_end = stop if newline == -1 else newline
            self._one_line(data, position, line_end, counted)
            position = line_end + 1
        return counted

    def finish_partials(self) -> Counted:
        """The instance ended (a new restart file): `P` parts never closed by an `F` are a line of their own."""
        counted = Counted()
        for message in self.partial.values():
            counted.lines += 1
            event = self._event(message)
            if event is not None:
                counted.events.append((event, self._clock()))
        self.partial.clear()
        return counted

    def _plain_run(self, run: _PlainRun, data: bytes | bytearray, begin: int, stop: int, counted: Counted) -> int:
        """Count the whole `F` lines from `begin` on (there is one) and find their events; return where they stop.
        Each block that matches is BLOCK_LINES lines; only the rest is counted apart."""
        position, lines = begin, 0
        block = run.block.match(data, position, stop)
        while block is not None:
            position, lines = block.end(), lines + BLOCK_LINES
            block = run.block.match(data, position, stop)
        rest = run.rest.match(data, position, stop)
        run_end = rest.end() if rest is not None else position
        counted.lines += lines + data.count(b"\n", position, run_end)
        if self._message_only:
            self._run_messages(data, begin, run_end, counted)
            return run_end
        literals, events = self._literals, counted.events
        for start, _event in self._matcher.scan(_as_bytes(data), begin, run_end):
            # `<time> stdout F ` or `<time> stderr F `: the message starts ten bytes after the first space. The
            # matcher looked at the whole line: which event, if any, is the message's own (as in `_event`).
            line_end = data.find(b"\n", start, run_end)
            first = data.find(b" ", start, line_end)
            for literal, event in literals:
                if data.find(literal, first + 10, line_end) != -1:
                    events.append((event, self._time(data[start:first], counted)))
                    break
        return run_end

    def _run_messages(self, data: bytes | bytearray, begin: int, end: int, counted: Counted) -> None:
        """With regexes: strip every prefix (in C) and match the bare messages; a hit's time is its line's.

        The run's lines and the stripped messages correspond one to one, in order: a hit's line is the next line
        from the previous hit's whose message is the hit's message (found with `find`, checked to start where its
        line's message starts, not inside a longer one).
        """
        messages = _PREFIX.sub(b"", data[begin:end])
        cursor = begin
        for start, event in self._matcher.scan(messages):
            needle = b" " + messages[start : messages.find(b"\n", start) + 1]
            found = data.find(needle, cursor, end)
            while found != -1:
                line_start = data.rfind(b"\n", begin, found) + 1 or begin
                first = data.find(b" ", line_start, end)
                if found == first + 9:  # the space before the message
                    break
                found = data.find(needle, found + 1, end)
            at = self._clock()
            if found != -1:
                at = self._time(data[line_start:first], counted)
                cursor = found + 1
            counted.events.append((event, at))

    def _one_line(self, data: bytes | bytearray, start: int, line_end: int, counted: Counted) -> None:
        """One line the plain runs do not take: a `P` part, the `F` after one, or a malformed line."""
        first = data.find(b" ", start, line_end)
        second = data.find(b" ", first + 1, line_end) if first != -1 else -1
        third = data.find(b" ", second + 1, line_end) if second != -1 else -1
        if third == -1:
            counted.malformed[Malformed.NO_FIELDS] += 1
            return
        stream = data[first + 1 : second].decode("ascii", "replace")
        tag = data[second + 1 : third]
        if stream not in STREAMS:
            counted.malformed[Malformed.BAD_STREAM] += 1
            return
        if tag not in (b"P", b"F"):
            counted.malformed[Malformed.BAD_TAG] += 1
            return
        message = bytes(data[third + 1 : line_end])
        held = self.partial.get(stream)
        if held is not None:
            # At the limit already, the rest of the line is not matched.
            message = held + message[: MAX_LINE_BYTES - len(held)] if len(held) < MAX_LINE_BYTES else held
        if tag == b"P":
            self.partial[stream] = message
            return
        if held is not None:
            del self.partial[stream]
            if len(message) >= MAX_LINE_BYTES:
                counted.malformed[Malformed.OVERLONG] += 1
        counted.lines += 1
        event = self._event(message)
        if event is not None:
            counted.events.append((event, self._time(data[start:first], counted)))

    def _event(self, message: bytes | bytearray) -> Event | None:
        if self._message_only:
            hits = self._matcher.scan(_as_bytes(message + b"\n"))
            return hits[0][1] if hits else None
        for literal, event in self._literals:
            if literal in message:
                return event
        return None

    def _time(self, token: bytes | bytearray, counted: Counted) -> float:
        try:
            return parse_time(bytes(token))
        except ValueError:
            counted.malformed[Malformed.BAD_TIMESTAMP] += 1
            return self._clock()
