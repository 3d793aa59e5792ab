"""From a byte stream to counted lines: whole lines only, each counted exactly once, even across a resume.

A Kubernetes log stream (`timestamps=true`) prefixes each line with its RFC 3339 time in the zone offset the
runtime wrote (`...Z`, `...+01:00`). When a stream drops, the follower reopens it with `sinceTime` one second
before the second of the last line it counted; kubelet then serves, in file order, every line stamped at or after
that instant. The last counted line is among them, every line before it in the replay was counted, every line
after it is new: so the replay is skipped up to and including that line (its n-th copy, if identical lines share
its instant), whatever order stdout and stderr stamped their lines in. The second of margin keeps a stderr line
stamped a moment before the stdout line written ahead of it. A replay that shows a later second than any counted
before the last counted line came back lost lines to kubelet's log rotation: a gap, counted, never guessed.

Only the replayed lines, the matching lines and each chunk's last lines are looked at in Python.
"""

from __future__ import annotations

import logging
import time
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from exporter.logwatch.matcher import Matcher
from exporter.logwatch.tally import LogSource, LogTally

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 8 * 1024 * 1024  # beyond this a line is counted once and its middle dropped (memory stays bounded)
SECOND_PREFIX = 19  # `2026-11-30T12:00:00`: the local second, the same text for every line of that second
_NS = 1_000_000_000


class Unplaceable(StrEnum):
    """Why a line could not be placed in its stream."""

    BAD_TIMESTAMP = "bad_timestamp"  # counted, but no time to stamp its event with or resume after
    REPLAY_BAD_TIMESTAMP = "replay_bad_timestamp"  # in a replay, unreadable: maybe counted before, so skipped


class Gap(StrEnum):
    """Why lines of a stream could not be read at all."""

    ROTATED = "rotated"  # kubelet rotated them away while the stream was down: the API serves only the live file


class BadTimestamp(ValueError):
    pass


@lru_cache(maxsize=256)
def _epoch_seconds(date_time: bytes) -> int:
    """Seconds since the epoch of `2024-01-02T03:04:05` read as UTC: many lines share a second, so it is cached."""
    fields = (date_time[0:4], date_time[5:7], date_time[8:10], date_time[11:13], date_time[14:16], date_time[17:19])
    year, month, day, hour, minute, second = (int(field) for field in fields)
    return timegm((year, month, day, hour, minute, second, 0, 0, 0))


@lru_cache(maxsize=64)
def _zone_seconds(zone: bytes) -> int:
    """Seconds east of UTC for `Z`, `+01:00`, `-05:30`."""
    if zone in (b"Z", b"z"):
        return 0
    if len(zone) != 6 or zone[0:1] not in (b"+", b"-") or zone[3:4] != b":":
        raise ValueError(zone)
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(zone)
    return (hours * 3600 + minutes * 60) * (1 if zone[0:1] == b"+" else -1)


def parse_timestamp(token: bytes) -> int:
    """Nanoseconds since the epoch for an RFC 3339 time: `2024-01-02T03:04:05.123456789+01:00` (any fraction
    length, any offset, `Z`). Parsed by position, not with strptime: it runs for every matching line."""
    if len(token) < 20 or token[4:5] != b"-" or token[10:11] not in (b"T", b"t") or token[13:14] != b":":
        raise BadTimestamp(token[:40])
    rest = token[19:]
    zone_at = len(rest) - 1 if rest[-1:] in (b"Z", b"z") else len(rest) - 6
    try:
        seconds = _epoch_seconds(token[:19]) - _zone_seconds(rest[zone_at:])
    except ValueError:
        raise BadTimestamp(token[:40]) from None
    if zone_at == 0:
        return seconds * _NS
    fraction = rest[1:zone_at]
    if rest[0:1] != b"." or not fraction.isdigit():
        raise BadTimestamp(token[:40])
    return seconds * _NS + int(fraction[:9].ljust(9, b"0"))


