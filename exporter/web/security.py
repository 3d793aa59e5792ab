"""The web config in force: TLS for each new connection, the rate limit, client SANs and basic auth per request.

The file is re-read when its content, or the content of a file it names, changes. The listening socket keeps one
SSL context for its whole life; each new handshake is switched to the newest good context by the SNI callback
(OpenSSL calls it with or without SNI), so rotated certificates, keys and client CAs apply to new connections
without a restart, and a broken file never replaces a good one. Settings OpenSSL fixes when a connection starts
(client auth policy, versions, ciphers, curves) need a restart, and a reload that changes them is refused.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any

import bcrypt

from exporter.config.validate import ConfigError
from exporter.config.webconfig import (
    BCRYPT_HASH,
    RateLimit,
    WebConfig,
    fingerprint,
    load_web_config,
    server_context,
)
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

_AUTH_CACHE_SIZE = 256
_BCRYPT_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bcrypt")


class RateLimiter:
    """A token bucket with golang.org/x/time/rate's semantics: starts full; burst 0 admits nothing."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = float(limit.burst)
        self._last = clock()

    def allow(self) -> bool:
        """Take a token if one is there: False means answer 429 Too Many Requests."""
        now = self._clock()
        rate = 1.0 / self.limit.interval
        self._tokens = min(float(self.limit.burst), self._tokens + (now - self._last) * rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class WebSecurity:
    """The web config in force: the listening SSL context, the users, and re-reading the file when it changes."""

    def __init__(self, path: str | None, initial: WebConfig, on_reload: Callable[[bool], None] | None = None) -> None:
        self.path = path
        self._on_reload = on_reload  # told whether each re-read was accepted
        self.config = initial
        self._current_context = server_context(initial.tls) if initial.tls else None
        self.listening_context: ssl.SSLContext | None = None
        if initial.tls is not None:
            self.listening_context = server_context(initial.tls)
            # OpenSSL calls this for every ClientHello, with SNI or without (None): each handshake gets the newest.
            self.listening_context.sni_callback = self._switch_context
        self._seen = initial.fingerprint  # the content last read, accepted or not
        self._verified: set[tuple[str, bytes]] = set()
        self._rejected: set[tuple[str, bytes]] = set()
        self.rate_limiter = RateLimiter(initial.rate_limit) if initial.rate_limit else None

    def _switch_context(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        if self._current_context is not None:
            connection.context = self._current_context
        return None

    def _current_fingerprint(self) -> bytes:
        """The digest `parse_web_config` would give the files as they are now (b"" if unreadable)."""
        if self.path is None:
            return b""
        try:
            raw = Path(self.path).read_bytes()
        except OSError:
            return b""
        contents: list[bytes | None] = []
        tls = self.config.tls
        for path in (tls.cert_file, tls.key_file, tls.client_ca_file) if tls else ():
            try:
                contents.append(Path(path).read_bytes() if path else None)
            except OSError:
                contents.append(b"\xff unreadable")
        return fingerprint(raw, contents)

    def reload_if_changed(self, current: bytes | None = None) -> bool | None:
        """Re-read the file if its content or its certificates' changed: True applied, False rejected, None same.

        Content, not modification times: a certificate rotated within the same clock tick, or copied with its
        old time preserved, is still seen.
        """
        if self.path is None:
            return None
        current = self._current_fingerprint()
        if current == self._seen:
            return None
        self._seen = current
        if current == self.config.fingerprint:  # back to what is running, after a rejected edit
            return self._reloaded(True)
        try:
            config = load_web_config(self.path)
        except ConfigError as exc:
            log.error("web config rejected; keeping the last good one", extra={"error": str(exc)})
            return self._reloaded(False)
        except Exception:  # a reload boundary: whatever the file holds, the running config stays
            log.exception("web config could not be read; keeping the last good one")
            return self._reloaded(False)
        old, new = self.config.tls, config.tls
        if (old is None) != (new is None) or (
            old and new and old.fixed_per_connection() != new.fixed_per_connection()
        ) or config.http2 != self.config.http2:  # fmt: skip
            log.error(
                "web config: turning TLS on or off, or changing client_auth_type, versions, cipher_suites,"
                " curve_preferences or http2, needs a restart; keeping the last good one"
            )
            return self._reloaded(False)
        self._current_context = server_context(new) if new else None
        if config.rate_limit != self.config.rate_limit:
            self.rate_limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.config = config
        self._seen = config.fingerprint
        self._verified.clear()
        self._rejected.clear()
        log.info("web config reloaded", extra={"path": self.path})
        return self._reloaded(True)

    def _reloaded(self, accepted: bool) -> bool:
        if self._on_reload is not None:
            self._on_reload(accepted)
        return accepted

    async def watch(self, stopping: asyncio.Event, interval: float = 2.0) -> None:
        while not await wait_or_stop(stopping, interval):
            # Reading the file and the certificates it names is done in a thread: nothing blocks the loop.
            current = await asyncio.to_thread(self._current_fingerprint)
            if current != self._seen:
                self.reload_if_changed(current)

    async def refusal(self, authorization: str | None, peercert: Mapping[str, Any] | None) -> HTTPStatus | None:
        """What the web layer answers instead of serving a request, or None to serve it; in exporter-toolkit's
        order: the rate limit (429), the client certificate's SANs (403; Go ends the handshake instead), then
        basic auth (401, with `WWW-Authenticate: Basic`)."""
        if not self.allow_request():
            return HTTPStatus.TOO_MANY_REQUESTS
        if not self.config.client_san_allowed(peercert):
            return HTTPStatus.FORBIDDEN
        if not await self.authorized(authorization):
            return HTTPStatus.UNAUTHORIZED
        return None

    def allow_request(self) -> bool:
        """The rate limit, checked before anything else as exporter-toolkit does: False means answer 429."""
        return self.rate_limiter is None or self.rate_limiter.allow()

    async def authorized(self, header: str | None) -> bool:
        """Check `Authorization: Basic ...`; bcrypt is slow by design, so checks run off the loop and are cached.

        An unknown user costs the same bcrypt check as a known one with a wrong password (against the
        costliest configured hash), so response times do not tell which user names exist.
        """
        users = self.config.users
        if not users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        known = user in users
        hashed = users[user] if known else _decoy_hash(users)
        key = (user, hashlib.sha256(password.encode() + hashed).digest())
        # Successes and failures are cached apart: a burst of wrong passwords must not flush the scrapers' good
        # entries and put bcrypt back on every real scrape.
        if key in self._verified:
            return True
        if key in self._rejected:
            return False
        # Its own thread: the default pool can be full of DNS lookups hanging on a broken resolver.
        loop = asyncio.get_running_loop()
        matches = await loop.run_in_executor(_BCRYPT_POOL, bcrypt.checkpw, password.encode(), hashed)
        accepted = known and matches
        cache = self._verified if accepted else self._rejected
        if len(cache) >= _AUTH_CACHE_SIZE:
            cache.clear()
        cache.add(key)
        return accepted


def _decoy_hash(users: Mapping[str, bytes]) -> bytes:
    """The hash an unknown user is checked against: the costliest real one, so the work is the same."""
    return max(users.values(), key=_bcrypt_cost)


def _bcrypt_cost(hashed: bytes) -> int:
    match = BCRYPT_HASH.fullmatch(hashed)
    return int(match.group(1)) if match else 0
