"""--logs.file with tail -F semantics: rotation, truncation, a file that appears later; counts stay exact."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from exporter.config.logs import Patterns
from exporter.logwatch.file_source import follow_file
from exporter.logwatch.lines import LineCounter
from exporter.logwatch.matcher import Matcher
from exporter.logwatch.tally import LogSource, LogTally
from tests.conftest import wait_for

CONNECTED = "Connected to NATS server\n"
LOST = "NATS connection lost\n"


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


Follow = Callable[..., LogTally]


@pytest.fixture
async def follow(tmp_path: Path) -> AsyncIterator[Follow]:
    stopping = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    def start(path: Path, *, from_start: bool = False) -> LogTally:
        tally = LogTally(per_pod=False)
        counter = LineCounter(LogSource("", "demo"), Matcher(Patterns.defaults()), tally, timestamps=False)
        tasks.append(asyncio.create_task(follow_file(str(path), counter, stopping, from_start=from_start)))
        return tally

    yield start
    stopping.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)


def lines(tally: LogTally) -> float:
    return tally.lines.get(("", "demo"), 0)


def events(tally: LogTally, event: str) -> float:
    return tally.events.get(("", "demo", event), 0)


async def test_existing_lines_are_skipped_unless_from_start(tmp_path: Path, follow: Follow) -> None:
    path = tmp_path / "app.log"
    path.write_text(CONNECTED * 3)
    from_now, from_start = follow(path), follow(path, from_start=True)
    await wait_for(lambda: lines(from_start) == 3, message="the existing lines read from the start")
    append(path, LOST)
    await wait_for(lambda: lines(from_now) == 1 and lines(from_start) == 4, message="the new line in both")
    assert events(from_now, "connected") == 0
    assert events(from_start, "connected") == 3


async def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path: Path, follow: Follow) -> None:
    path = tmp_path / "app.log"
    path.write_text("")
    tally = follow(path)
    await wait_for(lambda: tally.streams, message="the file opened")
    append(path, CONNECTED)
    await wait_for(lambda: lines(tally) == 1, message="the first line")
    with path.open("a") as old:
        os.rename(path, tmp_path / "app.log.1")
        old.write(LOST)  # written to the old file after the rename, as a logger that has not reopened yet does
    path.write_text(CONNECTED * 2)
    await wait_for(lambda: lines(tally) == 4, message="the old file's tail and the new file")
    assert events(tally, "lost") == 1
    assert events(tally, "connected") == 3
    assert tally.stream_restarts["rotated"] == 1


async def test_truncation_starts_over(tmp_path: Path, follow: Follow) -> None:
    path = tmp_path / "app.log"
    path.write_text("")
    tally = follow(path)
    await wait_for(lambda: tally.streams, message="the file opened")
    append(path, CONNECTED * 5)
    await wait_for(lambda: lines(tally) == 5, message="five lines")
    path.write_text(LOST)  # truncated and rewritten, shorter than before
    await wait_for(lambda: lines(tally) == 6, message="the line after truncation")
    assert events(tally, "lost") == 1
    assert tally.stream_restarts["truncated"] == 1


async def test_a_file_that_appears_later_is_read_from_its_start(tmp_path: Path, follow: Follow) -> None:
    path = tmp_path / "later.log"
    tally = follow(path)
    await wait_for(lambda: list(tally.streams.values()) == ["retrying"], message="waiting for the file")
    path.write_text(CONNECTED + LOST)
    await wait_for(lambda: lines(tally) == 2, message="the new file's lines")
    assert list(tally.streams.values()) == ["following"]
