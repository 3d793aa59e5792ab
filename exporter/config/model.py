"""The configuration model: one frozen `Config` of frozen parts. `load.py` is the only place that builds one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exporter.config.cluster import ClusterSettings
from exporter.config.credentials import Credentials
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.config.logs import LogSettings
from exporter.config.nats_url import NatsUrl
from exporter.config.server_view import ServerViewSettings

DEFAULT_LISTEN_ADDRESS = ":10025"
DEFAULT_INTERVAL = 15.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_TARGET_NAME = "default"
DEFAULT_IDLE_TIMEOUT = 30.0  # idle keep-alive and slow-header HTTP connections are closed after this
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
TARGET_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True, slots=True)
class TLSSettings:
    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    handshake_first: bool = False
    insecure_skip_verify: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    servers: tuple[NatsUrl, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    credentials: Credentials = field(default_factory=Credentials)
    tls: TLSSettings = field(default_factory=TLSSettings)
    session: bool = True
    subject_prefix: str = "_nce.probe"
    cluster: ClusterSettings = field(default_factory=ClusterSettings)  # each server, each route, JetStream

    @property
    def redacted_url(self) -> str:
        return ",".join(server.redacted() for server in self.servers)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every credential of this target, so that text shown to people can be scrubbed of them."""
        values: list[str] = []
        for server in self.servers:
            if server.password is not None:
                values.append(server.password)
            elif server.username is not None:
                values.append(server.username)  # nats://TOKEN@host
        for secret in (self.credentials.password, self.credentials.token):
            if secret is not None:
                values.append(secret.reveal())
        return tuple(values)

    @property
    def uses_tls(self) -> bool:
        return self.tls.enabled or any(server.scheme in ("tls", "wss") for server in self.servers)


@dataclass(frozen=True, slots=True)
class Config:
    targets: tuple[Target, ...]
    probing_enabled: bool = True
    listen_address: str = DEFAULT_LISTEN_ADDRESS
    web_config_file: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    kubeconfig: str | None = None
    config_file: str | None = None
    logs: LogSettings = field(default_factory=LogSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    probe_allowed_hosts: tuple[str, ...] = ()  # /probe may reach these (glob on host or host:port) besides targets
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    server_view: ServerViewSettings = field(default_factory=ServerViewSettings)

    @property
    def listen_host_port(self) -> tuple[str, int]:
        return split_listen_address(self.listen_address)


def split_listen_address(address: str) -> tuple[str, int]:
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(address)
    host = host.strip("[]")
    return host or "0.0.0.0", int(port_text)
