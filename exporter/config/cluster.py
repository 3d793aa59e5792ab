"""The `cluster` part of a target's configuration, parsed from its YAML mapping.

```yaml
targets:
  - name: default
    url: nats://nats.nats.svc.cluster.local:4222
    cluster:
      enabled: true            # probe each server, each route (default: false)
      monitor_port: 8222       # each server's monitoring port for /healthz (0: do not ask)
      max_route_pairs: 30      # ordered pairs probed per interval; above it a rotating sample covers all in turn
      route_concurrency: 8     # route probes in flight at once
      accounts:                # further accounts whose pooled route connections are probed too
        - name: APP            # label value and log field
          credentials: {user: probe-app, password_env: APP_PROBE_PASSWORD}   # as the target's `credentials`
    jetstream:
      enabled: true            # the canary (default: false)
      stream: NCE_PROBE        # a stream of its own, never a user's
      replicas: 3              # at most; min(replicas, servers known)
      create: true             # create the stream and its consumer when missing (else: only use them)
      subject: _nce.jetstream.NCE_PROBE   # default: _nce.jetstream.<stream>
```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.config.credentials import Credentials
from exporter.config.validate import ConfigError, boolean, integer, mapping, reject_unknown, text

DEFAULT_MONITOR_PORT = 8222
DEFAULT_MAX_ROUTE_PAIRS = 30
DEFAULT_ROUTE_CONCURRENCY = 8
DEFAULT_STREAM = "NCE_PROBE"
DEFAULT_REPLICAS = 3
DEFAULT_ACCOUNT = "default"
_CLUSTER_KEYS = ("enabled", "monitor_port", "max_route_pairs", "route_concurrency", "accounts")
_JETSTREAM_KEYS = ("enabled", "stream", "replicas", "create", "subject")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SUBJECT = re.compile(r"[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*")
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")

CredentialsParser = Callable[[str, Mapping[str, Any], Mapping[str, str]], Credentials]


@dataclass(frozen=True, slots=True)
class RouteAccount:
    """A further account to probe routes in: its own credentials, a bounded name for labels and logs."""

    name: str
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class JetStreamSettings:
    enabled: bool = False
    stream: str = DEFAULT_STREAM
    replicas: int = DEFAULT_REPLICAS
    create: bool = True
    subject: str = ""  # empty: `_nce.jetstream.<stream>`

    @property
    def canary_subject(self) -> str:
        return self.subject or f"_nce.jetstream.{self.stream}"

    @property
    def consumer(self) -> str:
        return f"{self.stream}_CANARY"


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    enabled: bool = False
    monitor_port: int = DEFAULT_MONITOR_PORT  # 0: no /healthz
    max_route_pairs: int = DEFAULT_MAX_ROUTE_PAIRS
    route_concurrency: int = DEFAULT_ROUTE_CONCURRENCY
    accounts: tuple[RouteAccount, ...] = ()  # besides the target's own account
    jetstream: JetStreamSettings = field(default_factory=JetStreamSettings)


def parse_cluster_settings(
    target: Mapping[str, Any], key: str, environ: Mapping[str, str], credentials: CredentialsParser
) -> ClusterSettings:
    """Read `cluster:` and `jetstream:` from one target's mapping; `key` is how errors name the target.

    `credentials` parses an account's `credentials:` exactly as the target's own are parsed (the config module's
    parser, passed in so that this package does not reach into the config module's internals).
    """
    raw = mapping(target, "cluster", key)
    reject_unknown(raw, _CLUSTER_KEYS, prefix=f"{key}.cluster.")
    return ClusterSettings(
        enabled=boolean(f"{key}.cluster.enabled", raw.get("enabled", False)),
        monitor_port=integer(f"{key}.cluster.monitor_port", raw.get("monitor_port", DEFAULT_MONITOR_PORT), 0, 65535),
        max_route_pairs=integer(
            f"{key}.cluster.max_route_pairs", raw.get("max_route_pairs", DEFAULT_MAX_ROUTE_PAIRS), 1, 10_000
        ),
        route_concurrency=integer(
            f"{key}.cluster.route_concurrency", raw.get("route_concurrency", DEFAULT_ROUTE_CONCURRENCY), 1, 256
        ),
        accounts=_accounts(f"{key}.cluster.accounts", raw.get("accounts"), environ, credentials),
        jetstream=_jetstream(f"{key}.jetstream", mapping(target, "jetstream", key)),
    )


def _jetstream(key: str, raw: Mapping[str, Any]) -> JetStreamSettings:
    reject_unknown(raw, _JETSTREAM_KEYS, prefix=f"{key}.")
    stream = text(f"{key}.stream", raw.get("stream")) or DEFAULT_STREAM
    if not _STREAM_NAME.fullmatch(stream):
        raise ConfigError(f"{key}.stream", stream, "a stream name of letters, digits, '_' and '-'")
    subject = text(f"{key}.subject", raw.get("subject")) or ""
    if subject and not _SUBJECT.fullmatch(subject):
        raise ConfigError(f"{key}.subject", subject, "a literal subject (no wildcards, no spaces)")
    return JetStreamSettings(
        enabled=boolean(f"{key}.enabled", raw.get("enabled", False)),
        stream=stream,
        replicas=integer(f"{key}.replicas", raw.get("replicas", DEFAULT_REPLICAS), 1, 5),
        create=boolean(f"{key}.create", raw.get("create", True)),
        subject=subject,
    )


def _accounts(
    key: str, raw: object, environ: Mapping[str, str], credentials: CredentialsParser
) -> tuple[RouteAccount, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(key, type(raw).__name__, "a list of {name, credentials}")
    accounts: list[RouteAccount] = []
    for index, item in enumerate(raw):
        item_key = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(item_key, type(item).__name__, "a mapping with `name` and `credentials`")
        reject_unknown(item, ("name", "credentials"), prefix=f"{item_key}.")
        name = text(f"{item_key}.name", item.get("name"))
        if name is None or not _ACCOUNT_NAME.fullmatch(name) or name == DEFAULT_ACCOUNT:
            raise ConfigError(
                f"{item_key}.name", name, f"a name of letters, digits, '_', '.', '-', not {DEFAULT_ACCOUNT!r}"
            )
        if any(account.name == name for account in accounts):
            raise ConfigError(f"{item_key}.name", name, "a name used once")
        accounts.append(RouteAccount(name, credentials(item_key, mapping(item, "credentials", item_key), environ)))
    return tuple(accounts)
