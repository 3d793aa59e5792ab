"""Run every `tests/benchmarks/bench_*.py` module's `main()` in turn, or only those whose name contains ARGV[1].

Discovery is by file name, so a new benchmark is a new `bench_*.py` module with a `main() -> None` and no edit here.
A benchmark that raises is reported and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

PREFIX = "bench_"


def discover(pattern: str = "") -> list[str]:
    """Module names of the benchmarks in this package, sorted, keeping those that contain `pattern`."""
    names = (info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)]))
    return sorted(name for name in names if name.startswith(PREFIX) and pattern in name)


def run(name: str) -> bool:
    """Import and run one benchmark under a header; True if it finished without raising."""
    module = importlib.import_module(f"{__package__}.{name}")
    doc = (module.__doc__ or "").strip()
    summary = doc.splitlines()[0] if doc else ""
    print(f"\n=== {name.removeprefix(PREFIX)}: {summary}", flush=True)
    main = cast(Callable[[], None], module.main)
    started = time.perf_counter()
    try:
        main()
    except Exception:
        traceback.print_exc()
        print(f"--- {name}: FAILED after {time.perf_counter() - started:.1f} s", flush=True)
        return False
    print(f"--- {name}: done in {time.perf_counter() - started:.1f} s", flush=True)
    return True


def main(argv: Sequence[str] = ()) -> int:
    pattern = argv[0] if argv else ""
    names = discover(pattern)
    if not names:
        print(f"no benchmark module matches {pattern!r}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    failed = [name for name in names if not run(name)]
    print(f"\n{len(names) - len(failed)}/{len(names)} benchmarks ran in {time.perf_counter() - started:.1f} s")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
