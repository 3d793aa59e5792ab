"""The one place that reads nats-py's private attributes, each for a reason its public API does not cover.

- `_server_info`: the INFO the server sent (server_name, server_id, version, cluster, jetstream, client_id). nats-py
  keeps it only privately; the probe reports the answering server from it, the JetStream canary its `jetstream`
  flag, the servers' view its own connection's id (to leave itself out of CONNZ).
- `_flush_queue`: set once `connect()` has started opening things; before that there is nothing to close.
- `_transport`: closed directly when `close()` itself fails or times out, so no socket outlives a probe.
- `_reconnection_task`: the client's reconnect loop. On Python 3.11 `asyncio.wait_for` can swallow a cancellation
  (CPython gh-86296, fixed in 3.12), and nats-py's reconnect loop connects through it: a loop cancelled by
  `close()` while the server is down can survive and retry forever, holding shutdown. It is cancelled until it ends.
Tested against the installed nats-py by tests/probe/test_nats_client.py; a nats-py upgrade that renames them fails
there first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
from nats.aio.client import Client


def server_info(client: Client) -> dict[str, Any]:
    """The INFO the server sent on connect (empty before one arrived)."""
    info = getattr(client, "_server_info", None)
    return dict(info) if isinstance(info, dict) else {}


async def close_quietly(client: Client, timeout: float) -> None:
    """Close whatever a client opened, even after a cancelled connect; a failure to close is nobody's result."""
    if getattr(client, "_flush_queue", None) is None:
        return  # connect() never started: nothing was opened
    try:
        async with asyncio.timeout(timeout):
            await client.close()
    except (TimeoutError, OSError, nats.errors.Error):
        transport = getattr(client, "_transport", None)
        if transport is not None:
            transport.close()
    await _end_reconnect_loop(client)


RECONNECT_CANCEL_ATTEMPTS = 20


async def _end_reconnect_loop(client: Client) -> None:
    task = getattr(client, "_reconnection_task", None)
    if not isinstance(task, asyncio.Task):
        return
    for _ in range(RECONNECT_CANCEL_ATTEMPTS):
        if task.done():
            return
        task.cancel()
        await asyncio.wait([task], timeout=0.05)
