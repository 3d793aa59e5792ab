"""How a target's settings become nats-py connect arguments, shared by the probe and the session."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from exporter.config import Target
from exporter.config.nats_url import NatsUrl
from exporter.config.tls import ClientTLS, client_context

ErrorCallback = Callable[[Exception], Awaitable[None]]


def ssl_context(target: Target) -> ssl.SSLContext | None:
    """The client TLS context, or None to let nats-py upgrade on its own when the server requires TLS."""
    return client_context(target.tls) if target.uses_tls else None


def client_tls(target: Target) -> ClientTLS | None:
    """A client TLS context that follows rotated files, for workers that connect again and again; None without TLS."""
    return ClientTLS(target.tls) if target.uses_tls else None


def connect_options(
    target: Target,
    servers: tuple[NatsUrl, ...],
    *,
    error_cb: ErrorCallback,
    name: str,
    context: ssl.SSLContext | None,
) -> dict[str, Any]:
    """Arguments for `nats.connect` common to both uses; the caller adds its reconnect policy."""
    creds = target.credentials
    options: dict[str, Any] = {
        "servers": [server.for_client() for server in servers],
        "name": name,
        "error_cb": error_cb,
        "dont_randomize": True,
        "connect_timeout": max(1, round(target.timeout)),
        "tls": context,
        "tls_hostname": target.tls.server_name,
        "tls_handshake_first": target.tls.handshake_first,
    }
    if creds.user is not None:
        options["user"] = creds.user
    if creds.password is not None:
        options["password"] = creds.password.reveal()
    if creds.token is not None:
        options["token"] = creds.token.reveal()
    if creds.nkey_seed_file:
        options["nkeys_seed"] = creds.nkey_seed_file
    if creds.creds_file:
        options["user_credentials"] = creds.creds_file
    return options
