"""Reading CONNZ: the same JSON from `$SYS.REQ.*.PING.CONNZ` replies (under `data`) and the monitoring `/connz`.

Malformed entries are skipped and counted by the caller (`ConnzPage.skipped`), never fatal: a server of another
version may add or rename fields, and the rest of its answer is still worth having.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.servers.model import Connection, close_reason

OPEN, CLOSED, ALL = 0, 1, 2  # CONNZ `state` is a number, not text


class ConnzError(ValueError):
    """An answer that is not a CONNZ at all."""


@dataclass(frozen=True, slots=True)
class ConnzPage:
    server: str
    server_id: str
    connections: tuple[Connection, ...]
    total: int
    offset: int
    limit: int
    skipped: int = 0


def timestamp(text: object) -> float | None:
    """Unix time from the servers' RFC 3339 (nanoseconds and any zone offset); None if absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def request_body(*, offset: int, limit: int, state: int, sort: str = "") -> bytes:
    """The CONNZ options for a `$SYS` request (JSON), the same keys as the monitoring port's query."""
    options: dict[str, Any] = {"offset": offset, "limit": limit, "state": state}
    if sort:
        options["sort"] = sort
    return json.dumps(options, separators=(",", ":")).encode()


def parse_reply(payload: bytes) -> ConnzPage:
    """A `$SYS.REQ.*.PING.CONNZ` reply: `{"server": {...}, "data": {CONNZ}}` (or `{"error": ...}`)."""
    try:
        document = json.loads(payload)
    except ValueError as error:
        raise ConnzError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConnzError("not a JSON object")
    server = document.get("server")
    data = document.get("data")
    if not isinstance(server, dict) or not isinstance(data, dict):
        problem = document.get("error")
        raise ConnzError(f"no connz data: {problem!r}" if problem else "no connz data")
    return parse_connz(data, server_name=str(server.get("name") or server.get("id") or ""))


def parse_connz(data: Mapping[str, Any], *, server_name: str) -> ConnzPage:
    """One CONNZ document (the monitoring port's body, or a `$SYS` reply's `data`)."""
    server_id = str(data.get("server_id") or "")
    rows = data.get("connections")
    if not isinstance(rows, list):
        rows = []
    connections: list[Connection] = []
    skipped = 0
    name = server_name or server_id
    for row in rows:
        connection = _connection(row, name, server_id)
        if connection is None:
            skipped += 1
        else:
            connections.append(connection)
    return ConnzPage(
        server=name,
        server_id=server_id,
        connections=tuple(connections),
        total=_int(data.get("total"), len(connections)),
        offset=_int(data.get("offset"), 0),
        limit=_int(data.get("limit"), len(connections)),
        skipped=skipped,
    )


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _connection(row: object, server: str, server_id: str) -> Connection | None:
    if not isinstance(row, dict):
        return None
    cid, ip, start = row.get("cid"), row.get("ip"), timestamp(row.get("start"))
    if not isinstance(cid, int) or not isinstance(ip, str) or start is None:
        return None
    reason_text = row.get("reason")
    stop = timestamp(row.get("stop"))
    closed = stop is not None or isinstance(reason_text, str)
    return Connection(
        server=server,
        server_id=server_id,
        cid=cid,
        ip=ip,
        port=_int(row.get("port"), 0),
        start=start,
        name=str(row.get("name") or ""),
        lang=str(row.get("lang") or ""),
        version=str(row.get("version") or ""),
        subscriptions=_int(row.get("subscriptions"), 0),
        pending_bytes=_int(row.get("pending_bytes"), 0),
        account=str(row.get("account") or ""),
        stop=stop if closed else None,
        reason=close_reason(str(reason_text or "")) if closed else None,
        reason_text=str(reason_text or "") if closed else "",
    )
