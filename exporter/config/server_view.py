"""The `server_view` and `apps` parts of the configuration: where the connections come from, which pods to expect.

```yaml
server_view:
  source: account          # --server-view.source account|system|monitor|off
  interval: 30s            # --server-view.interval
  monitor_port: 8222       # --server-view.monitor-port (source monitor)
  timeout: 5s              # the whole poll, every server and page
  quiet_period: 250ms      # after the last reply, how long to wait for another server's
  page_size: 1024          # CONNZ `limit`
  servers: 3               # how many servers should answer (default: as many as answered in the last 10 minutes)
apps:
  selector: tier=app       # --apps.selector (default: logs.selector)
  namespaces: [shop]       # --apps.namespaces a,b (default: logs.namespaces)
  grace: 30s               # --apps.grace: a pod this young is not yet `not_connected`
  slow_consumer_bytes: 1048576   # --apps.slow-consumer-bytes: pending bytes that make a pod `slow_consumer`
  slow_consumer_window: 5m       # a slow-consumer close this recent keeps the verdict
  publish_only: [ingest]         # apps that subscribe to nothing by design: never `no_subscriptions`
  shared_address_min: 3          # unmatched connections from one address that make it shared (SNAT)
```
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from exporter.config.validate import ConfigError, duration, integer, names, reject_unknown, text

SHARED_MIN = 3  # unmatched connections from one address that make it a shared one (SNAT) rather than a stranger
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_QUIET = 0.25
DEFAULT_PAGE = 1024
DEFAULT_MONITOR_PORT = 8222
DEFAULT_GRACE = 30.0
DEFAULT_SLOW_BYTES = 1024 * 1024
DEFAULT_SLOW_WINDOW = 300.0
_VIEW_KEYS = ("source", "interval", "monitor_port", "timeout", "quiet_period", "page_size", "servers")
_APPS_KEYS = (
    "selector",
    "namespaces",
    "grace",
    "slow_consumer_bytes",
    "slow_consumer_window",
    "publish_only",
    "shared_address_min",
)


class Source(StrEnum):
    """Where the connections come from (`--server-view.source`)."""

    ACCOUNT = "account"  # $SYS.REQ.ACCOUNT.PING.CONNZ with the target's credentials: its own account only
    SYSTEM = "system"  # $SYS.REQ.SERVER.PING.CONNZ with system-account credentials: every account
    MONITOR = "monitor"  # each NATS pod's monitoring port, /connz
    OFF = "off"


@dataclass(frozen=True, slots=True)
class VerdictRules:
    grace: float = 30.0
    slow_consumer_bytes: int = 1024 * 1024
    slow_consumer_window: float = 300.0
    publish_only: frozenset[str] = frozenset()  # apps (names) that legitimately subscribe to nothing


@dataclass(frozen=True, slots=True)
class ServerViewSettings:
    source: Source = Source.ACCOUNT
    interval: float = DEFAULT_INTERVAL
    monitor_port: int = DEFAULT_MONITOR_PORT
    timeout: float = DEFAULT_TIMEOUT
    quiet_period: float = DEFAULT_QUIET
    page_size: int = DEFAULT_PAGE
    servers: int = 0  # 0: learn from who answered
    selector: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    grace: float = DEFAULT_GRACE
    slow_consumer_bytes: int = DEFAULT_SLOW_BYTES
    slow_consumer_window: float = DEFAULT_SLOW_WINDOW
    publish_only: tuple[str, ...] = ()
    shared_address_min: int = SHARED_MIN

    @property
    def enabled(self) -> bool:
        return self.source is not Source.OFF

    @property
    def rules(self) -> VerdictRules:
        return VerdictRules(
            grace=self.grace,
            slow_consumer_bytes=self.slow_consumer_bytes,
            slow_consumer_window=self.slow_consumer_window,
            publish_only=frozenset(self.publish_only),
        )


def add_server_view_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server-view.source", dest="server_view_source", metavar="account|system|monitor|off")
    parser.add_argument("--server-view.interval", dest="server_view_interval", metavar="DURATION", help="default 30s")
    parser.add_argument("--server-view.monitor-port", dest="server_view_monitor_port", metavar="PORT")
    parser.add_argument("--apps.selector", dest="apps_selector", metavar="SELECTOR")
    parser.add_argument("--apps.namespaces", dest="apps_namespaces", metavar="NS[,NS]")
    parser.add_argument("--apps.grace", dest="apps_grace", metavar="DURATION", help="default 30s")
    parser.add_argument("--apps.slow-consumer-bytes", dest="apps_slow_consumer_bytes", metavar="BYTES")


def _pick(
    args: argparse.Namespace | None, flag: str, dest: str, raw: Mapping[str, Any], key: str, prefix: str
) -> tuple[str, Any]:
    """The flag's value if given, else the file's: with the name to blame in an error."""
    given = getattr(args, dest, None) if args is not None else None
    if given is not None:
        return flag, given
    return f"{prefix}{key}", raw.get(key)


def load_server_view_settings(
    view: Mapping[str, Any],
    apps: Mapping[str, Any],
    args: argparse.Namespace | None = None,
    *,
    logs_selector: str | None = None,
    logs_namespaces: tuple[str, ...] = (),
) -> ServerViewSettings:
    """Both mappings (`server_view:` and `apps:` of the file) and the flags; flags win. Raises `ConfigError`."""
    if not isinstance(view, Mapping):
        raise ConfigError("server_view", type(view).__name__, "a mapping")
    if not isinstance(apps, Mapping):
        raise ConfigError("apps", type(apps).__name__, "a mapping")
    reject_unknown(view, _VIEW_KEYS, prefix="server_view.")
    reject_unknown(apps, _APPS_KEYS, prefix="apps.")
    defaults = ServerViewSettings()

    key, value = _pick(args, "--server-view.source", "server_view_source", view, "source", "server_view.")
    source = defaults.source
    if value is not None:
        try:
            source = Source(str(value).strip().lower())
        except ValueError:
            raise ConfigError(key, value, "one of " + ", ".join(s.value for s in Source)) from None

    def seconds(flag: str, dest: str, raw: Mapping[str, Any], name: str, prefix: str, default: float) -> float:
        key, value = _pick(args, flag, dest, raw, name, prefix)
        return default if value is None else duration(key, value)

    def whole(
        flag: str, dest: str, raw: Mapping[str, Any], name: str, prefix: str, default: int, low: int, high: int
    ) -> int:
        key, value = _pick(args, flag, dest, raw, name, prefix)
        return default if value is None else integer(key, value, low, high)

    sv, ap = "server_view.", "apps."
    key, value = _pick(args, "--apps.selector", "apps_selector", apps, "selector", ap)
    selector = text(key, value) or logs_selector
    key, value = _pick(args, "--apps.namespaces", "apps_namespaces", apps, "namespaces", ap)
    namespaces = names(key, value) if value is not None else logs_namespaces
    publish_only = names("apps.publish_only", apps.get("publish_only"))
    interval = seconds("--server-view.interval", "server_view_interval", view, "interval", sv, DEFAULT_INTERVAL)
    timeout = seconds("", "", view, "timeout", sv, min(DEFAULT_TIMEOUT, interval))
    settings = ServerViewSettings(
        source=source,
        interval=interval,
        monitor_port=whole(
            "--server-view.monitor-port",
            "server_view_monitor_port",
            view,
            "monitor_port",
            sv,
            DEFAULT_MONITOR_PORT,
            1,
            65535,
        ),
        # Unset, the timeout follows the interval down, as the probe's does, and the quiet period the timeout:
        # `--server-view.interval 200ms` alone works.
        timeout=timeout,
        quiet_period=seconds("", "", view, "quiet_period", sv, min(DEFAULT_QUIET, timeout / 2)),
        page_size=whole("", "", view, "page_size", sv, DEFAULT_PAGE, 1, 100_000),
        servers=whole("", "", view, "servers", sv, 0, 0, 10_000),
        selector=selector,
        namespaces=namespaces,
        grace=seconds("--apps.grace", "apps_grace", apps, "grace", ap, DEFAULT_GRACE),
        slow_consumer_bytes=whole(
            "--apps.slow-consumer-bytes",
            "apps_slow_consumer_bytes",
            apps,
            "slow_consumer_bytes",
            ap,
            DEFAULT_SLOW_BYTES,
            1,
            2**62,
        ),
        slow_consumer_window=seconds("", "", apps, "slow_consumer_window", ap, DEFAULT_SLOW_WINDOW),
        publish_only=publish_only,
        shared_address_min=whole("", "", apps, "shared_address_min", ap, SHARED_MIN, 2, 1_000_000),
    )
    if settings.timeout > settings.interval:
        raise ConfigError("server_view.timeout", view.get("timeout"), "a duration no longer than the interval")
    if settings.quiet_period >= settings.timeout:
        raise ConfigError("server_view.quiet_period", view.get("quiet_period"), "a duration shorter than the timeout")
    return settings
