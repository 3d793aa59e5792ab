"""The generated dashboards and their files: render, write, and say which committed files differ."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from . import nats_connectivity

DIRECTORY = Path(__file__).resolve().parent.parent

# File name in dashboards/ -> the function building it. A new dashboard is one line here.
DASHBOARDS: Mapping[str, Callable[[], Dashboard]] = {
    nats_connectivity.FILE_NAME: nats_connectivity.build,
}


def render(dashboard: Dashboard) -> str:
    """The dashboard as the committed file holds it: the SDK's JSON, indented, with a final newline."""
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def expected(directory: Path = DIRECTORY) -> dict[Path, str]:
    """Every generated file's path and text."""
    return {directory / name: render(build()) for name, build in DASHBOARDS.items()}


def differences(directory: Path = DIRECTORY) -> list[str]:
    """The files that differ from what the generator writes, and the JSON files it does not write, as messages."""
    files = expected(directory)
    problems = []
    for path, text in files.items():
        if not path.is_file():
            problems.append(f"{path.name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.name}: differs from the generator's output")
    problems.extend(
        f"{path.name}: not generated (add it to dashboards/generator/output.py or delete it)"
        for path in sorted(directory.glob("*.json"))
        if path not in files
    )
    return problems


def write(directory: Path = DIRECTORY) -> list[Path]:
    """Write every generated file; return the ones whose content changed."""
    changed = []
    for path, text in expected(directory).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
