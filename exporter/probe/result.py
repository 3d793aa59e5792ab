"""What one probe found, as a value: metrics, logs, the page and the CLI are views of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    """The steps of a probe, in the order an application's connection goes through them."""

    DNS = "dns"
    TCP = "tcp"
    CONNECT = "connect"
    RTT = "rtt"
    PUBSUB = "pubsub"


class Reason(StrEnum):
    """Why a probe failed: a fixed set, documented in the README, safe as a label value."""

    DNS_ERROR = "dns_error"  # the name did not resolve (NXDOMAIN, no resolver, no addresses)
    CONNECTION_REFUSED = "connection_refused"  # resolved, but nothing listens on the port (RST)
    NETWORK_ERROR = "network_error"  # unreachable network or host, connection reset mid-handshake
    TIMEOUT = "timeout"  # the probe's deadline passed (silent peer, dropped packets, NetworkPolicy)
    TLS_ERROR = "tls_error"  # TLS required but not used, untrusted certificate, wrong server name
    AUTH_ERROR = "auth_error"  # the server refused the credentials (Authorization Violation)
    PROTOCOL_ERROR = "protocol_error"  # the peer does not speak NATS (garbage instead of INFO)
    PUBSUB_ERROR = "pubsub_error"  # connected, but the message did not come back intact (permissions)
    INTERNAL_ERROR = "internal_error"  # a bug in the exporter: logged with a traceback


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """The INFO fields of the server that answered, as operators know them from `nats server info`."""

    server_id: str = ""
    server_name: str = ""
    version: str = ""
    cluster: str = ""
    host: str = ""
    port: int = 0
    max_payload: int = 0
    tls_required: bool = False
    auth_required: bool = False
    jetstream: bool = False

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServerInfo:
        return cls(
            server_id=str(info.get("server_id", "")),
            server_name=str(info.get("server_name", "")),
            version=str(info.get("version", "")),
            cluster=str(info.get("cluster", "")),
            host=str(info.get("host", "")),
            port=int(info.get("port", 0) or 0),
            max_payload=int(info.get("max_payload", 0) or 0),
            tls_required=bool(info.get("tls_required", False)),
            auth_required=bool(info.get("auth_required", False)),
            jetstream=bool(info.get("jetstream", False)),
        )


@dataclass(frozen=True, slots=True)
class ProbeResult:
    target: str
    started_at: float  # wall clock, seconds since the epoch
    duration: float  # seconds, the whole probe
    phases: Mapping[Phase, float] = field(default_factory=dict)  # seconds, only the phases completed
    reason: Reason | None = None  # None: every phase completed
    detail: str = ""  # human text for logs and the page, already free of credentials
    failed_phase: Phase | None = None  # where it failed
    addresses: tuple[str, ...] = ()  # what DNS returned
    server: ServerInfo | None = None
    server_url: str = ""  # redacted URL of the server the probe used

    @property
    def ok(self) -> bool:
        return self.reason is None
