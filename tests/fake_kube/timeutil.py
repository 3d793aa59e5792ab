"""Kubernetes time formats: RFC 3339 in metadata, RFC 3339 with nine fixed digits in kubelet log prefixes."""

from __future__ import annotations

import calendar
import re
import time

_NS = 1_000_000_000
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$",
)


def now_ns() -> int:
    """The wall clock in nanoseconds, the unit every timestamp in the fake is kept in."""
    return time.time_ns()


def rfc3339(ns: int) -> str:
    """Second precision, as `metav1.Time` serialises (creationTimestamp, startedAt...)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // _NS))


_second_cache: dict[tuple[int, int], bytes] = {}


def parse_offset(text: str) -> int:
    """A zone offset as RFC 3339 writes it ("Z", "+01:00", "-05:30") in seconds east of UTC."""
    if text in ("Z", "z"):
        return 0
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", text)
    if match is None or int(match[2]) > 23 or int(match[3]) > 59:
        raise ValueError(f"not an RFC 3339 zone offset: {text!r} (expected Z or +HH:MM / -HH:MM)")
    seconds = int(match[2]) * 3600 + int(match[3]) * 60
    return seconds if match[1] == "+" else -seconds


def format_offset(seconds: int) -> str:
    """`Z` for UTC, as Go's RFC3339Nano layout writes it, else `+HH:MM` / `-HH:MM`."""
    if seconds == 0:
        return "Z"
    sign = "+" if seconds > 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def rfc3339_nano(ns: int, offset: int = 0) -> bytes:
    """Kubelet's `timestamps=true` prefix (`2006-01-02T15:04:05.000000000Z07:00`, nine digits always).

    `offset` (seconds east of UTC) is the zone the container runtime wrote the time in: containerd writes its
    local time, so `2026-11-30T13:00:00.123456789+01:00` is the same instant as `...12:00:00.123456789Z`.
    Returned as bytes and cached per second because it is computed for every line of a busy stream.
    """
    seconds, fraction = divmod(ns, _NS)
    head = _second_cache.get((seconds, offset))
    if head is None:
        if len(_second_cache) > 4096:
            _second_cache.clear()
        local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds + offset))
        head = f"{local}.%09d{format_offset(offset)}".encode()
        _second_cache[(seconds, offset)] = head
    return head % fraction


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch; `ValueError` for anything that is not RFC 3339 (as the API server rejects it)."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"parsing time {text!r} as RFC3339")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    seconds = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second), 0, 0, 0))
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((fraction or "").ljust(9, "0")) if fraction else 0
    return seconds * _NS + nanos


def human_duration(seconds: float) -> str:
    """`k8s.io/apimachinery/pkg/util/duration.HumanDuration`, which the server uses for the Age column of tables."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"
