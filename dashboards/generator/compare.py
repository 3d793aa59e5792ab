"""`python -m dashboards.generator.compare OLD.json NEW.json`: what differs between two versions of a dashboard.

Key order and formatting are ignored; panels are matched by title and variables by name, so a reviewer sees
"panel 'Probe success': fieldConfig.defaults.unit: 'none' -> 's'" rather than a textual diff of thousands of lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_MISSING = "<absent>"


def differences(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Every leaf that differs, as 'path: old -> new' (a key missing on one side shows as <absent>)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            here = f"{path}.{key}" if path else str(key)
            if key not in old:
                yield f"{here}: {_MISSING} -> {json.dumps(new[key], ensure_ascii=False)}"
            elif key not in new:
                yield f"{here}: {json.dumps(old[key], ensure_ascii=False)} -> {_MISSING}"
            else:
                yield from differences(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            yield from differences(before, after, f"{path}[{index}]")
    elif old != new or type(old) is not type(new):
        yield f"{path}: {json.dumps(old, ensure_ascii=False)} -> {json.dumps(new, ensure_ascii=False)}"


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(item.get(key)): item for item in items}


def compare(old: dict[str, Any], new: dict[str, Any]) -> Iterator[str]:
    """The dashboard's own fields, then each variable by name, then each panel by title."""
    skip = {"panels", "templating"}
    yield from differences(
        {k: v for k, v in old.items() if k not in skip}, {k: v for k, v in new.items() if k not in skip}
    )
    for kind, key, old_items, new_items in (
        ("variable", "name", old.get("templating", {}).get("list", []), new.get("templating", {}).get("list", [])),
        ("panel", "title", old.get("panels", []), new.get("panels", [])),
    ):
        if [item.get(key) for item in old_items] != [item.get(key) for item in new_items]:
            yield f"{kind} order: {[item.get(key) for item in old_items]} -> {[item.get(key) for item in new_items]}"
        before, after = _by(old_items, key), _by(new_items, key)
        for name in sorted(set(before) | set(after)):
            if name not in after or name not in before:
                yield f"{kind} {name!r}: {'removed' if name not in after else 'added'}"
                continue
            for difference in differences(before[name], after[name]):
                yield f"{kind} {name!r}: {difference}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    old, new = (json.loads(Path(arg).read_text(encoding="utf-8")) for arg in args)
    found = list(compare(old, new))
    print("\n".join(found) if found else "no differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
