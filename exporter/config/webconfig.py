"""`--web.config.file`: TLS and basic auth in the exporter-toolkit format Prometheus users already write.

```yaml
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
  client_ca_file: ca.pem
  min_version: TLS12
basic_auth_users:
  prometheus: $2y$10$...                          # bcrypt hash (htpasswd -nBC 10 prometheus)
```

The file is re-read when it (or a file it names) changes. The listening socket keeps one SSL context for its whole
life; each new handshake is switched to the newest good context by an SNI callback, so rotated certificates apply
to new connections without a restart, and a broken file never replaces a good one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from exporter.config.validate import ConfigError
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNSUPPORTED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_TLS_KEYS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version")
_AUTH_CACHE_SIZE = 256
_BCRYPT_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bcrypt")


@dataclass(frozen=True, slots=True)
class TLSServerConfig:
    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str | None = None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(path for path in (self.cert_file, self.key_file, self.client_ca_file) if path)


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TLSServerConfig | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash

    @property
    def auth_required(self) -> bool:
        return bool(self.users)


def load_web_config(path: str) -> WebConfig:
    """Parse and validate the file, including loading its certificates; raises ConfigError naming the key."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError("--web.config.file", path, f"a readable file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError("--web.config.file", path, "a UTF-8 text file") from None
    except yaml.YAMLError:
        raise ConfigError("--web.config.file", path, "valid YAML") from None
    if not isinstance(document, dict):
        raise ConfigError("--web.config.file", path, "a mapping with tls_server_config and/or basic_auth_users")
    for key in document:
        if key not in ("tls_server_config", "basic_auth_users", "http_server_config"):
            raise ConfigError(f"web config {key}", "<unknown key>", "tls_server_config or basic_auth_users")
    tls = _tls(document.get("tls_server_config"), Path(path).parent)
    users = _users(document.get("basic_auth_users"))
    config = WebConfig(tls=tls, users=users)
    if tls is not None:
        server_context(tls)  # fail now, with the key named, rather than at the first handshake
    return config


def _tls(raw: object, base: Path) -> TLSServerConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("web config tls_server_config", type(raw).__name__, "a mapping")
    for key in raw:
        if key not in _TLS_KEYS:
            raise ConfigError(f"tls_server_config.{key}", "<unsupported key>", f"one of {', '.join(_TLS_KEYS)}")
    files: dict[str, str | None] = {}
    for key in ("cert_file", "key_file", "client_ca_file"):
        value = raw.get(key)
        # Relative paths are relative to the web config file, as exporter-toolkit resolves them.
        files[key] = str(base / value) if isinstance(value, str) and value else None
        if files[key] is not None and not os.access(str(files[key]), os.R_OK):
            raise ConfigError(f"tls_server_config.{key}", value, "a readable file")
    cert_file, key_file = files["cert_file"], files["key_file"]
    if not cert_file or not key_file:
        raise ConfigError("tls_server_config.cert_file", cert_file, "cert_file and key_file")
    client_auth = str(raw.get("client_auth_type") or "NoClientCert")
    if client_auth in _UNSUPPORTED_CLIENT_AUTH:
        raise ConfigError(
            "tls_server_config.client_auth_type",
            client_auth,
            "NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert (a certificate is always verified)",
        )
    if client_auth not in CLIENT_AUTH_TYPES:
        raise ConfigError("tls_server_config.client_auth_type", client_auth, ", ".join(CLIENT_AUTH_TYPES))
    if client_auth != "NoClientCert" and not files["client_ca_file"]:
        raise ConfigError("tls_server_config.client_ca_file", None, f"a CA file to verify clients ({client_auth})")
    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", None)):
        value = raw.get(key, default)
        if value is not None and (not isinstance(value, str) or value not in TLS_VERSIONS):
            raise ConfigError(f"tls_server_config.{key}", value, ", ".join(TLS_VERSIONS))
        versions[key] = value
    return TLSServerConfig(
        cert_file=cert_file,
        key_file=key_file,
        client_auth_type=client_auth,
        client_ca_file=files["client_ca_file"],
        min_version=str(versions["min_version"]),
        max_version=versions["max_version"],
    )


