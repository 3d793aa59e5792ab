"""Durations in Prometheus form (`500ms`, `15s`, `1m30s`), as every Prometheus user already writes them."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")


def parse_duration(text: str) -> float:
    """Seconds for a Prometheus duration; raises ValueError for anything else (including `0` without a unit)."""
    value = text.strip()
    if not _WHOLE.fullmatch(value):
        raise ValueError(value)
    return sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus form of a duration, for the config page and messages."""
    if seconds < 1 or seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    remaining = int(seconds)
    out = ""
    for unit in ("h", "m", "s"):
        size = int(_UNIT_SECONDS[unit])
        if remaining >= size:
            out += f"{remaining // size}{unit}"
            remaining %= size
    return out or "0s"
