"""CRI log lines to counted application lines: `<time> <stdout|stderr> <P|F> <message>`, partials joined.

The runtime (containerd, CRI-O) splits a long line into `P` parts (16 KiB each by default) closed by an `F` part;
stdout and stderr are split independently, so each stream keeps its own unfinished line. Almost every line is a
whole `F` line: those are counted in bulk, in C (`bytes.count`, the matcher's `bytes.find`, one regex that finds
the next line that is *not* a plain `F` line). Python looks only at the exceptions (`P` parts, the `F` that closes
them, malformed lines) and at the lines the matcher hits (about one in a hundred), whose message is matched again
alone, so a pattern never matches the timestamp prefix. The time is parsed only where it is used: an event's time.

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

# A whole `F` line from its start: a token without spaces (the time), the stream, `F`, a space.
_PLAIN_F = re.compile(rb"\S+ std(?:out|err) F ")
# The newline before the next line that is not a plain `F` line (or the buffer's final newline).
_NEXT_EXCEPTION = re.compile(rb"\n(?!\S+ std(?:out|err) F )")
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


@lru_cache(maxsize=256)
def _epoch_seconds(date_time: bytes) -> int:
    fields = (date_time[0:4], date_time[5:7], date_time[8:10], date_time[11:13], date_time[14:16], date_time[17:19])
    year, month, day, hour, minute, second = (int(value) for value in fields)
    return timegm((year, month, day, hour, minute, second, 0, 0, 0))


_TIME = re.compile(rb"(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(\d{1,9})\d*)?(?:[Zz]|([+-])(\d\d):(\d\d))")


def parse_time(token: bytes) -> float:
    """Unix seconds of an RFC 3339 time with any fraction and `Z` or a `±HH:MM` offset; ValueError if not one.

    containerd writes local time with its offset (`2026-11-30T12:00:00.5+01:00`), kubelet keeps it.
    """
    match = _TIME.fullmatch(token)
    if match is None:
        raise ValueError(token[:40])
    date_time, fraction, sign, hours, minutes = match.groups()
    seconds = float(_epoch_seconds(date_time))
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    if sign:
        offset = int(hours) * 3600 + int(minutes) * 60
        seconds += -offset if sign == b"+" else offset
    return seconds


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
            if self.partial or _PLAIN_F.match(data, position) is None:
                newline = data.find(b"\n", position, stop)
                line_end = stop if newline == -1 else newline
                self._one_line(data, position, line_end, counted)
                position = line_end + 1
                continue
            exception = _NEXT_EXCEPTION.search(data, position, stop)
            bulk_end = stop if exception is None else min(exception.start() + 1, stop)
            self._bulk(data, position, bulk_end, counted)
            position = bulk_end
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

    def _bulk(self, data: bytes | bytearray, begin: int, end: int, counted: Counted) -> None:
        """Plain `F` lines only: count them, then look at the matcher's hits one by one."""
        counted.lines += data.count(b"\n", begin, end)
        if self._message_only:
            self._bulk_messages(data, begin, end, counted)
            return
        for start, _event in self._matcher.scan(_as_bytes(data), begin, end):
            line_end = data.find(b"\n", start, end)
            self._event_of_line(data, start, line_end if line_end != -1 else end, counted)

    def _bulk_messages(self, data: bytes | bytearray, begin: int, end: int, counted: Counted) -> None:
        """With regexes: strip every prefix (in C) and match the bare messages; a hit's time is its line's.

        A hit's line is found again in `data` by its message (the next line ending with it): only the event's
        time depends on that, never whether or how often it counts.
        """
        messages = _PREFIX.sub(b"", data[begin:end])
        cursor = begin
        for start, event in self._matcher.scan(messages):
            message_end = messages.find(b"\n", start) + 1 or len(messages)
            found = data.find(b" " + messages[start:message_end], cursor, end)
            at = self._clock()
            if found != -1:
                line_start = data.rfind(b"\n", begin, found) + 1 or begin
                at = self._time(data[line_start : data.find(b" ", line_start, end)], counted)
                cursor = found + 1
            counted.events.append((event, at))

    def _event_of_line(self, data: bytes | bytearray, start: int, line_end: int, counted: Counted) -> None:
        """A plain `F` line the matcher hit: `<time> stdout F ` or `<time> stderr F `, so its message starts ten
        bytes after the first space."""
        first = data.find(b" ", start, line_end)
        event = self._event(data[first + 10 : line_end])
        if event is not None:
            counted.events.append((event, self._time(data[start:first], counted)))

    def _one_line(self, data: bytes | bytearray, start: int, line_end: int, counted: Counted) -> None:
        """One line the bulk path does not take: a `P` part, the `F` after one, or a malformed line."""
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
        return next((event for literal, event in self._literals if literal in message), None)

    def _time(self, token: bytes | bytearray, counted: Counted) -> float:
        try:
            return parse_time(bytes(token))
        except ValueError:
            counted.malformed[Malformed.BAD_TIMESTAMP] += 1
            return self._clock()
