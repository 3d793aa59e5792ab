"""Counting a stream exactly: lines split anywhere, a resume replaying a whole second, long and broken lines."""

from __future__ import annotations

import random

from exporter.config.logs import Event, Patterns
from exporter.logwatch.lines import MAX_LINE_BYTES, LineCounter, parse_timestamp, since_time
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
    assert since_time(line_counter.resume.at) == "2026-11-24T10:00:05Z"

    line_counter.start_resume()
    # The API replays everything from the start of second 5, then new lines follow.
    replay = (
        stamped(5, 100, "a") + stamped(5, 200, "Failed to connect to NATS") + stamped(5, 200, "NATS connection lost")
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
    line_counter.start_resume()
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
