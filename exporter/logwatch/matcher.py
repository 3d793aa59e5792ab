"""Which log lines are NATS connection events: the guide's three lines, or the user's substrings and regexes.

The matcher works on a buffer of whole lines, as bytes. Substrings are found with `bytes.find` over the whole
buffer and regexes with one combined `finditer`, both in C: Python runs only for the lines that match (about one in
a hundred), never per line. Bytes also mean invalid UTF-8 cannot break anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Event(StrEnum):
    CONNECTED = "connected"
    FAILED = "failed"
    LOST = "lost"


DEFAULT_SUBSTRINGS: Mapping[Event, tuple[str, ...]] = {
    Event.CONNECTED: ("Connected to NATS server",),
    Event.FAILED: ("Failed to connect to NATS",),
    Event.LOST: ("NATS connection lost",),
}


@dataclass(frozen=True, slots=True)
class Patterns:
    """Per event, substrings and regular expressions; a line matching several events counts for the first."""

    substrings: Mapping[Event, tuple[str, ...]]
    regexes: Mapping[Event, tuple[str, ...]]

    @classmethod
    def defaults(cls) -> Patterns:
        return cls(substrings=DEFAULT_SUBSTRINGS, regexes={})


class Matcher:
    def __init__(self, patterns: Patterns) -> None:
        order = {event: index for index, event in enumerate(Event)}
        self._literals: list[tuple[bytes, Event]] = [
            (text.encode(), event) for event in Event for text in patterns.substrings.get(event, ())
        ]
        alternatives = [
            f"(?P<{event.value}_{index}>{regex})"
            for event in Event
            for index, regex in enumerate(patterns.regexes.get(event, ()))
        ]
        self._regex = re.compile("|".join(alternatives).encode(), re.MULTILINE) if alternatives else None
        self._order = order

    def scan(self, data: bytes) -> list[tuple[int, Event]]:
        """The events in `data` (whole lines), as (offset of the line's start, event), in the order of the lines."""
        hits: dict[int, Event] = {}
        for literal, event in self._literals:
            position = data.find(literal)
            while position != -1:
                start = data.rfind(b"\n", 0, position) + 1
                end = data.find(b"\n", position)
                self._keep_first(hits, start, event)
                if end == -1:
                    break
                position = data.find(literal, end)
        if self._regex is not None:
            for match in self._regex.finditer(data):
                group = match.lastgroup or ""
                event = Event(group.rsplit("_", 1)[0])
                self._keep_first(hits, data.rfind(b"\n", 0, match.start()) + 1, event)
        return sorted(hits.items())

    def _keep_first(self, hits: dict[int, Event], start: int, event: Event) -> None:
        current = hits.get(start)
        if current is None or self._order[event] < self._order[current]:
            hits[start] = event


def compile_regexes(regexes: Sequence[str]) -> None:
    """Raise re.error for an invalid expression, so configuration loading can name it."""
    for regex in regexes:
        re.compile(regex.encode())
