"""Client TLS contexts for NATS connections: built from the validated settings, rebuilt when their files change.

A client certificate rotated by cert-manager (or a renewed CA bundle) is written to the same paths; `ClientTLS`
notices the change on the next connection and builds a new context, so probes and new sessions present the new
certificate without a restart. A half-written rotation (a certificate without its key yet) keeps the last good
context until the files agree again.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.config.model import TLSSettings

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between looks at the files: never per probe at high probe rates

FileStamp = tuple[tuple[str, bytes], ...]


def client_context(tls: TLSSettings) -> ssl.SSLContext:
    """A verifying client context; raises OSError or ssl.SSLError for unreadable or malformed files."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tls.ca_file)
    if tls.cert_file and tls.key_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _stamp(tls: TLSSettings) -> FileStamp:
    """A digest of each file's content: content, not times, so a rewrite within one clock tick or a copy that
    kept the old modification time is still seen (the files are a few KiB, read once a second at most)."""
    stamp = []
    for path in (tls.ca_file, tls.cert_file, tls.key_file):
        if not path:
            continue
        try:
            with open(path, "rb") as file:
                stamp.append((path, hashlib.sha256(file.read()).digest()))
        except OSError:
            stamp.append((path, b""))
    return tuple(stamp)


class ClientTLS:
    """A target's client context that follows its files; `context()` is what each new connection should use."""

    def __init__(
        self, settings: TLSSettings, *, check_every: float = CHECK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._check_every = check_every
        self._clock = clock
        self._stamp = _stamp(settings)
        self._context = client_context(settings)  # raises: the files were validated at load, so they should load
        self._checked = clock()

    def context(self) -> ssl.SSLContext:
        """The newest good context: the files are read at most every `check_every` seconds."""
        now = self._clock()
        if now - self._checked >= self._check_every:
            self._checked = now
            self._refresh()
        return self._context

    def _refresh(self) -> None:
        stamp = _stamp(self.settings)
        if stamp == self._stamp:
            return
        self._stamp = stamp  # judged once: a broken rotation is logged once, retried when the files change again
        try:
            self._context = client_context(self.settings)
        except (OSError, ssl.SSLError) as exc:
            log.error(
                "client TLS files changed but do not load; keeping the last good ones",
                extra={"files": [entry[0] for entry in stamp], "error": str(exc)},
            )
            return
        log.info("client TLS files reloaded", extra={"files": [entry[0] for entry in stamp]})
