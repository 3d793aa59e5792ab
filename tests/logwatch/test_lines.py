"""Counting a stream exactly: lines split anywhere, a resume replaying a whole second, long and broken lines."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config.logs import Event, Patterns
from exporter.logwatch.lines import MAX_LINE_BYTES, BadTimestamp, LineCounter, Unplaceable, parse_timestamp, since_time
from exporter.logwatch.matcher import Matcher
from exporter.logwatch.tally import LogSource, LogTally

SOURCE = LogSource(namespace="apps", app="api", pod="api-0", container="main")


def stamped(second: int, nanos: int, text: str) -> bytes:
    return f"2026-11-24T10:00:{second:02d}.{nanos:09d}Z {text}\n".encode()


def counter(timestamps: bool = True) -> tuple[LineCounter, LogTally]:
    tally = LogTally(per_pod=False)
    return LineCounter(SOURCE, Matcher(Patterns.defaults()), tally, timestamps=timestamps), tally


def test_timestamps_parse_with_any_fraction_length() -> None:
    assert parse_timestamp(b"2026-11-24T10:00:01Z") == 1795514401_000_000_000
    assert parse_timestamp(b"2026-11-24T10:00:01.5Z") == 1795514401_500_000_000
    assert parse_timestamp(b"2026-11-24T10:00:01.123456789Z") == 1795514401_123_456_789
    assert since_time(1795514401_999_999_999) == "2026-11-24T10:00:01Z"


def test_chunks_split_anywhere_count_each_line_once() -> None:
    lines = [stamped(1, i, "Connected to NATS server" if i % 3 == 0 else "hello") for i in range(300)]
    data = b"".join(lines)
    whole, whole_tally = counter()
    whole.feed(data)
    split, split_tally = counter()
    rng = random.Random(7)
    position = 0
    while position < len(data):
        step = rng.randint(1, 200)
        split.feed(data[position : position + step])
        position += step
    key = ("apps", "api", "connected")
    assert whole_tally.lines[("apps", "api")] == split_tally.lines[("apps", "api")] == 300
    assert whole_tally.events[key] == split_tally.events[key] == 100


def test_resume_skips_the_replayed_second_exactly() -> None:
    line_counter, tally = counter()
    # Three lines in second 5, two of them at the very same instant; the stream is cut after the second of those.
    first = (
        stamped(4, 0, "Connected to NATS server") + stamped(5, 100, "a") + stamped(5, 200, "Failed to connect to NATS")
    )
    line_counter.feed(first + stamped(5, 200, "NATS connection lost")[:10])  # cut mid-line
    assert tally.lines[("apps", "api")] == 3
    # The API replays everything from the start of second 4 (the one before the latest), then new lines follow.
    assert line_counter.start_resume() == "2026-11-24T10:00:04Z"
    replay = (
        stamped(4, 0, "Connected to NATS server")
        + stamped(5, 100, "a")
        + stamped(5, 200, "Failed to connect to NATS")
        + stamped(5, 200, "NATS connection lost")
    )
    line_counter.feed(replay + stamped(6, 0, "Connected to NATS server"))

    assert tally.lines[("apps", "api")] == 5
    assert tally.events[("apps", "api", "failed")] == 1
    assert tally.events[("apps", "api", "lost")] == 1
    assert tally.events[("apps", "api", "connected")] == 2


def test_resume_after_a_whole_chunk_of_one_instant() -> None:
    line_counter, tally = counter()
    line_counter.feed(stamped(1, 7, "x") + stamped(1, 7, "y"))
    line_counter.feed(stamped(1, 7, "z"))
    assert line_counter.start_resume() == "2026-11-24T10:00:00Z"
    line_counter.feed(stamped(1, 7, "x") + stamped(1, 7, "y") + stamped(1, 7, "z") + stamped(1, 7, "new"))
    assert tally.lines[("apps", "api")] == 4


def test_one_mebibyte_line_and_invalid_utf8_are_counted_once() -> None:
    line_counter, tally = counter(timestamps=False)
    big = b"x" * (1024 * 1024) + b" Connected to NATS server\n"
    for offset in range(0, len(big), 16 * 1024):  # as a runtime delivers it: 16 KiB pieces
        line_counter.feed(big[offset : offset + 16 * 1024])
    line_counter.feed(b"\xff\xfe\xc3\x28 NATS connection lost \xff\n")
    assert tally.lines[("apps", "api")] == 2
    assert tally.events[("apps", "api", "connected")] == 1
    assert tally.events[("apps", "api", "lost")] == 1


def test_a_line_over_the_limit_is_counted_once_and_memory_stays_bounded() -> None:
    line_counter, tally = counter(timestamps=False)
    chunk = b"y" * (1024 * 1024)
    line_counter.feed(b"Failed to connect to NATS ")
    for _ in range(MAX_LINE_BYTES // len(chunk) + 3):
        line_counter.feed(chunk)
    assert len(line_counter._pending) <= MAX_LINE_BYTES
    line_counter.feed(b"end\nnext line\n")
    assert tally.lines[("apps", "api")] == 2
    assert tally.events[("apps", "api", "failed")] == 1


def test_event_time_comes_from_the_line() -> None:
    line_counter, tally = counter()
    line_counter.feed(stamped(9, 500_000_000, "NATS connection lost"))
    assert tally.last_event_at[("apps", "api", Event.LOST.value)] == 1795514409.5


def test_timestamps_parse_with_any_zone_offset() -> None:
    assert parse_timestamp(b"2026-11-24T11:00:01+01:00") == 1795514401_000_000_000
    assert parse_timestamp(b"2026-11-24T11:00:01.5+01:00") == 1795514401_500_000_000
    assert parse_timestamp(b"2026-11-24T04:30:01.123456789-05:30") == 1795514401_123_456_789
    for bad in (b"2026-11-24T10:00:01", b"2026-11-24T10:00:01.Z", b"2026-11-24T10:00:01+1:00", b"garbage-here"):
        with pytest.raises(BadTimestamp):
            parse_timestamp(bad)


def offset_line(second: int, nanos: int, text: str, zone: str = "+01:00") -> bytes:
    return f"2026-11-24T11:00:{second:02d}.{nanos:09d}{zone} {text}\n".encode()


def test_resume_with_an_offset_skips_exactly_what_was_counted() -> None:
    line_counter, tally = counter()
    line_counter.feed(offset_line(4, 0, "Connected to NATS server") + offset_line(5, 9, "a") + offset_line(5, 1, "b"))
    # The API answers sinceTime in UTC with the lines at or after that instant, in file order.
    assert line_counter.start_resume() == "2026-11-24T10:00:04Z"
    line_counter.feed(
        offset_line(4, 0, "Connected to NATS server")
        + offset_line(5, 9, "a")
        + offset_line(5, 1, "b")
        + offset_line(6, 0, "NATS connection lost")
    )
    assert tally.lines[("apps", "api")] == 4
    assert tally.events[("apps", "api", "lost")] == 1
    assert tally.last_event_at[("apps", "api", "lost")] == 1795514406.0


def test_inverted_stdout_stderr_across_a_second_resume_exactly() -> None:
    line_counter, tally = counter()
    # A line of second 6 was written before one of second 5; the stream is cut after that one.
    line_counter.feed(stamped(4, 990, "x") + stamped(5, 900, "a") + stamped(6, 1, "err") + stamped(5, 950, "out"))
    assert line_counter.start_resume() == "2026-11-24T10:00:04Z"
    replay = stamped(4, 990, "x") + stamped(5, 900, "a") + stamped(6, 1, "err") + stamped(5, 950, "out")
    # Also after the cut: a stderr line stamped before the last counted one. It still comes back, and counts.
    line_counter.feed(replay + stamped(4, 999, "late stderr") + stamped(6, 5, "new"))
    assert tally.lines[("apps", "api")] == 6


def test_a_replay_missing_lines_is_a_gap_and_nothing_is_skipped_wrongly() -> None:
    line_counter, tally = counter()
    line_counter.feed(stamped(5, 1, "a") + stamped(5, 2, "b"))
    line_counter.start_resume()
    # Rotated away while the stream was down: the replay starts with second 7.
    line_counter.feed(stamped(7, 0, "NATS connection lost") + stamped(7, 1, "c"))
    assert tally.lines[("apps", "api")] == 4
    assert tally.gaps["rotated"] == 1


def test_a_line_without_a_timestamp_is_unplaceable_and_counted_once() -> None:
    line_counter, tally = counter()
    line_counter.feed(stamped(1, 0, "x") + b"no-timestamp NATS connection lost\n")
    assert tally.lines[("apps", "api")] == 2
    assert tally.events[("apps", "api", "lost")] == 1
    assert line_counter.unplaceable[Unplaceable.BAD_TIMESTAMP] >= 1
    assert tally.unplaceable["bad_timestamp"] >= 1


def test_start_from_now_skips_older_lines_whatever_the_offset() -> None:
    line_counter, tally = counter()
    assert line_counter.start_from(1795514405_500_000_000) == "2026-11-24T10:00:05Z"
    line_counter.feed(offset_line(5, 100, "before") + offset_line(5, 600_000_000, "Connected to NATS server"))
    assert tally.lines[("apps", "api")] == 1
    assert tally.events[("apps", "api", "connected")] == 1


@settings(max_examples=2000, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=0, max_value=3), min_size=20, max_size=120),
    cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=6),
    zone=st.sampled_from(["Z", "+01:00", "-05:30"]),
)
def test_every_line_counted_once_across_any_cuts_with_equal_and_inverted_times(
    steps: list[int], cuts: list[int], zone: str
) -> None:
    """A kubelet-like server: lines at or after sinceTime's second, in file order; times repeat and go back."""
    from datetime import UTC, datetime, timedelta

    tz = UTC if zone == "Z" else datetime.strptime(zone, "%z").tzinfo
    base = 1795514400_000_000_000
    times, t = [], base
    # 0: same instant; 1: a little later; 2: one line stamped a little earlier (stderr read after stdout);
    # 3: a stretch of lines a little earlier (the other stream, for a while).
    for step in steps:
        t = t + 400_000_000 if step == 1 else t - 30_000_000 if step == 3 else t
        times.append(t - 30_000_000 if step == 2 else t)
    lines = []
    for index, at in enumerate(times):
        moment = datetime.fromtimestamp(at // 1_000_000_000, tz) + timedelta(microseconds=(at % 1_000_000_000) // 1000)
        text = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
        lines.append(f"{text} line {index}\n".encode())
    line_counter, tally = counter()
    position = 0
    since: int | None = None
    for cut in [*sorted(set(cuts)), len(lines)]:
        served = [line for line, at in zip(lines, times, strict=True) if since is None or at >= since]
        offset = len(lines) - len(served)
        chunk = b"".join(served[: max(cut - offset, 0)]) if cut < len(lines) else b"".join(served)
        line_counter.feed(chunk + (served[cut - offset][:5] if 0 <= cut - offset < len(served) else b""))
        line_counter.drop_partial()
        position = max(position, cut)
        if line_counter.resume.copies:
            since = parse_timestamp(line_counter.start_resume().encode())
    assert tally.lines[("apps", "api")] == len(lines)


def test_a_resume_after_a_from_now_start_skips_the_uncounted_older_lines_too() -> None:
    line_counter, tally = counter()
    line_counter.start_from(1795514405_500_000_000)
    old = stamped(5, 100, "old, before now")
    line_counter.feed(old + stamped(5, 600_000_000, "a"))
    assert tally.lines[("apps", "api")] == 1
    assert line_counter.start_resume() == "2026-11-24T10:00:04Z"
    line_counter.feed(old + stamped(5, 600_000_000, "a") + stamped(6, 0, "new"))
    assert tally.lines[("apps", "api")] == 2
