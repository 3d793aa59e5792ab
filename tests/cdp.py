"""A small Chrome DevTools Protocol client, so tests can drive real headless Chromium with aiohttp alone.

Only what the browser tests need: launch Chromium on a DevTools port it picks itself, attach to its page over the
websocket, send commands (matched to their answers by id) and collect every event in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

START_TIMEOUT = 15.0
COMMAND_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# Full-page screenshots arrive as one base64 message, larger than aiohttp's 4 MiB default.
MAX_MESSAGE = 64 * 1024 * 1024

# Without these, Chromium phones home (updates, sync, field trials) and a test could pass only when online.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)

JSON = dict[str, Any]


class CdpError(RuntimeError):
    """Chromium answered a command with an error, or the connection ended before it answered."""


@dataclass(frozen=True, slots=True)
class CdpEvent:
    method: str
    params: JSON


class CdpPage:
    """One page's DevTools websocket: `send` awaits the answer to its id; events pile up in `events`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.events: list[CdpEvent] = []
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[JSON]] = {}
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")

    async def send(self, method: str, *, timeout: float = COMMAND_TIMEOUT, **params: Any) -> JSON:
        self._next_id += 1
        command_id = self._next_id
        answer: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = answer
        try:
            await self._ws.send_str(json.dumps({"id": command_id, "method": method, "params": params}))
            async with asyncio.timeout(timeout):
                return await answer
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {timeout:g}s") from None
        finally:
            self._pending.pop(command_id, None)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page; a page-side exception fails loudly."""
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise CdpError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_event(self, method: str, *, after: int = 0, timeout: float = COMMAND_TIMEOUT) -> CdpEvent:
        """The first `method` event at index `after` or later: take `len(events)` before the action that causes it."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                while True:
                    for event in self.events[after:]:
                        if event.method == method:
                            return event
                    after = len(self.events)
                    if self._reader.done():
                        raise CdpError(f"the DevTools connection ended while waiting for {method}")
                    await self._arrived.wait()
        except TimeoutError:
            raise CdpError(f"no {method} event within {timeout:g}s") from None

    def named(self, method: str) -> list[JSON]:
        return [event.params for event in self.events if event.method == method]

    async def close(self) -> None:
        await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                data: JSON = json.loads(message.data)
                if "id" in data:
                    answer = self._pending.get(data["id"])
                    if answer is not None and not answer.done():
                        if "error" in data:
                            answer.set_exception(CdpError(f"command {data['id']}: {data['error']}"))
                        else:
                            answer.set_result(data.get("result", {}))
                    continue
                async with self._arrived:
                    self.events.append(CdpEvent(str(data.get("method", "")), data.get("params", {})))
                    self._arrived.notify_all()
        finally:
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(CdpError("the DevTools connection closed"))
            async with self._arrived:
                self._arrived.notify_all()


@dataclass(frozen=True, slots=True)
class Browser:
    """A running Chromium: its process, the DevTools HTTP endpoint and an HTTP client for it."""

    process: asyncio.subprocess.Process
    devtools_url: str
    http: aiohttp.ClientSession
    log_file: Path

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[CdpPage]:
        """Attach to the page Chromium opened at start-up (the `about:blank` on its command line)."""
        async with self.http.get(f"{self.devtools_url}/json/list") as response:
            targets: list[JSON] = await response.json()
        pages = [target for target in targets if target.get("type") == "page"]
        if not pages:
            raise CdpError(f"Chromium lists no page target: {targets}")
        ws = await self.http.ws_connect(str(pages[0]["webSocketDebuggerUrl"]), max_msg_size=MAX_MESSAGE)
        page = CdpPage(ws)
        try:
            yield page
        finally:
            await page.close()

    def log(self) -> str:
        """Chromium's own stderr, for failure messages."""
        return _tail(self.log_file)


@contextlib.asynccontextmanager
async def launch_chromium(binary: str, *, user_data_dir: Path) -> AsyncIterator[Browser]:
    """Start headless Chromium with a fresh profile; on exit terminate it, then kill its process group if it lingers.

    Chromium chooses its DevTools port (`--remote-debugging-port=0`) and writes it to `DevToolsActivePort` in the
    profile, so no port is raced for. It runs in its own session: its helpers (zygote, renderer) share the group we
    kill, and nothing else does.
    """
    log_file = _prepare_profile(user_data_dir)
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={user_data_dir}",
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        port = await _devtools_port(process, user_data_dir / "DevToolsActivePort", log_file)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=COMMAND_TIMEOUT)) as http:
            yield Browser(process, f"http://127.0.0.1:{port}", http, log_file)
    finally:
        await _stop(process)


async def _devtools_port(process: asyncio.subprocess.Process, port_file: Path, log_file: Path) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while loop.time() < deadline:
        if process.returncode is not None:
            raise CdpError(f"Chromium exited with code {process.returncode}: {_tail(log_file)}")
        port = _read_port(port_file)
        if port is not None:
            return port
        await asyncio.sleep(0.05)
    raise CdpError(f"Chromium wrote no {port_file.name} within {START_TIMEOUT:g}s: {_tail(log_file)}")


def _prepare_profile(user_data_dir: Path) -> Path:
    """Create the (fresh) profile directory; Chromium's output goes to a log file beside it."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    return user_data_dir.parent / "chromium.log"


def _read_port(port_file: Path) -> int | None:
    """The port on the first line of `DevToolsActivePort`, once Chromium has written it."""
    try:
        return int(port_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _tail(log_file: Path) -> str:
    return log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT):
                await process.wait()
    # The launcher execs Chromium, so its pid leads the group; helpers still alive after it are killed with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
