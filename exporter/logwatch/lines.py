"""From a byte stream to counted lines: whole lines only, each counted exactly once, even across a resume.

A Kubernetes log stream (`timestamps=true`) prefixes each line with its RFC3339Nano time. When a stream drops,
the follower reopens it with `sinceTime` set to the second of the last line it counted; the API replays that
whole second (`sinceTime` has whole-second precision), so the replay is skipped up to and including the last
counted line. Only those replayed lines, the matching lines and each chunk's last line are looked at in Python.
"""

from __future__ import annotations

import logging
import time
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from exporter.logwatch.matcher import Matcher
from exporter.logwatch.tally import LogSource, LogTally

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 8 * 1024 * 1024  # beyond this a line is counted once and its middle dropped (memory stays bounded)


class BadTimestamp(ValueError):
    pass


@lru_cache(maxsize=256)
def _epoch_seconds(date_time: bytes) -> int:
    """Seconds since the epoch of `2024-01-02T03:04:05`: many lines share a second, so it is remembered."""
    fields = (date_time[0:4], date_time[5:7], date_time[8:10], date_time[11:13], date_time[14:16], date_time[17:19])
    year, month, day, hour, minute, second = (int(field) for field in fields)
    return timegm((year, month, day, hour, minute, second, 0, 0, 0))


def parse_timestamp(prefix: bytes) -> int:
    """Nanoseconds since the epoch for `2024-01-02T03:04:05.123456789Z` (any number of fraction digits).

    Parsed by position, not with strptime: it runs for every matching line and every chunk's last line.
    """
    if len(prefix) < 20 or prefix[4:5] != b"-" or prefix[10:11] != b"T" or prefix[13:14] != b":":
        raise BadTimestamp(prefix[:40])
    try:
        seconds = _epoch_seconds(prefix[:19])
    except ValueError:
        raise BadTimestamp(prefix[:40]) from None
    rest = prefix[19:]
    if rest == b"Z":
        return seconds * 1_000_000_000
    if not rest.startswith(b".") or not rest.endswith(b"Z") or not rest[1:-1].isdigit():
        raise BadTimestamp(prefix[:40])
    return seconds * 1_000_000_000 + int(rest[1:-1][:9].ljust(9, b"0"))


def since_time(nanoseconds: int) -> str:
    """The `sinceTime` value for a resume: the start of the second of the last counted line."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(nanoseconds // 1_000_000_000))


@dataclass(slots=True)
class ResumePoint:
    """The last counted line: its time, and how many counted lines had exactly that time."""

    at: int = -1
    same_time_count: int = 0


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
        self._skipping = False
        self._replayed_at_resume_time = 0
        self.bad_lines = 0

    @property
    def tally(self) -> LogTally:
        return self._tally

    def stream_restarted(self, reason: str) -> None:
        self._tally.stream_restarted(reason)

    def start_resume(self) -> None:
        """The stream was reopened from `since_time(self.resume.at)`: skip what was already counted."""
        self._pending = b""
        self._overlong = False
        self._skipping = self._timestamps and self.resume.at >= 0
        self._replayed_at_resume_time = 0

    def drop_partial(self) -> None:
        """The stream ended: a partial last line will come again, whole, in the next stream or never."""
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
        if self._skipping:
            data = self._skip_replayed(data[begin:end])
            begin, end = 0, len(data)
        if end > begin:
            self._count(data, begin, end)

    def _hold(self, partial: bytes) -> None:
        if len(partial) <= MAX_LINE_BYTES:
            self._pending = partial
            return
        if not self._overlong:
            # Count the line now, from what we have of it; its rest is dropped as it arrives.
            self._count(partial + b"\n")
            log.warning(
                "log line longer than the limit: counted once, middle dropped",
                extra={"namespace": self.source.namespace, "pod": self.source.pod, "limit": MAX_LINE_BYTES},
            )
        self._overlong = True

    def _skip_replayed(self, whole: bytes) -> bytes:
        """Drop the replayed lines up to the last counted one; return the rest."""
        position = 0
        resume = self.resume
        while position < len(whole):
            end = whole.find(b"\n", position) + 1
            at = self._line_time(whole[position:end])
            if at is None or at > resume.at:
                break
            if at == resume.at:
                self._replayed_at_resume_time += 1
                if self._replayed_at_resume_time > resume.same_time_count:
                    break  # a line of that same instant we had not seen yet
            position = end
        else:
            return b""
        self._skipping = False
        return whole[position:]

    def _count(self, whole: bytes, begin: int = 0, end: int | None = None) -> None:
        stop = len(whole) if end is None else end
        lines = whole.count(b"\n", begin, stop)
        hits = self._matcher.scan(whole, begin, stop)
        now = self._clock()
        events = []
        for start, event in hits:
            at = self._line_time(whole[start : start + 40]) if self._timestamps else None
            events.append((event, at / 1e9 if at is not None else now))
        if self._timestamps:
            self._advance_resume(whole, begin, stop, lines)
        self._tally.count(self.source, lines, events)

    def _advance_resume(self, whole: bytes, begin: int, stop: int, lines: int) -> None:
        """Remember the last line's time, and how many lines at the end of whole[begin:stop] share it.

        Lines of one instant carry the same timestamp text, so earlier lines are compared as bytes and only the
        last line's timestamp is parsed.
        """
        last_start = max(whole.rfind(b"\n", begin, stop - 1) + 1, begin)
        space = whole.find(b" ", last_start, stop)
        token = whole[last_start:space] if space != -1 else b""
        last_at = self._line_time(token)
        if last_at is None:
            return
        counted_same = 1
        line_end = last_start - 1
        while line_end > begin:
            start = max(whole.rfind(b"\n", begin, line_end) + 1, begin)
            if whole[start : start + len(token) + 1] != token + b" ":
                break
            counted_same += 1
            line_end = start - 1
        if last_at == self.resume.at and counted_same == lines:
            self.resume.same_time_count += counted_same  # the whole chunk is that same instant
        else:
            self.resume = ResumePoint(last_at, counted_same)

    def _line_time(self, line: bytes) -> int | None:
        space = line.find(b" ")
        try:
            return parse_timestamp(line[:space] if space > 0 else line.rstrip(b"\n"))
        except BadTimestamp:
            self.bad_lines += 1
            return None
