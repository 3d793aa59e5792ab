"""Where each container's reading stands, on disk, so an agent restart resumes exactly: no line twice, none lost.

One small JSON file per container directory (`<pod uid>_<container>.json` in `--agent.state-dir`), holding the
file being read by identity (device, inode), its first bytes (which find it again once kubelet has gzipped it),
the byte offset after the last counted line (uncompressed bytes for a gzipped file), the unfinished `P` parts of
each stream, and the container ID the pod status gave for the instance. Written as a temporary file then renamed,
so a crash leaves the old record or the new one, never half of one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Position:
    namespace: str
    pod: str
    uid: str
    app: str
    container: str
    container_id: str  # from the pod status, when known ("" after the pod is gone)
    restart: int
    device: int
    inode: int
    head: bytes
    offset: int
    partial: dict[str, bytes] = field(default_factory=dict)

    def to_json(self) -> str:
        fields = asdict(self)
        fields["head"] = base64.b64encode(self.head).decode()
        fields["partial"] = {stream: base64.b64encode(data).decode() for stream, data in self.partial.items()}
        return json.dumps({"version": VERSION, **fields}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Position:
        raw: dict[str, Any] = json.loads(text)
        if raw.pop("version", None) != VERSION:
            raise ValueError("unknown position version")
        raw["head"] = base64.b64decode(raw["head"])
        raw["partial"] = {str(k): base64.b64decode(v) for k, v in (raw.get("partial") or {}).items()}
        position = cls(**raw)
        if position.offset < 0:
            raise ValueError("negative offset")
        return position


class PositionStore:
    """The state directory. Blocking file calls: used from the follower's thread."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, uid: str, container: str) -> Path:
        return self.directory / f"{_UNSAFE.sub('_', uid)}_{_UNSAFE.sub('_', container)}.json"

    def load(self, uid: str, container: str) -> Position | None:
        return self._read(self._path(uid, container))

    def load_all(self) -> list[Position]:
        positions = []
        for path in sorted(self.directory.glob("*.json")):
            position = self._read(path)
            if position is not None:
                positions.append(position)
        return positions

    def save(self, position: Position) -> None:
        path = self._path(position.uid, position.container)
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(position.to_json())
        os.replace(temporary, path)

    def delete(self, uid: str, container: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(uid, container).unlink()

    def _read(self, path: Path) -> Position | None:
        try:
            return Position.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("unreadable position record; ignoring it", extra={"path": str(path), "error": str(exc)})
            return None
