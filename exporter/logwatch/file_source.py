"""`--logs.file APP=PATH`: follow a local file like `tail -F`, for applications outside Kubernetes (and `demo`).

Polling, not inotify: it works the same on every filesystem and in containers. It follows the path, not the open
file: after a rotation (a new inode) the old file is read to its end and the new one from its start; after a
truncation (the file got shorter) it reads from the start; a file that does not exist yet is waited for.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from exporter.logwatch.lines import LineCounter
from exporter.logwatch.tally import StreamState
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.25
READ_SIZE = 1024 * 1024
_READ_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="logfile")


@dataclass
class _Open:
    fd: int
    inode: int
    position: int


async def follow_file(path: str, counter: LineCounter, stopping: asyncio.Event, *, from_start: bool) -> None:
    """Count the lines of `path` until `stopping` is set. Lines already there at start count only if `from_start`."""
    tally = counter.tally
    current: _Open | None = None
    first_open = True
    try:
        while True:
            if current is None:
                # Only a file that already exists at start-up holds lines from before: a later one is all new.
                current = _open(path, at_end=first_open and not from_start)
                first_open = False
                if current is not None:
                    tally.set_stream(path, StreamState.FOLLOWING)
                else:
                    tally.set_stream(path, StreamState.RETRYING)
            if current is not None:
                current = await _read_available(path, current, counter)
            if await wait_or_stop(stopping, POLL_INTERVAL):
                return
    finally:
        tally.set_stream(path, None)
        if current is not None:
            _close(current)


def _open(path: str, *, at_end: bool) -> _Open | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    stat = os.fstat(fd)
    position = stat.st_size if at_end else 0
    return _Open(fd=fd, inode=stat.st_ino, position=position)


async def _read_available(path: str, current: _Open, counter: LineCounter) -> _Open | None:
    """Read what is new; return the file to keep following (None: reopen the path next time)."""
    size = os.fstat(current.fd).st_size
    if size < current.position:
        log.info("log file truncated; reading from its start", extra={"path": path})
        counter.stream_restarted("truncated")
        counter.drop_partial()
        current.position = 0
    await _drain(current, counter)
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        on_disk = None
    if on_disk is None or on_disk.st_ino != current.inode:
        # Rotated (or removed): the old file is finished once read to its end; follow the path anew.
        await _drain(current, counter)
        _close(current)
        counter.stream_restarted("rotated")
        counter.drop_partial()
        if on_disk is None:
            return None
        reopened = _open(path, at_end=False)
        if reopened is not None:
            try:
                await _drain(reopened, counter)
            except BaseException:
                _close(reopened)
                raise
        return reopened
    return current


def _close(opened: _Open) -> None:
    """Close once: a closed descriptor's number may already belong to another file."""
    if opened.fd >= 0:
        os.close(opened.fd)
        opened.fd = -1


async def _drain(current: _Open, counter: LineCounter) -> None:
    while True:
        # Its own thread: the default pool can be full of DNS lookups hanging on a broken resolver.
        data = await asyncio.get_running_loop().run_in_executor(
            _READ_POOL, os.pread, current.fd, READ_SIZE, current.position
        )
        if not data:
            return
        current.position += len(data)
        counter.feed(data)
