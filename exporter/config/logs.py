"""The `logs` part of the configuration: which pods (or files) to follow and which lines are events.

```yaml
logs:
  selector: app.kubernetes.io/part-of=petrosa    # --logs.selector; following pods is off without it
  namespaces: [petrosa-apps]                      # --logs.namespaces a,b (default: all)
  containers: []                                  # --logs.containers (default: every container)
  app_labels: [app.kubernetes.io/name, app]       # where the `app` label comes from, first found
  per_pod: false                                  # --logs.per-pod: a `pod` label on the log metrics
  from_start: false                               # --logs.from-start: count pods found at start-up from their start
  files: {my-app: /var/log/my-app.log}            # --logs.file APP=PATH: tail -F outside Kubernetes
  silence_timeout: 5m                             # reopen a stream that said nothing this long
  max_stream_lifetime: 1h                         # and every stream this often (kubelet streams stall)
  patterns:                                       # default: the guide's three lines, as substrings
    connected: ["Connected to NATS server", {regex: "nats: connected to .*"}]
    failed: ["Failed to connect to NATS"]
    lost: ["NATS connection lost"]
```
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from exporter.config.validate import ConfigError, boolean, duration, names, reject_unknown, text


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

    def combined_regex(self) -> re.Pattern[bytes] | None:
        """Every regex in one alternation, each in a group named after its event, for one `finditer` pass."""
        alternatives = [
            f"(?P<{event.value}_{index}>{regex})"
            for event in Event
            for index, regex in enumerate(self.regexes.get(event, ()))
        ]
        return re.compile("|".join(alternatives).encode(), re.MULTILINE) if alternatives else None


def in_shard(uid: str, shard: int, total: int) -> bool:
    """Consistent across replicas and restarts: a pod belongs to exactly one shard, by a hash of its UID."""
    if total <= 1:
        return True
    return int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big") % total == shard


def shard_from_ordinal(pod_name: str) -> int | None:
    """A StatefulSet pod's ordinal (`exporter-2` is shard 2)."""
    match = _ORDINAL.search(pod_name)
    return int(match.group(1)) if match else None


_ORDINAL = re.compile(r"-(\d+)$")
DEFAULT_APP_LABELS = ("app.kubernetes.io/name", "app")
DEFAULT_SILENCE_TIMEOUT = 300.0
DEFAULT_MAX_STREAM_LIFETIME = 3600.0
_KEYS = (
    "selector",
    "namespaces",
    "containers",
    "app_labels",
    "per_pod",
    "from_start",
    "files",
    "silence_timeout",
    "max_stream_lifetime",
    "patterns",
)


@dataclass(frozen=True, slots=True)
class LogSettings:
    selector: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    containers: tuple[str, ...] = ()  # empty: every container
    app_labels: tuple[str, ...] = DEFAULT_APP_LABELS
    per_pod: bool = False
    from_start: bool = False
    files: tuple[tuple[str, str], ...] = ()  # (app, path)
    silence_timeout: float = DEFAULT_SILENCE_TIMEOUT
    max_stream_lifetime: float = DEFAULT_MAX_STREAM_LIFETIME
    patterns: Patterns = field(default_factory=Patterns.defaults)
    shard: int = 0
    total_shards: int = 1

    @property
    def follows_pods(self) -> bool:
        return self.selector is not None

    @property
    def enabled(self) -> bool:
        return self.follows_pods or bool(self.files)


def add_log_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logs.selector", dest="logs_selector", metavar="SELECTOR", help="label selector of app pods")
    parser.add_argument("--logs.namespaces", dest="logs_namespaces", metavar="NS[,NS]", help="default: all")
    parser.add_argument("--logs.containers", dest="logs_containers", metavar="NAME[,NAME]", help="default: all")
    parser.add_argument("--logs.per-pod", dest="logs_per_pod", action="store_true", default=None)
    parser.add_argument("--logs.from-start", dest="logs_from_start", action="store_true", default=None)
    parser.add_argument(
        "--logs.file", dest="logs_files", action="append", metavar="APP=PATH", help="follow a local file (repeatable)"
    )
    parser.add_argument("--shard", dest="shard", type=str, metavar="N", help="this replica's share of the pods")
    parser.add_argument(
        "--total-shards", dest="total_shards", type=str, metavar="M", help="replicas sharing the pods (default 1)"
    )


