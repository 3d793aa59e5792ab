"""Matcher: MB/s over a 200 MB kubelet-style log with 1% event lines, against `grep -c -F` with the same patterns.

Goal: >= 0.5x grep. Our side is what a log follower does: `LineCounter` (timestamps on, as for a pod) fed 64 KiB
chunks, and apart from it the bare `Matcher.scan` on 1 MiB buffers cut at line ends. Every side reads the file
itself (from the page cache, warmed first), as grep does; each runs REPEATS times and the best run counts. The file
is generated in a temporary directory from a fixed seed, and every side must count exactly the generated events.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from exporter.config.logs import DEFAULT_SUBSTRINGS, Patterns
from exporter.logwatch.lines import LineCounter
from exporter.logwatch.matcher import Matcher
from exporter.logwatch.tally import LogSource, LogTally

from ._support import TimeBudget, print_figure

FILE_BYTES = 200_000_000
EVENT_EVERY = 100  # 1% of the lines are events
SEED = 20261124
CHUNK = 64 * 1024  # what a follower's `readany` hands the counter at most (pod_logs.READ_SIZE)
SCAN_BUFFER = 1024 * 1024
REPEATS = 3
GOAL = 0.5  # ours / grep
BUDGET = 120.0  # seconds for the timed runs; fewer repeats are made if the machine is slow
START_NS = 1_795_514_400_000_000_000  # 2026-11-24T10:00:00Z

PATTERNS = [text for texts in DEFAULT_SUBSTRINGS.values() for text in texts]
EVENT_MESSAGES = (
    "INFO Connected to NATS server nats://nats-server.nats.svc.cluster.local:4222 (server_id=NCX{r})",
    "ERROR Failed to connect to NATS: nats: no servers available for connection (attempt {r})",
    "WARN NATS connection lost: read tcp 10.42.0.{r}:51234->10.43.12.7:4222: i/o timeout",
)
# Ordinary lines, some of them near misses (NATS mentioned, no event) so the substring search cannot skip them.
PLAIN_MESSAGES = (
    "INFO handled request method=GET path=/api/v1/orders/{r} status=200 duration_ms={d} bytes={b}",
    "INFO handled request method=POST path=/api/v1/payments status=201 duration_ms={d} trace_id={h}",
    "DEBUG cache lookup key=session:{h} hit=true age_ms={d}",
    "WARN slow query table=orders rows={b} duration_ms={d} plan=seq_scan",
    "DEBUG NATS publish subject=orders.created.{r} bytes={b} reply=_INBOX.{h}",
    "INFO NATS subscription active subject=payments.> queue=workers pending={r}",
    "ERROR upstream timeout host=inventory.shop.svc.cluster.local:8080 after_ms={d} retry={r}",
)


def rfc3339nano(nanoseconds: int, seconds_text: dict[int, str]) -> str:
    """`2026-11-24T10:00:01.123456789Z`, the seconds formatted once per second (they repeat for many lines)."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    text = seconds_text.get(seconds)
    if text is None:
        seconds_text.clear()
        text = seconds_text[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{fraction:09d}Z"


def generate(path: Path) -> tuple[int, int]:
    """Write FILE_BYTES (about) of log lines; return (lines, event lines). Deterministic for SEED."""
    rng = random.Random(SEED)
    seconds_text: dict[int, str] = {}
    at = START_NS
    lines = events = written = 0
    with path.open("wb") as out:
        while written < FILE_BYTES:
            block: list[str] = []
            for _ in range(10_000):
                at += rng.randrange(20_000, 400_000)  # a few thousand lines per second
                r, d, b, h = rng.randrange(1000), rng.randrange(1, 3000), rng.randrange(64, 65536), rng.getrandbits(48)
                if rng.randrange(EVENT_EVERY) == 0:
                    message = rng.choice(EVENT_MESSAGES)
                    events += 1
                else:
                    message = rng.choice(PLAIN_MESSAGES)
                block.append(f"{rfc3339nano(at, seconds_text)} {message.format(r=r, d=d, b=b, h=f'{h:012x}')}\n")
            data = "".join(block).encode()
            out.write(data)
            written += len(data)
            lines += len(block)
    return lines, events


def warm(path: Path) -> None:
    """Read the file once so that every timed side reads it from memory."""
    with path.open("rb", buffering=0) as source:
        while source.read(SCAN_BUFFER):
            pass


def run_grep(path: Path) -> int:
    args = ["grep", "-c", "-F", *(arg for pattern in PATTERNS for arg in ("-e", pattern)), str(path)]
    env = {**os.environ, "LC_ALL": "C"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=120)
    if done.returncode not in (0, 1):  # 1: no line matched
        raise RuntimeError(f"grep failed with code {done.returncode}: {done.stderr.strip()}")
    return int(done.stdout.strip())


def run_line_counter(path: Path) -> int:
    """As a pod's follower counts: one LineCounter (timestamps, one tally), fed 64 KiB chunks as they arrive."""
    tally = LogTally(per_pod=False)
    counter = LineCounter(
        LogSource("bench", "bench", "bench-0", "app"), Matcher(Patterns.defaults()), tally, timestamps=True
    )
    with path.open("rb", buffering=0) as source:
        while chunk := source.read(CHUNK):
            counter.feed(chunk)
    if counter.bad_lines:
        raise RuntimeError(f"the line counter found {counter.bad_lines} lines without a readable timestamp")
    return int(sum(tally.events.values()))


def run_bare_scan(path: Path) -> int:
    """`Matcher.scan` alone, on 1 MiB buffers of whole lines (the partial last line carried to the next)."""
    matcher = Matcher(Patterns.defaults())
    found = 0
    carry = b""
    with path.open("rb", buffering=0) as source:
        while chunk := source.read(SCAN_BUFFER):
            data = carry + chunk if carry else chunk
            end = data.rfind(b"\n") + 1
            carry = data[end:]
            found += len(matcher.scan(data[:end]))
    if carry:
        found += len(matcher.scan(carry + b"\n"))
    return found


def best_of(side: Callable[[Path], int], path: Path, budget: TimeBudget) -> tuple[float, int]:
    """Best wall time of up to REPEATS runs (at least one), and the count the runs agreed on."""
    times: list[float] = []
    counts: set[int] = set()
    for _ in range(REPEATS):
        if times and budget.exhausted:
            print(f"  (time budget of {budget.seconds:g}s spent: {side.__name__} ran {len(times)} times)")
            break
        started = time.perf_counter()
        counts.add(side(path))
        times.append(time.perf_counter() - started)
    if len(counts) != 1:
        raise RuntimeError(f"{side.__name__} counted differently from run to run: {sorted(counts)}")
    return min(times), counts.pop()


def main() -> None:
    if shutil.which("grep") is None:
        raise RuntimeError("grep not found: it is the baseline")
    with tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        path = Path(tmp) / "app.log"
        started = time.perf_counter()
        lines, events = generate(path)
        size = path.stat().st_size
        megabytes = size / 1e6
        print(
            f"  log file: {megabytes:.1f} MB, {lines:,} lines ({size / lines:.0f} bytes each), "
            f"{events:,} event lines ({events / lines:.2%}); generated in {time.perf_counter() - started:.1f} s"
        )
        warm(path)
        budget = TimeBudget(BUDGET)
        grep_seconds, grep_count = best_of(run_grep, path, budget)
        counter_seconds, counter_count = best_of(run_line_counter, path, budget)
        scan_seconds, scan_count = best_of(run_bare_scan, path, budget)
        print(
            f"  event lines: generated {events:,}   grep -c {grep_count:,}   LineCounter {counter_count:,}"
            f"   Matcher.scan {scan_count:,}"
        )
        assert grep_count == events, f"grep counted {grep_count} event lines, {events} were generated"
        assert counter_count == grep_count, f"LineCounter counted {counter_count} events, grep {grep_count}"
        assert scan_count == grep_count, f"Matcher.scan found {scan_count} events, grep {grep_count}"
        grep_rate = megabytes / grep_seconds
        counter_rate = megabytes / counter_seconds
        scan_rate = megabytes / scan_seconds
        print("result:")
        print_figure("grep -c -F (LC_ALL=C, baseline)", f"{grep_rate:.0f} MB/s")
        print_figure("LineCounter, 64 KiB chunks", f"{counter_rate:.0f} MB/s")
        print_figure("Matcher.scan, 1 MiB buffers", f"{scan_rate:.0f} MB/s")
        ratio = counter_rate / grep_rate
        print_figure("LineCounter / grep", f"{ratio:.2f}x", f">= {GOAL:g}x", ratio >= GOAL)
        print_figure("Matcher.scan / grep", f"{scan_rate / grep_rate:.2f}x")
