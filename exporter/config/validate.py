"""Validation shared by every part of the configuration: each failure is a `ConfigError` naming its key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exporter.config.durations import parse_duration

_TRUE_WORDS = {"true", "1", "yes", "on"}
_FALSE_WORDS = {"false", "0", "no", "off"}


class ConfigError(Exception):
    """Invalid configuration: `key`, the offending `value` (already safe to print) and what is `expected`."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"invalid configuration: {key}={value!r}: expected {expected}")


def duration(key: str, value: object) -> float:
    try:
        seconds = parse_duration(str(value))
    except ValueError:
        raise ConfigError(key, value, "a duration such as 500ms, 15s or 1m") from None
    if seconds <= 0:
        raise ConfigError(key, value, "a positive duration")
    return seconds


def boolean(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise ConfigError(key, value, "true or false")


def text(key: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(key, value, "a string")
    return str(value)


def mapping(document: Mapping[str, Any], name: str, parent: str = "") -> Mapping[str, Any]:
    value = document.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        key = f"{parent}.{name}" if parent else name
        raise ConfigError(key, type(value).__name__, "a mapping")
    return value


def reject_unknown(document: Mapping[str, Any], allowed: Sequence[str], prefix: str) -> None:
    for key in document:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}", "<unknown key>", f"one of {', '.join(allowed)}")


def names(key: str, value: object) -> tuple[str, ...]:
    """A list of names, from YAML (a list) or a flag (comma-separated)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = tuple(part.strip() for part in value.split(",") if part.strip())
        if not items:
            raise ConfigError(key, value, "a comma-separated list of names")
        return items
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(key, value, "a list of names")
    return tuple(value)


def integer(key: str, value: object, low: int, high: int) -> int:
    """A whole number in [low, high], from YAML (an int) or a flag (text); never a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(key, value, f"an integer from {low} to {high}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(key, value, f"an integer from {low} to {high}") from None
    if not low <= number <= high:
        raise ConfigError(key, value, f"an integer from {low} to {high}")
    return number
