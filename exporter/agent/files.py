"""One container's log files as kubelet lays them out, in the order they were written, and how to read them.

`<restart>.log` is the live file of instance `<restart>`; kubelet rotates it by renaming it
`<restart>.log.<YYYYMMDD-HHMMSS>` (the runtime then reopens a new `<restart>.log`), gzips every rotated file but the
newest (`.gz`, written as `.gz.tmp` first) and deletes the oldest beyond `containerLogMaxFiles`. So the order in
which lines were written is: by restart, then rotated files by their timestamp, then the live file.

A file keeps its identity (device, inode) across a rename, not across gzip: a gzipped file is recognised by its
first bytes (`head`), which carry the first line's nanosecond time. Blocking calls only: the follower runs them in
its own thread.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

HEAD_BYTES = 64
READ_SIZE = 1024 * 1024
MAX_PHYSICAL_LINE = 1024 * 1024
MIN_READ = 64 * 1024
_NAME = re.compile(r"^(\d+)\.log(?:\.(\d{8}-\d{6}))?(\.gz)?$")


_LOCAL = threading.local()


def _scratch() -> tuple[bytearray, memoryview]:
    """The calling thread's read buffer: one per thread, not one per followed file (200 files, 1 buffer)."""
    found: tuple[bytearray, memoryview] | None = getattr(_LOCAL, "buffer", None)
    if found is None:
        buffer = bytearray(MAX_PHYSICAL_LINE + READ_SIZE + MIN_READ)
        found = _LOCAL.buffer = (buffer, memoryview(buffer))
    return found


@dataclass(frozen=True, slots=True)
class LogFile:
    """A file of the chain, as listed: where it sorts and who it is."""

    path: Path
    restart: int
    rotated_at: str  # "" for the live file
    gzipped: bool
    device: int
    inode: int
    stamp: tuple[int, int] = (0, 0)  # (mtime ns, size): an inode number is reused once its file is deleted

    @property
    def key(self) -> tuple[int, int, int, int]:
        """Names this content: a gzipped file never changes after its rename into place."""
        return (self.device, self.inode, *self.stamp)

    @property
    def order(self) -> tuple[int, int, str]:
        return (self.restart, 0 if self.rotated_at else 1, self.rotated_at)


def list_chain(directory: Path) -> list[LogFile]:
    """The container's files in the order they were written; [] if the directory is gone."""
    files: list[LogFile] = []
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None:
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        restart, rotated_at, gz = match.groups()
        if gz and not rotated_at:
            continue
        files.append(
            LogFile(
                Path(entry.path),
                int(restart),
                rotated_at or "",
                bool(gz),
                stat.st_dev,
                stat.st_ino,
                (stat.st_mtime_ns, stat.st_size),
            )
        )
    files.sort(key=lambda f: f.order)
    return files


def gzip_head(path: Path) -> bytes:
    """The first HEAD_BYTES uncompressed bytes of a gzipped file (b"" if unreadable)."""
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(HEAD_BYTES)
    except (OSError, EOFError):
        return b""


@dataclass(slots=True)
class OpenLog:
    """A file held open: read whole lines from `offset` (uncompressed bytes), even after it was renamed or deleted."""

    file: LogFile
    fd: int
    offset: int = 0
    _gzip: gzip.GzipFile | None = None
    _tail: bytes = b""  # bytes read past the last whole line
    _skip_to_line: bool = False
    _head: bytes = field(default=b"")

    @classmethod
    def open(cls, file: LogFile, offset: int = 0, *, align: bool = False) -> OpenLog | None:
        """Open `file` if the path still names it (a rename may have raced the listing); seek to `offset`.

        With `align`, reading starts at the next line start at or after `offset` (starting from "now").
        """
        try:
            fd = os.open(file.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        stat = os.fstat(fd)
        if (stat.st_dev, stat.st_ino) != (file.device, file.inode):
            os.close(fd)
            return None
        opened = cls(file=file, fd=fd, offset=offset)
        if file.gzipped:
            # The descriptor stays ours (closefd=False): GzipFile never closes a file object it was given.
            opened._gzip = gzip.GzipFile(fileobj=os.fdopen(fd, "rb", closefd=False), mode="rb")
            try:
                opened._gzip.seek(offset)
            except (OSError, EOFError):
                opened.close()
                return None
        if align and offset > 0:
            opened._skip_to_line = os.pread(fd, 1, offset - 1) != b"\n"
        return opened

    @property
    def identity(self) -> tuple[int, int]:
        return (self.file.device, self.file.inode)

    def head(self) -> bytes:
        """Its first HEAD_BYTES (fewer while it is shorter): recognises it once gzipped."""
        if len(self._head) < HEAD_BYTES and self._gzip is None:
            self._head = os.pread(self.fd, HEAD_BYTES, 0)
        elif not self._head and self._gzip is not None:
            self._head = gzip_head(self.file.path)
        return self._head

    def is_listed_as(self, other: LogFile, gzip_heads: dict[tuple[int, int, int, int], bytes]) -> bool:
        """Whether `other` (from a listing) is this file: same inode, or its gzipped copy."""
        if not other.gzipped or self.file.gzipped:
            return (other.device, other.inode) == self.identity
        head = self.head()
        if not head:
            return False
        if other.key not in gzip_heads:
            gzip_heads[other.key] = gzip_head(other.path)
        return gzip_heads[other.key][: len(head)] == head

    def read(self, limit: int = READ_SIZE) -> tuple[bytearray, int, int]:
        """Whole lines from `offset`: (buffer, begin, end), about `limit` bytes or up to the next line end.

        The lines are buffer[begin:end] (end - begin bytes consumed; begin > 0 after skipping to a line start).
        The buffer is the reading thread's own and is reused by the next read: use it before reading again.
        A line the writer has not finished stays unread (begin == end at the end of the file). A physical line
        longer than MAX_PHYSICAL_LINE (runtimes split at 16 KiB, so only garbage) is cut there.
        """
        buffer, view = _scratch()
        filled = len(self._tail)
        buffer[:filled] = self._tail
        while filled < len(buffer):
            got = self._read_into(view[filled : filled + min(max(limit, MIN_READ), len(buffer) - filled)], filled)
            if not got:
                break
            filled += got
            if buffer.find(b"\n", filled - got, filled) != -1 or filled >= MAX_PHYSICAL_LINE:
                break
        begin = 0
        if self._skip_to_line:
            newline = buffer.find(b"\n", 0, filled)
            if newline == -1:
                if filled < MAX_PHYSICAL_LINE:
                    self._tail = bytes(buffer[:filled])
                    return buffer, 0, 0
                newline = filled - 1
            begin = newline + 1
            self._skip_to_line = False
        end = buffer.rfind(b"\n", begin, filled) + 1 or begin
        if end == begin and filled - begin >= MAX_PHYSICAL_LINE:
            end = filled
        self._tail = bytes(buffer[end:filled])
        self.offset += end
        return buffer, begin, end

    @property
    def unfinished(self) -> bool:
        """Bytes after the last newline: a line the writer has not finished (or never will, once it moved on)."""
        return bool(self._tail)

    def _read_into(self, target: memoryview, already: int) -> int:
        if self._gzip is not None:
            try:
                return self._gzip.readinto(target)
            except (OSError, EOFError):
                return 0  # a truncated archive: what could be read was read
        return os.preadv(self.fd, [target], self.offset + already)

    def close(self) -> None:
        if self._gzip is not None:
            self._gzip.close()
            self._gzip = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
