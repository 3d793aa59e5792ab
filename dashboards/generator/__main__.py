"""`python -m dashboards.generator [--check]`: write dashboards/*.json, or check the committed files are current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .output import DIRECTORY, differences, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generator", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a committed dashboard differs from the code"
    )
    parser.add_argument(
        "--output", type=Path, default=DIRECTORY, help="the directory of the dashboards (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = differences(args.output)
        for problem in problems:
            print(f"{args.output / problem}", file=sys.stderr)
        if problems:
            print(
                "the committed dashboards are not what dashboards/generator produces: run `python -m "
                "dashboards.generator`, then `python deploy/render.py` to copy them into the Helm chart",
                file=sys.stderr,
            )
            return 1
        return 0
    for path in write(args.output):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