def since_time(nanoseconds: int) -> str:
    """The `sinceTime` value for a resume: the start of the second of `nanoseconds`, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(nanoseconds // _NS))


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """The last counted line (bytes, newline included), how many identical copies of it (same instant) were
    counted, the `sinceTime` to resume from (UTC ns), the latest second counted and the one after it (local text:
    a replayed line later than that one is new)."""

    line: bytes = b""
    copies: int = 0
    since: int = -1
    latest: bytes = b""
    beyond: bytes = b""


def _local_text(second: int, zone: int) -> bytes:
    """`2026-11-30T13:00:01` for a UTC second in a zone `zone` seconds east."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second + zone)).encode()


class LineCounter:
    """Feeds one stream's bytes to the matcher and the tally.

    With `timestamps`, every line starts with its timestamp and a space; without (local files), events are
    stamped with the time they were read.
    """

    def __init__(
        self,
        source: LogSource,
        matcher: Matcher,
        tally: LogTally,
        *,
        timestamps: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self._matcher = matcher
        self._tally = tally
        self._timestamps = timestamps
        self._clock = clock
        self._pending = b""
        self._overlong = False
        self.resume = ResumePoint()
        self.counted = 0  # lines counted from this stream, over all its reopenings
        self._skip = 0  # copies of the last counted line still to see in a replay
        self._not_before = -1  # while >= 0: lines stamped before this instant (ns) are skipped
        self._logged: set[str] = set()
        self.unplaceable: dict[Unplaceable, int] = {}

    @property
    def tally(self) -> LogTally:
        return self._tally

    @property
    def bad_lines(self) -> int:
        return sum(self.unplaceable.values())

    def stream_restarted(self, reason: str) -> None:
        self._tally.stream_restarted(reason)

    def start_resume(self) -> str:
        """The stream is reopened after counted lines: returns its `sinceTime`; the replay will be skipped."""
        self._reset_partial()
        self._not_before = -1  # lines before the from-now instant precede the last counted line: skipped with it
        self._skip = self.resume.copies
        return since_time(self.resume.since)

    def start_from(self, instant_ns: int) -> str:
        """Count only lines stamped at or after `instant_ns` (the exporter's "now"): returns the `sinceTime`."""
        self._reset_partial()
        self._skip = 0
        self._not_before = instant_ns
        return since_time(instant_ns)

    def drop_partial(self) -> None:
        """The stream ended: a partial last line will come again, whole, in the next stream or never."""
        self._reset_partial()

    def _reset_partial(self) -> None:
        self._pending = b""
        self._overlong = False

    def feed(self, data: bytes) -> None:
        if self._pending:
            # Copying a chunk (microseconds) is cheaper than counting the held line's end on its own.
            data, self._pending = self._pending + data, b""
        end = data.rfind(b"\n") + 1
        if end < len(data):
            self._hold(data[end:])
        if end:
            self._feed_whole(data, 0, end)

    def _feed_whole(self, data: bytes, begin: int, end: int) -> None:
        """Count the whole lines in data[begin:end]."""
        if self._overlong:
            # The tail of a line whose head was dropped: it was counted when it started.
            begin = data.find(b"\n", begin, end) + 1
            self._overlong = False
        if self._not_before >= 0 and begin < end:
            begin = self._skip_older(data, begin, end)
        if self._skip and begin < end:
            begin = self._skip_replayed(data, begin, end)
        if end > begin:
            self._count(data, begin, end)

    def _hold(self, partial: bytes) -> None:
        if len(partial) <= MAX_LINE_BYTES:
            self._pending = partial
            return
        if not self._overlong:
            # Count the line now, from what we have of it; its rest is dropped as it arrives.
            self._feed_whole(partial + b"\n", 0, len(partial) + 1)
            log.warning(
                "log line longer than the limit: counted once, middle dropped",
                extra={"namespace": self.source.namespace, "pod": self.source.pod, "limit": MAX_LINE_BYTES},
            )
        self._overlong = True

    def _skip_replayed(self, data: bytes, begin: int, end: int) -> int:
        """Skip the replay up to and including the last counted line; returns where counting starts."""
        resume = self.resume
        position = begin
        while self._skip and position < end:
            line_end = data.find(b"\n", position, end) + 1
            if data[position:line_end] == resume.line:
                self._skip -= 1
            elif data[position : position + SECOND_PREFIX] > resume.beyond:
                # A later second than we ever counted, before our last line came back: lines were rotated away.
                self._skip = 0
                self._gap(Gap.ROTATED)
                break
            position = line_end
        return position

    def _skip_older(self, data: bytes, begin: int, end: int) -> int:
        """Skip lines stamped before `_not_before`; returns where counting starts."""
        position = begin
        while position < end:
            line_end = data.find(b"\n", position, end) + 1
            at = self._line_time(data, position, line_end, Unplaceable.REPLAY_BAD_TIMESTAMP)
            if at is not None and at >= self._not_before:
                self._not_before = -1
                break
            position = line_end
        return position

    def _count(self, whole: bytes, begin: int, stop: int) -> None:
        lines = whole.count(b"\n", begin, stop)
        hits = self._matcher.scan(whole, begin, stop, prefixed=self._timestamps)
        now = self._clock()
        events = []
        for start, event in hits:
            at = self._line_time(whole, start, stop, Unplaceable.BAD_TIMESTAMP) if self._timestamps else None
            events.append((event, at / 1e9 if at is not None else now))
        self.counted += lines
        if self._timestamps:
            self._advance_resume(whole, begin, stop)
        self._tally.count(self.source, lines, events)

    def _advance_resume(self, whole: bytes, begin: int, stop: int) -> None:
        """Remember the last line of whole[begin:stop] and how many identical copies of it end the chunk.

        Copies share the timestamp text, so only lines carrying it are compared, and only the last is parsed.
        """
        last_start = max(whole.rfind(b"\n", begin, stop - 1) + 1, begin)
        last = whole[last_start:stop]
        space = last.find(b" ", 0, 64)
        at = self._line_time(whole, last_start, stop, Unplaceable.BAD_TIMESTAMP)
        if at is None or space < 0:
            return
        token = last[: space + 1]
        copies, line_end = 1, last_start - 1
        while line_end > begin:
            start = max(whole.rfind(b"\n", begin, line_end) + 1, begin)
            if not whole.startswith(token, start):
                break
            copies += whole[start : line_end + 1] == last
            line_end = start - 1
        resume = self.resume
        if line_end <= begin and resume.line == last:
            copies += resume.copies  # the chunk is all that instant: copies seen before it count too
        prefix = last[:SECOND_PREFIX]
        latest, beyond = resume.latest, resume.beyond
        if prefix > latest:
            second = at // _NS
            latest, beyond = prefix, _local_text(second + 1, _epoch_seconds(prefix) - second)
        self.resume = ResumePoint(last, copies, (at // _NS - 1) * _NS, latest, beyond)

    def _line_time(self, data: bytes, start: int, stop: int, reason: Unplaceable) -> int | None:
        head = data[start : min(stop, start + 64)]
        space = head.find(b" ")
        token = head[:space] if space > 0 else b""
        try:
            return parse_timestamp(token)
        except BadTimestamp:
            self._unplaceable(reason, token)
            return None

    def _unplaceable(self, reason: Unplaceable, token: bytes) -> None:
        self.unplaceable[reason] = self.unplaceable.get(reason, 0) + 1
        self._tally.unplaceable_line(reason.value)
        if reason.value not in self._logged:
            self._logged.add(reason.value)
            log.warning(
                "log line without a readable timestamp: counted as unplaceable",
                extra={"namespace": self.source.namespace, "pod": self.source.pod, "reason": reason.value,
                       "start": token[:40].decode(errors="replace")},
            )  # fmt: skip

    def _gap(self, reason: Gap) -> None:
        self._tally.gap(reason.value)
        log.warning(
            "log lines were rotated away while the stream was down: they are not counted (see the node agent)",
            extra={"namespace": self.source.namespace, "pod": self.source.pod, "reason": reason.value},
        )
