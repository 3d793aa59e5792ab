"""NATS server URLs: parse them the way applications write them, redact their credentials, classify their host.

The host kind is the guide's central rule: a Kubernetes service name (full DNS name best, short name acceptable),
never an IP address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

DEFAULT_PORT = 4222
SCHEMES = ("nats", "tls", "ws", "wss")
REDACTED = "***"


class HostKind(StrEnum):
    FQDN = "fqdn"
    SHORT = "short"
    IP = "ip"


class UrlError(ValueError):
    """A URL that a NATS client would not accept; the message never contains the URL's credentials."""


@dataclass(frozen=True, slots=True)
class NatsUrl:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def host_kind(self) -> HostKind:
        return classify_host(self.host)

    @property
    def has_credentials(self) -> bool:
        return self.username is not None or self.password is not None

    @property
    def netloc_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def redacted(self) -> str:
        """The URL as it may appear in metrics, logs and pages: any user info becomes `user:***` or `***`."""
        userinfo = ""
        if self.password is not None:
            userinfo = f"{self.username or ''}:{REDACTED}@"
        elif self.username is not None:
            # A lone user part is how tokens are passed (nats://TOKEN@host): hide it too.
            userinfo = f"{REDACTED}@"
        return f"{self.scheme}://{userinfo}{self.netloc_host}:{self.port}"

    def for_client(self) -> str:
        """The URL handed to nats-py, credentials included (they are sent only to the server)."""
        userinfo = ""
        if self.username is not None:
            userinfo = self.username + (f":{self.password}" if self.password is not None else "") + "@"
        return f"{self.scheme}://{userinfo}{self.netloc_host}:{self.port}"


def parse_url(raw: str) -> NatsUrl:
    """Parse one server URL; `host:port` and bare `host` are accepted, as nats-py accepts them."""
    text = raw.strip()
    if not text:
        raise UrlError("empty URL")
    if "://" not in text:
        text = f"nats://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        # urllib's message can quote part of the credentials (a password with '/' reads as a port): never shown.
        raise UrlError("invalid URL (a bad port, or '/', '#' or '?' not percent-encoded in the credentials)") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlError(f"unsupported scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    if not parts.hostname:
        raise UrlError("URL has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UrlError("URL must not have a path, query or fragment")
    return NatsUrl(
        scheme=scheme,
        host=parts.hostname,
        port=port if port is not None else DEFAULT_PORT,
        username=parts.username,
        password=parts.password,
    )


def parse_server_list(raw: str) -> tuple[NatsUrl, ...]:
    """A comma-separated list is several servers of one target, as in the applications' `NATS_URL`."""
    items = [item for item in (part.strip() for part in raw.split(",")) if item]
    if not items:
        raise UrlError("empty URL")
    return tuple(parse_url(item) for item in items)


def classify_host(host: str) -> HostKind:
    """`ip` for any IP literal; `fqdn` for a dotted name (`svc.ns.svc.cluster.local`, `svc.ns`); `short` otherwise."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return HostKind.FQDN if "." in host.rstrip(".") else HostKind.SHORT
    return HostKind.IP


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in free text (an exception message, a server's error line) with `***`."""
    for secret in sorted((value for value in secrets if value), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
