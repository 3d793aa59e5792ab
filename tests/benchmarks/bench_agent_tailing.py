"""Agent CRI tailing: MB per CPU-second over kubelet CRI files with 1% event lines, against mtail and grep -c -F.

Goals: >= 10x mtail, >= 0.5x grep (which only finds the lines: no CRI parsing, no joining, no times). Our side is
what the agent runs for a container directory: a `ContainerLog` (pread of whole lines, `CriCounter`, position
saved) read from its first line to its end. mtail (Debian package `mtail`) runs a program with the same three
patterns in `-one_shot` mode over the same file; grep gets the three patterns with `-F`. CPU seconds are the
process's own (ours) or the child's user+system time (mtail, grep), each side's best of REPEATS runs; the file is
read from the page cache (warmed first), and every side must count exactly the generated events.

The floor line makes the grep comparison honest: the CPU of the least any exact counter in CPython must do, read
the file in 1 MB pieces of whole lines and make one `bytes.count(b"\n")` and one `bytes.find` pass per pattern
over each (no CRI structure checked, no partial joined, no time parsed), as a ratio to grep. The agent cannot beat
it; floor / grep is the most that "agent / grep" could be in stdlib CPython.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from exporter.agent.cri import CriCounter
from exporter.agent.follower import ContainerLog, Start
from exporter.agent.positions import PositionStore
from exporter.config.logs import Patterns
from exporter.logwatch.tally import LogSource

from ._support import TimeBudget, print_figure
from .bench_matcher import EVENT_MESSAGES, PATTERNS, PLAIN_MESSAGES  # the same corpus as the matcher benchmark

FILE_BYTES = 150_000_000
EVENT_EVERY = 100
LONG_EVERY = 5000  # one line in 5000 is 40 KiB: split by the runtime into P, P, F parts
SEED = 20261130
REPEATS = 3
BUDGET = 240.0
GOAL_MTAIL = 10.0
GOAL_GREP = 0.5
START_NS = 1_795_514_400_000_000_000
SPLIT = 16 * 1024
FLOOR_READ = 1024 * 1024

MTAIL_PROGRAM = """counter nats_connected
counter nats_failed
counter nats_lost
/Connected to NATS server/ {
  nats_connected++
}
/Failed to connect to NATS/ {
  nats_failed++
}
/NATS connection lost/ {
  nats_lost++
}
"""


def cri_time(nanoseconds: int, cache: dict[int, str]) -> str:
    """containerd's RFC3339Nano, local time with its offset (+01:00), trailing zeros of the fraction trimmed."""
    seconds, fraction = divmod(nanoseconds + 3_600_000_000_000, 1_000_000_000)
    text = cache.get(seconds)
    if text is None:
        cache.clear()
        text = cache[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{fraction:09d}".rstrip("0").rstrip(".") + "+01:00"


def generate(path: Path) -> tuple[int, int, int]:
    """Write about FILE_BYTES of CRI lines; return (application lines, event lines, physical lines)."""
    rng = random.Random(SEED)
    cache: dict[int, str] = {}
    at = START_NS
    lines = events = physical = written = 0
    with path.open("wb") as out:
        while written < FILE_BYTES:
            block: list[str] = []
            for _ in range(10_000):
                at += rng.randrange(20_000, 400_000)
                r, d, b, h = rng.randrange(1000), rng.randrange(1, 3000), rng.randrange(64, 65536), rng.getrandbits(48)
                if rng.randrange(EVENT_EVERY) == 0:
                    message = rng.choice(EVENT_MESSAGES).format(r=r)
                    events += 1
                else:
                    message = rng.choice(PLAIN_MESSAGES).format(r=r, d=d, b=b, h=f"{h:012x}")
                if rng.randrange(LONG_EVERY) == 0:
                    message = "payload=" + "x" * 40_000 + " " + message
                stream = "stderr" if rng.randrange(4) == 0 else "stdout"
                parts = [message[i : i + SPLIT] for i in range(0, len(message), SPLIT)]
                for index, part in enumerate(parts):
                    tag = "F" if index == len(parts) - 1 else "P"
                    block.append(f"{cri_time(at, cache)} {stream} {tag} {part}\n")
                physical += len(parts)
                lines += 1
            data = "".join(block).encode()
            out.write(data)
            written += len(data)
    return lines, events, physical


def warm(path: Path) -> None:
    with path.open("rb", buffering=0) as source:
        while source.read(1 << 20):
            pass


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_agent(directory: Path, state: Path) -> tuple[float, int, int]:
    """(CPU seconds, lines, events) for one ContainerLog reading the directory from its first line."""
    shutil.rmtree(state, ignore_errors=True)
    log = ContainerLog(
        directory,
        LogSource("bench", "bench", "bench-0", "app"),
        "uid",
        CriCounter(Patterns.defaults()),
        PositionStore(state),
        start=Start.BEGINNING,
    )
    lines = events = 0
    started = time.process_time()
    while True:
        result = log.poll(64 * 1024 * 1024)
        lines += result.counted.lines
        events += len(result.counted.events)
        if result.counted.malformed:
            raise RuntimeError(f"malformed lines: {dict(result.counted.malformed)}")
        if not result.bytes_read:
            break
    seconds = time.process_time() - started
    log.close()
    return seconds, lines, events


def run_floor(path: Path) -> tuple[float, int]:
    """(CPU seconds, event lines) of the floor: per MB of whole lines, count the newlines and find each pattern."""
    needles = [pattern.encode() for pattern in PATTERNS]
    buffer = bytearray(2 * FLOOR_READ)
    view = memoryview(buffer)
    lines = found = filled = 0
    started = time.process_time()
    with path.open("rb", buffering=0) as source:
        while got := source.readinto(view[filled : filled + FLOOR_READ]):
            filled += got
            end = buffer.rfind(b"\n", 0, filled) + 1
            lines += buffer.count(b"\n", 0, end)
            for needle in needles:
                position = buffer.find(needle, 0, end)
                while position != -1:
                    found += 1
                    position = buffer.find(needle, buffer.find(b"\n", position, end), end)  # the next line on
            buffer[: filled - end] = view[end:filled]
            filled -= end
    seconds = time.process_time() - started
    if filled:
        raise RuntimeError("the file does not end with a newline")
    return seconds, found


def run_grep(path: Path) -> tuple[float, int]:
    args = ["grep", "-c", "-F", *(arg for pattern in PATTERNS for arg in ("-e", pattern)), str(path)]
    before = children_cpu()
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"grep failed: {done.stderr.strip()}")
    return children_cpu() - before, int(done.stdout.strip())


