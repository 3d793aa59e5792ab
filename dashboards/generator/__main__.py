"""`python -m dashboards.generator [--check]`: write dashboards/*.json, or check the committed files are current."""

from __future__ import annotations

import argparse
import sys

from .output import DIRECTORY, differences, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.generator", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a committed dashboard differs from the code"
    )
    if parser.parse_args(argv).check:
        problems = differences()
        for problem in problems:
            print(f"dashboards/{problem}", file=sys.stderr)
        if problems:
            print(
                "the committed dashboards are not what dashboards/generator produces: run `python -m "
                "dashboards.generator`, then `python deploy/render.py` to copy them into the Helm chart",
                file=sys.stderr,
            )
            return 1
        return 0
    for path in write():
        print(f"wrote {path.relative_to(DIRECTORY.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