def load_log_settings(
    args: argparse.Namespace, raw: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> LogSettings:
    reject_unknown(raw, _KEYS, prefix="logs.")
    selector = getattr(args, "logs_selector", None) or text("logs.selector", raw.get("selector"))
    namespaces = names("--logs.namespaces", getattr(args, "logs_namespaces", None)) or names(
        "logs.namespaces", raw.get("namespaces")
    )
    containers = names("--logs.containers", getattr(args, "logs_containers", None)) or names(
        "logs.containers", raw.get("containers")
    )
    files = _files(getattr(args, "logs_files", None), raw.get("files"))
    return LogSettings(
        selector=selector,
        namespaces=namespaces,
        containers=containers,
        app_labels=names("logs.app_labels", raw.get("app_labels")) or DEFAULT_APP_LABELS,
        per_pod=_flag(getattr(args, "logs_per_pod", None), "logs.per_pod", raw.get("per_pod", False)),
        from_start=_flag(getattr(args, "logs_from_start", None), "logs.from_start", raw.get("from_start", False)),
        files=files,
        silence_timeout=_seconds("logs.silence_timeout", raw.get("silence_timeout"), DEFAULT_SILENCE_TIMEOUT),
        max_stream_lifetime=_seconds(
            "logs.max_stream_lifetime", raw.get("max_stream_lifetime"), DEFAULT_MAX_STREAM_LIFETIME
        ),
        patterns=_patterns(raw.get("patterns")),
        **_sharding(args, environ or {}),
    )


def _patterns(raw: object) -> Patterns:
    if raw is None:
        return Patterns.defaults()
    if not isinstance(raw, dict):
        raise ConfigError("logs.patterns", type(raw).__name__, "a mapping of connected/failed/lost to patterns")
    substrings: dict[Event, tuple[str, ...]] = dict(DEFAULT_SUBSTRINGS)
    regexes: dict[Event, tuple[str, ...]] = {}
    for name, items in raw.items():
        key = f"logs.patterns.{name}"
        try:
            event = Event(name)
        except ValueError:
            raise ConfigError(key, "<unknown event>", "connected, failed or lost") from None
        if not isinstance(items, list) or not items:
            raise ConfigError(key, items, "a list of substrings or {regex: ...}")
        texts: list[str] = []
        expressions: list[str] = []
        for item in items:
            if isinstance(item, str) and item:
                texts.append(item)
            elif isinstance(item, dict) and set(item) == {"regex"} and isinstance(item["regex"], str):
                try:
                    re.compile(item["regex"].encode())
                except re.error as exc:
                    raise ConfigError(key, item["regex"], f"a valid regular expression ({exc})") from None
                expressions.append(item["regex"])
            else:
                raise ConfigError(key, item, "a non-empty substring or {regex: EXPRESSION}")
        substrings[event] = tuple(texts)  # configured patterns replace that event's default
        regexes[event] = tuple(expressions)
    patterns = Patterns(substrings=substrings, regexes=regexes)
    try:
        patterns.combined_regex()  # the expressions together: two that name the same group cannot be combined
    except re.error as exc:
        raise ConfigError("logs.patterns", "<regexes>", f"regular expressions that combine ({exc})") from None
    return patterns


def _sharding(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, int]:
    """`--shard N --total-shards M`; without --shard, a StatefulSet pod's ordinal (from POD_NAME or HOSTNAME)."""
    total = _count("--total-shards", getattr(args, "total_shards", None) or "1", minimum=1)
    shard_text = getattr(args, "shard", None)
    if shard_text is not None:
        shard = _count("--shard", shard_text, minimum=0)
    elif total > 1:
        pod_name = environ.get("POD_NAME") or environ.get("HOSTNAME") or ""
        ordinal = shard_from_ordinal(pod_name)
        if ordinal is None:
            raise ConfigError("--shard", None, "a shard number, or a StatefulSet pod name ending in -N in POD_NAME")
        shard = ordinal
    else:
        shard = 0
    if shard >= total:
        raise ConfigError("--shard", shard, f"a number below --total-shards ({total})")
    return {"shard": shard, "total_shards": total}


def _count(key: str, value: str, *, minimum: int) -> int:
    if not value.isdigit() or int(value) < minimum:
        raise ConfigError(key, value, f"a whole number of at least {minimum}")
    return int(value)


def _files(flags: list[str] | None, raw: object) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    if flags:
        for value in flags:
            app, sep, path = value.partition("=")
            if not sep or not app or not path:
                raise ConfigError("--logs.file", value, "APP=PATH")
            pairs.append((app, path))
        return tuple(pairs)
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v for v in raw.values()):
        raise ConfigError("logs.files", raw, "a mapping of app names to file paths")
    return tuple((str(app), str(path)) for app, path in raw.items())


def _flag(flag: bool | None, key: str, value: object) -> bool:
    return True if flag else boolean(key, value)


def _seconds(key: str, value: object, default: float) -> float:
    return default if value is None else duration(key, value)
