"""One container directory followed across kubelet's rotations and the container's restarts, exactly.

The follower holds open the file it reads and every newer file it has seen (so a deleted pod's files are read to
their end even after kubelet removed the directory), in the order they were written. It moves to the next file
only when one exists: the runtime writes to a renamed file until it has reopened the new one, so the old file is
complete once a newer file is there, and it is drained once more before it is closed. It never reopens a file it
has finished: a listing is matched against the open files (by inode, or by first bytes for a gzipped copy), and
only files after the newest match are new. Kubelet deletes the oldest files first, so when none matches, every
listed file of this or a later restart is newer than anything read.

All of it is blocking file work: `poll` runs in the agent's reading thread, never on the event loop.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from exporter.agent.cri import Counted, CriCounter, Malformed
from exporter.agent.files import HEAD_BYTES, READ_SIZE, LogFile, OpenLog, gzip_head, list_chain
from exporter.agent.positions import Position, PositionStore
from exporter.logwatch.tally import LogSource

RECENT_NS = 2_000_000_000


class Start(StrEnum):
    NOW = "now"  # found at start-up with no saved position: count from the end of its newest file
    BEGINNING = "beginning"  # new since start-up (or --logs.from-start): count every line of every file


@dataclass(slots=True)
class PollResult:
    counted: Counted = field(default_factory=Counted)
    bytes_read: int = 0
    rotations: int = 0  # moves to the next file of the same instance
    restarts: int = 0  # moves to the file of the next instance
    finished: bool = False  # the pod is gone and every file it left was read to its end


class ContainerLog:
    def __init__(
        self,
        directory: Path,
        source: LogSource,
        uid: str,
        counter: CriCounter,
        store: PositionStore,
        *,
        start: Start,
        container_id: str = "",
    ) -> None:
        self.directory = directory
        self.source = source
        self.uid = uid
        self.counter = counter
        self.container_id = container_id
        self._store = store
        self._start = start
        self._started = False
        self.current: OpenLog | None = None
        self.queue: list[OpenLog] = []
        self.finishing = False
        self._gzip_heads: dict[tuple[int, int, int, int], bytes] = {}
        self._saved: tuple[object, ...] | None = None
        self._directory_seen: tuple[int, int] | None = None
        self._finished: tuple[LogFile, int, bytes] | None = None  # the last file read to its end

    @property
    def open_files(self) -> int:
        return (self.current is not None) + len(self.queue)

    def poll(self, budget: int) -> PollResult:
        """Read what is new, up to about `budget` bytes; save the position if it moved."""
        result = PollResult()
        if not self._started:
            self._started = self._begin()
        elif self._directory_changed():
            self._discover()  # hold newer files open at once: the directory may vanish before we reach them
        exhausted = False
        while self._started:
            if budget <= 0:
                exhausted = True
                break
            if self.current is None:
                if not self.queue:
                    self._discover()
                    if not self.queue:
                        break
                self.current = self.queue.pop(0)
                continue
            data, begin, end = self.current.read(min(READ_SIZE, budget))
            if end:
                self._feed(data, begin, end, result)
                budget -= end
                continue
            # At the end of the current file. Finished only if a newer file exists (the writer moved on).
            if not self.queue and self._directory_changed():
                self._discover()
            if not self.queue:
                break
            data, begin, end = self.current.read(min(READ_SIZE, budget))
            if end:
                self._feed(data, begin, end, result)
                budget -= end
                continue
            previous = self.current
            head = previous.head()
            if head:
                self._finished = (previous.file, previous.offset, head)
            if previous.unfinished:
                result.counted.malformed[Malformed.TRUNCATED] += 1
            previous.close()
            self.current = self.queue.pop(0)
            if self.current.file.restart != previous.file.restart:
                result.restarts += 1
                result.counted.add(self.counter.finish_partials())
            else:
                result.rotations += 1
        if self.finishing and not exhausted:
            result.finished = True
            self.close()
            self._store.delete(self.uid, self.source.container)
            return result
        self._save()
        return result

    def _feed(self, data: bytearray, begin: int, end: int, result: PollResult) -> None:
        result.bytes_read += end
        result.counted.add(self.counter.feed(data, begin, end))

    def _begin(self) -> bool:
        """Where to start: the saved position, the end of the newest file (now), or the first file (beginning)."""
        saved = self._store.load(self.uid, self.source.container)
        chain = list_chain(self.directory)
        if saved is not None:
            return self._resume(saved, chain)
        if self._start is Start.BEGINNING or not chain:
            return self._append(chain)  # nothing there yet: whatever comes is new
        newest = chain[-1]
        try:
            size = newest.path.stat().st_size if not newest.gzipped else 0
        except FileNotFoundError:
            return False  # rotated under us: look again next time
        opened = OpenLog.open(newest, size, align=True) if not newest.gzipped else None
        if opened is None:
            return False
        self.queue = [opened]
        return True

    def _resume(self, saved: Position, chain: list[LogFile]) -> bool:
        self.counter.partial = dict(saved.partial)
        self._saved = ("resumed",)  # the record on disk stays until reading moves on
        index = next((i for i, file in enumerate(chain) if self._is_saved_file(file, saved)), None)
        if index is None:
            # Rotated away while we were down: every remaining file of that instance or a later one is newer.
            return self._append([file for file in chain if file.restart >= saved.restart])
        opened = OpenLog.open(chain[index], saved.offset)
        if opened is None:
            return False
        self.queue = [opened]
        return self._append(chain[index + 1 :])

    def _is_saved_file(self, file: LogFile, saved: Position) -> bool:
        """The saved file: the same inode with the same first bytes, or its gzipped copy (by first bytes)."""
        if file.restart != saved.restart or saved.inode == 0:
            return False
        if not file.gzipped:
            if (file.device, file.inode) != (saved.device, saved.inode):
                return False
            try:
                with open(file.path, "rb") as handle:
                    return handle.read(len(saved.head)) == saved.head
            except FileNotFoundError:
                return False
        if not saved.head:
            return False  # an empty file is never gzipped
        if file.key not in self._gzip_heads:
            self._gzip_heads[file.key] = gzip_head(file.path)
        return self._gzip_heads[file.key][: len(saved.head)] == saved.head

    def _directory_changed(self) -> bool:
        """Whether a listing may show something new: the directory changed, or changed too recently to tell.

        A directory's mtime moves on every rename, create and delete in it, but in coarse steps (the kernel's
        clock tick): a change within the same step as our last listing leaves it equal. So a directory changed in
        the last RECENT seconds is always listed again.
        """
        try:
            stat = os.stat(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return False  # gone: the files we hold are all there is
        seen = (stat.st_ino, stat.st_mtime_ns)
        changed = seen != self._directory_seen or time.time_ns() - stat.st_mtime_ns < RECENT_NS
        self._directory_seen = seen
        return changed

    def _discover(self) -> None:
        """Open the files written after every file we hold."""
        chain = list_chain(self.directory)
        known = ([self.current] if self.current is not None else []) + self.queue
        if not known:
            self._append(chain)
            return
        last = -1
        for index, file in enumerate(chain):
            if any(held.is_listed_as(file, self._gzip_heads) for held in known):
                last = index
        if last >= 0:
            self._append(chain[last + 1 :])
        else:
            oldest = known[0].file.restart
            self._append([file for file in chain if file.restart >= oldest])
        self._forget_gzip_heads(chain)

    def _append(self, files: list[LogFile]) -> bool:
        for file in files:
            opened = OpenLog.open(file)
            if opened is None:
                return True  # renamed or removed since the listing: the next listing says what it became
            self.queue.append(opened)
        return True

    def _forget_gzip_heads(self, chain: list[LogFile]) -> None:
        listed = {file.key for file in chain}
        for key in [key for key in self._gzip_heads if key not in listed]:
            del self._gzip_heads[key]

    def _save(self) -> None:
        """Record where reading stands, if it moved.

        A file with nothing in it yet is never recorded (an empty file cannot be told from another one once its
        inode is reused): the record names the file before it, read to its end, and a resume goes on with every
        file after that one. A follower that has no record at all and nothing to read writes a record that
        says "from the first line of whatever appears", so lines written while the agent is down are not taken
        for old ones.
        """
        current = self.current
        head = current.head()[:HEAD_BYTES] if current is not None else b""
        if current is not None and head:
            file, offset = current.file, current.offset
        elif self._finished is not None:
            file, offset, head = self._finished
        else:
            if self._saved is None and self._started:
                self._store.save(self._position(restart=0, device=0, inode=0, head=b"", offset=0))
                self._saved = ("nothing yet",)
            return
        state = (file.key[:2], offset, head, tuple(sorted(self.counter.partial.items())))
        if state == self._saved:
            return
        self._store.save(
            self._position(restart=file.restart, device=file.device, inode=file.inode, head=head, offset=offset)
        )
        self._saved = state

    def _position(self, *, restart: int, device: int, inode: int, head: bytes, offset: int) -> Position:
        source = self.source
        return Position(
            namespace=source.namespace,
            pod=source.pod,
            uid=self.uid,
            app=source.app,
            container=source.container,
            container_id=self.container_id,
            restart=restart,
            device=device,
            inode=inode,
            head=head,
            offset=offset,
            partial=dict(self.counter.partial),
        )

    def close(self) -> None:
        for opened in ([self.current] if self.current is not None else []) + self.queue:
            opened.close()
        self.current = None
        self.queue = []