def _users(raw: object) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError("basic_auth_users", type(raw).__name__, "a mapping of user names to bcrypt hashes")
    users: dict[str, bytes] = {}
    for user, hashed in raw.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise ConfigError(f"basic_auth_users.{user}", "<hash>", "a bcrypt hash such as $2y$10$...")
        users[str(user)] = hashed.encode()
    return users


def server_context(tls: TLSServerConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    if tls.max_version:
        context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
        if tls.client_ca_file:
            context.load_verify_locations(tls.client_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls_server_config", tls.cert_file, f"a valid certificate and matching key ({exc})") from None
    context.verify_mode = CLIENT_AUTH_TYPES[tls.client_auth_type]
    return context


class WebSecurity:
    """The web config in force: the listening SSL context, the users, and re-reading the file when it changes."""

    def __init__(self, path: str | None, initial: WebConfig, on_reload: Callable[[bool], None] | None = None) -> None:
        self.path = path
        self._on_reload = on_reload  # told whether each re-read was accepted
        self.config = initial
        self._current_context = server_context(initial.tls) if initial.tls else None
        self.listening_context: ssl.SSLContext | None = None
        if self._current_context is not None:
            self.listening_context = server_context(initial.tls)  # type: ignore[arg-type]
            self.listening_context.sni_callback = self._switch_context
        self._stamp = self._file_stamp()
        self._verified: dict[tuple[str, bytes], bool] = {}

    def _switch_context(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        if self._current_context is not None:
            connection.context = self._current_context
        return None

    def _file_stamp(self) -> tuple[tuple[str, int, int], ...]:
        paths = [self.path] if self.path else []
        if self.config.tls is not None:
            paths += list(self.config.tls.files)
        stamp = []
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:
                stamp.append((path, -1, -1))
            else:
                stamp.append((path, stat.st_mtime_ns, stat.st_size))
        return tuple(stamp)

    def reload_if_changed(self) -> bool | None:
        """Re-read the file if it or its certificates changed: True applied, False rejected, None unchanged."""
        if self.path is None:
            return None
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            config = load_web_config(self.path)
        except ConfigError as exc:
            log.error("web config rejected; keeping the last good one", extra={"error": str(exc)})
            return self._reloaded(False)
        except Exception:  # a reload boundary: whatever the file holds, the running config stays
            log.exception("web config could not be read; keeping the last good one")
            return self._reloaded(False)
        if (config.tls is None) != (self.config.tls is None) or (
            config.tls and self.config.tls and config.tls.client_auth_type != self.config.tls.client_auth_type
        ):
            log.error("web config: switching TLS or client_auth_type needs a restart; keeping the last good one")
            return self._reloaded(False)
        self._current_context = server_context(config.tls) if config.tls else None
        self.config = config
        self._verified.clear()
        self._stamp = self._file_stamp()
        log.info("web config reloaded", extra={"path": self.path})
        return self._reloaded(True)

    def _reloaded(self, accepted: bool) -> bool:
        if self._on_reload is not None:
            self._on_reload(accepted)
        return accepted

    async def watch(self, stopping: asyncio.Event, interval: float = 2.0) -> None:
        while not await wait_or_stop(stopping, interval):
            self.reload_if_changed()

    async def authorized(self, header: str | None) -> bool:
        """Check `Authorization: Basic ...`; bcrypt is slow by design, so checks run off the loop and are cached."""
        users = self.config.users
        if not users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = users.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(password.encode() + hashed).digest())
        cached = self._verified.get(key)
        if cached is None:
            # Its own thread: the default pool can be full of DNS lookups hanging on a broken resolver.
            loop = asyncio.get_running_loop()
            cached = await loop.run_in_executor(_BCRYPT_POOL, bcrypt.checkpw, password.encode(), hashed)
            if len(self._verified) >= _AUTH_CACHE_SIZE:
                self._verified.clear()
            self._verified[key] = cached
        return cached


def describe(config: WebConfig) -> dict[str, Any]:
    """What the config page shows: never a hash."""
    return {
        "tls": None if config.tls is None else {"client_auth_type": config.tls.client_auth_type},
        "basic_auth_users": sorted(config.users),
    }
