"""The one place where an exception, and the phase it happened in, becomes a `Reason`.

nats-py hides the cause of a failed first connect: a refused port and an unknown name both surface as
`NoServersError`, and the real exception reaches only `error_cb`. So classification looks at what `error_cb` saw
when the raised exception says nothing.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence

import nats.errors

from exporter.probe.result import Phase, Reason

_AUTH_MARKERS = ("authorization violation", "authentication", "user authentication expired", "account")
_TLS_MARKERS = ("secure connection", "tls", "ssl", "certificate")


def classify(exc: BaseException, phase: Phase, seen: Sequence[BaseException] = ()) -> Reason:
    """Map a probe's failure to its reason. `seen` holds what nats-py passed to `error_cb`, oldest first."""
    if phase is Phase.PUBSUB:
        return Reason.PUBSUB_ERROR
    reason = _classify_one(exc)
    if reason is not None:
        return reason
    for earlier in reversed(seen):
        reason = _classify_one(earlier)
        if reason is not None:
            return reason
    return Reason.PROTOCOL_ERROR if isinstance(exc, nats.errors.Error) else Reason.NETWORK_ERROR


def _classify_one(exc: BaseException) -> Reason | None:
    # Order matters: the ssl errors are OSErrors, and gaierror is one too.
    if isinstance(exc, socket.gaierror):
        return Reason.DNS_ERROR
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return Reason.TLS_ERROR
    if isinstance(exc, TimeoutError):
        return Reason.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return Reason.CONNECTION_REFUSED
    if isinstance(exc, nats.errors.NoServersError):
        return None  # says nothing: the cause is in what error_cb saw
    if isinstance(exc, nats.errors.Error | ValueError):
        message = str(exc).lower()
        if any(marker in message for marker in _AUTH_MARKERS):
            return Reason.AUTH_ERROR
        if any(marker in message for marker in _TLS_MARKERS):
            return Reason.TLS_ERROR
        return Reason.PROTOCOL_ERROR
    if isinstance(exc, OSError):  # unreachable network or host, reset, broken pipe
        return Reason.NETWORK_ERROR
    return None


def describe(exc: BaseException) -> str:
    """A short human text for an exception: its message, or its type name when the message is empty."""
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or not text:
        return name if name != "TimeoutError" else "timed out"
    return f"{name}: {text}"