def run_mtail(path: Path, programs: Path) -> tuple[float, int]:
    args = [
        "mtail", "-progs", str(programs), "-logs", str(path), "-one_shot", "-one_shot_format", "prometheus",
        "-address", "127.0.0.1", "-port", "0", "-logtostderr",
    ]  # fmt: skip
    before = children_cpu()
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"mtail failed with code {done.returncode}: {done.stderr.strip()[-500:]}")
    found = 0
    for line in done.stdout.splitlines():
        if line.startswith("nats_"):
            found += int(float(line.rsplit(" ", 1)[1]))
    return children_cpu() - before, found


def best(side: Callable[[], tuple[float, int]], budget: TimeBudget, name: str) -> tuple[float, int]:
    runs: list[tuple[float, int]] = []
    for _ in range(REPEATS):
        if runs and budget.exhausted:
            print(f"  (time budget spent: {name} ran {len(runs)} times)")
            break
        runs.append(side())
    counts = {count for _, count in runs}
    if len(counts) != 1:
        raise RuntimeError(f"{name} counted differently from run to run: {sorted(counts)}")
    return min(seconds for seconds, _ in runs), counts.pop()


def main() -> None:
    for tool in ("grep", "mtail"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: apt-get install {tool} (it is a baseline)")
    with tempfile.TemporaryDirectory(prefix="nce-bench-") as tmp:
        directory = Path(tmp) / "shop_api-0_uid" / "app"
        directory.mkdir(parents=True)
        path = directory / "0.log"
        started = time.perf_counter()
        lines, events, physical = generate(path)
        megabytes = path.stat().st_size / 1e6
        print(
            f"  CRI file: {megabytes:.1f} MB, {lines:,} lines ({physical - lines:,} extra partial parts), "
            f"{events:,} event lines ({events / lines:.2%}); generated in {time.perf_counter() - started:.1f} s"
        )
        programs = Path(tmp) / "progs"
        programs.mkdir()
        (programs / "nats.mtail").write_text(MTAIL_PROGRAM)
        warm(path)
        budget = TimeBudget(BUDGET)
        counted: set[int] = set()

        def agent() -> tuple[float, int]:
            seconds, agent_lines, agent_events = run_agent(directory, Path(tmp) / "state")
            counted.add(agent_lines)
            return seconds, agent_events

        agent_cpu, agent_events = best(agent, budget, "agent")
        grep_cpu, grep_events = best(lambda: run_grep(path), budget, "grep")
        floor_cpu, floor_events = best(lambda: run_floor(path), budget, "floor")
        mtail_cpu, mtail_events = best(lambda: run_mtail(path, programs), budget, "mtail")
        print(
            f"  event lines: generated {events:,}   agent {agent_events:,}   grep {grep_events:,}"
            f"   mtail {mtail_events:,}   floor {floor_events:,}"
        )
        assert counted == {lines}, f"the agent counted {counted} lines, {lines} were written"
        assert agent_events == events, f"the agent found {agent_events} events, {events} were written"
        assert grep_events == events, f"grep found {grep_events} events, {events} were written"
        assert mtail_events == events, f"mtail found {mtail_events} events, {events} were written"
        assert floor_events == events, f"the floor found {floor_events} events, {events} were written"
        rates = {
            name: megabytes / max(cpu, 1e-9)
            for name, cpu in (("agent", agent_cpu), ("grep", grep_cpu), ("mtail", mtail_cpu), ("floor", floor_cpu))
        }
        print("result:")
        print_figure("grep -c -F", f"{rates['grep']:.0f} MB/CPU-s")
        print_figure("mtail -one_shot", f"{rates['mtail']:.0f} MB/CPU-s")
        print_figure("agent ContainerLog", f"{rates['agent']:.0f} MB/CPU-s")
        mtail_ratio, grep_ratio = rates["agent"] / rates["mtail"], rates["agent"] / rates["grep"]
        print_figure("agent / mtail", f"{mtail_ratio:.1f}x", f">= {GOAL_MTAIL:g}x", mtail_ratio >= GOAL_MTAIL)
        print_figure("agent / grep", f"{grep_ratio:.2f}x", f">= {GOAL_GREP:g}x", grep_ratio >= GOAL_GREP)
        print_figure("CPython floor (count + finds)", f"{rates['floor']:.0f} MB/CPU-s")
        print_figure("floor / grep (best possible)", f"{rates['floor'] / rates['grep']:.2f}x")
        print_figure("agent / floor", f"{rates['agent'] / rates['floor']:.2f}x")
