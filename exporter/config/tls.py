"""Client TLS contexts for NATS connections, built once from the validated settings."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.config.model import TLSSettings


def client_context(tls: TLSSettings) -> ssl.SSLContext:
    """A verifying client context; raises OSError or ssl.SSLError for unreadable or malformed files."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_file)
    if tls.cert_file and tls.key_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
