"""`--web.config.file`: the exporter-toolkit web config format, in full wherever Python's TLS can follow it.

```yaml
tls_server_config:
  cert_file: server.pem          # or `cert: |` with the PEM text inline
  key_file: server.key           # or `key: |`
  client_auth_type: RequireAndVerifyClientCert   # or NoClientCert, VerifyClientCertIfGiven
  client_ca_file: ca.pem         # or `client_ca: |`; absent: the system's roots, as Go does
  client_allowed_sans: [prometheus.monitoring.svc]
  min_version: TLS12
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]   # Go's names
  curve_preferences: [X25519]
http_server_config:
  headers: {X-Frame-Options: deny, Strict-Transport-Security: max-age=31536000}
rate_limit: {interval: 1s, burst: 10}
basic_auth_users:
  prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 prometheus)
```

A file that exporter-toolkit accepts is accepted here with the same meaning, or refused with a line naming the key
and why Python cannot do it (`RequireAnyClientCert`, several curves); a file it refuses is refused for the same
reason (tests/config/test_webconfig_conformance.py runs its own test data through this parser).

This module parses and validates; `exporter.web.security` applies the result to connections and requests, and
re-reads the file when it changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import ssl
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.config.validate import ConfigError

log = logging.getLogger(__name__)

CLIENT_AUTH_TYPES = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go asks for a certificate without verifying it; OpenSSL through Python's ssl verifies every certificate it asks
# for (there is no verify callback to accept any), so these policies cannot be honoured and are refused by name.
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's tls.CipherSuites() (the only names exporter-toolkit accepts) and OpenSSL's name for each. TLS 1.3 suites
# are not configurable in Go either (it always enables all three), so they are accepted and change nothing.
CIPHER_SUITES: Mapping[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
}
# Go's HTTP/2 server refuses a TLS 1.2 cipher list without one of these (RFC 7540 section 9.2.2).
_HTTP2_REQUIRED_CIPHERS = ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
# exporter-toolkit's curve names and OpenSSL's.
CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1", "X25519": "X25519"}
# The headers exporter-toolkit lets a web config add, with the values it accepts (None: any value).
HEADERS: Mapping[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_TOP_KEYS = ("tls_server_config", "http_server_config", "rate_limit", "basic_auth_users")
_TLS_KEYS = (
    "cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type", "client_ca_file", "cipher_suites",
    "curve_preferences", "min_version", "max_version", "prefer_server_cipher_suites", "client_allowed_sans",
)  # fmt: skip
BCRYPT_HASH = re.compile(rb"\$2[aby]?\$(\d\d)\$[./A-Za-z0-9]{53}")
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class TLSServerConfig:
    """The server's TLS settings, with the PEM material exactly as read (what the context is built from)."""

    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    cert_file: str | None = None  # None: the certificate was inline (`cert`)
    key_file: str | None = None
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    client_ca_pem: bytes | None = field(default=None, repr=False)  # None with client auth: the system's roots
    client_allowed_sans: tuple[str, ...] | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: tuple[str, ...] = ()  # Go names; empty: OpenSSL's defaults
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()  # Go names; empty: OpenSSL's defaults

    @property
    def files(self) -> tuple[str, ...]:
        """The files to watch for rotation."""
        return tuple(path for path in (self.cert_file, self.key_file, self.client_ca_file) if path)

    def fixed_per_connection(self) -> tuple[object, ...]:
        """What OpenSSL copies into a connection when it starts: changing it needs a new listening context."""
        return (
            self.client_auth_type,
            self.min_version,
            self.max_version,
            self.cipher_suites,
            self.prefer_server_cipher_suites,
            self.curve_preferences,
        )

    def client_san_allowed(self, peercert: Mapping[str, Any] | None) -> bool:
        """Whether a verified client certificate (`getpeercert()`, aiohttp's `peercert` extra info) may connect.

        As exporter-toolkit: one of the certificate's DNS, e-mail, IP or URI SANs must equal an entry exactly.
        Without `client_allowed_sans` every client passes; with it, a client without a certificate does not.
        """
        if self.client_allowed_sans is None:
            return True
        if not peercert:
            return False
        return any(value in self.client_allowed_sans for value in _san_values(peercert))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """exporter-toolkit's token bucket: one request per `interval` on average, up to `burst` at once."""

    interval: float  # seconds
    burst: int


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TLSServerConfig | None = None
    users: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # user -> bcrypt hash
    headers: Mapping[str, str] = field(default_factory=dict)  # sent on every response
    http2: bool = True  # exporter-toolkit's switch; aiohttp serves HTTP/1.1 only, which every client falls back to
    rate_limit: RateLimit | None = None
    fingerprint: bytes = field(default=b"", repr=False, compare=False)  # digest of every byte this was built from

    @property
    def auth_required(self) -> bool:
        return bool(self.users)

    def client_san_allowed(self, peercert: Mapping[str, Any] | None) -> bool:
        """The `client_allowed_sans` check for a connection's peer certificate (True when none is configured)."""
        return self.tls is None or self.tls.client_san_allowed(peercert)


def _san_values(peercert: Mapping[str, Any]) -> Iterator[str]:
    """The SANs Go compares, written as Go writes them (IP addresses in canonical form)."""
    for kind, value in peercert.get("subjectAltName", ()):
        if kind in ("DNS", "email", "URI"):
            yield str(value)
        elif kind == "IP Address":
            try:
                yield str(ipaddress.ip_address(str(value).strip()))
            except ValueError:
                continue


class _StrictLoader(yaml.SafeLoader):
    """YAML as Go's UnmarshalStrict reads it: a key given twice is an error, not a silent override."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_web_config(path: str) -> WebConfig:
    """Parse and validate the file, including loading its certificates; raises ConfigError naming the key."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError("--web.config.file", path, f"a readable file ({exc.strerror})") from None
    return parse_web_config(raw, Path(path).parent)


def parse_web_config(raw: bytes, base: Path) -> WebConfig:
    """The config in `raw`; relative file names are relative to `base` (the file's directory, as Go resolves)."""
    try:
        document = yaml.load(raw.decode("utf-8"), Loader=_StrictLoader) or {}  # a SafeLoader
    except UnicodeDecodeError:
        raise ConfigError("--web.config.file", "<bytes>", "a UTF-8 text file") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None)
        raise ConfigError("--web.config.file", "<file>", f"valid YAML ({problem or 'unparsable'})") from None
    if not isinstance(document, dict):
        raise ConfigError("--web.config.file", type(document).__name__, f"a mapping with keys {', '.join(_TOP_KEYS)}")
    _known_keys("web config", document, _TOP_KEYS)
    headers, http2 = _http(document.get("http_server_config"))
    users = _users(document.get("basic_auth_users"))
    rate_limit = _rate_limit(document.get("rate_limit"))
    files: list[bytes | None] = []
    tls = _tls(document.get("tls_server_config"), base, http2, files)
    if tls is not None:
        server_context(tls)  # fail now, with the key named, rather than at the first handshake
    return WebConfig(
        tls=tls, users=users, headers=headers, http2=http2, rate_limit=rate_limit, fingerprint=fingerprint(raw, files)
    )


def fingerprint(raw: bytes, files: Sequence[bytes | None]) -> bytes:
    """A digest of the config text and each named file's content: equal digests, equal configs."""
    digest = hashlib.sha256(raw)
    for content in files:
        digest.update(b"\x00-" if content is None else b"\x01" + hashlib.sha256(content).digest())
    return digest.digest()


def _known_keys(where: str, raw: Mapping[Any, Any], known: Sequence[str]) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}", "<unknown key>", f"one of {', '.join(known)}")


def _mapping(key: str, raw: object) -> dict[Any, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(key, type(raw).__name__, "a mapping")
    return raw


def _text(key: str, raw: object) -> str:
    """A string field as Go's YAML reads one: absent or null is empty; numbers and booleans keep their text."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str | int):
        return str(raw)
    raise ConfigError(key, type(raw).__name__, "a string")


def _string_list(key: str, raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(key, type(raw).__name__, "a list of strings")
    return tuple(raw)


def _http(raw: object) -> tuple[dict[str, str], bool]:
    http = _mapping("http_server_config", raw)
    _known_keys("http_server_config", http, ("http2", "headers"))
    http2 = http.get("http2", True)
    if not isinstance(http2, bool):
        raise ConfigError("http_server_config.http2", http2, "true or false")
    headers: dict[str, str] = {}
    for name, value in _mapping("http_server_config.headers", http.get("headers")).items():
        key = f"http_server_config.headers.{name}"
        if name not in HEADERS:
            raise ConfigError(key, "<header>", f"one of the headers exporter-toolkit sets: {', '.join(HEADERS)}")
        text = _text(key, value)
        allowed = HEADERS[name]
        if allowed is not None and text not in allowed:
            raise ConfigError(key, text, " or ".join(allowed))
        if text:  # blank: unset, as exporter-toolkit documents
            headers[name] = text
    return headers, http2


def _users(raw: object) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for user, hashed in _mapping("basic_auth_users", raw).items():
        if not isinstance(hashed, str) or not BCRYPT_HASH.fullmatch(hashed.encode()):
            raise ConfigError(f"basic_auth_users.{user}", "<hash>", "a bcrypt hash such as $2y$10$...")
        users[str(user)] = hashed.encode()
    return users


def _rate_limit(raw: object) -> RateLimit | None:
    limit = _mapping("rate_limit", raw)
    _known_keys("rate_limit", limit, ("interval", "burst"))
    interval = go_duration("rate_limit.interval", limit.get("interval", 0))
    burst = limit.get("burst", 0)
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 0:
        raise ConfigError("rate_limit.burst", burst, "a whole number of requests, 0 or more")
    if interval < 0:
        raise ConfigError("rate_limit.interval", limit.get("interval"), "a duration, 0 or more (0 turns it off)")
    return RateLimit(interval=interval, burst=burst) if interval > 0 else None


def go_duration(key: str, raw: object) -> float:
    """Seconds for a Go duration (`1s`, `1.5m`, `300ms`; a bare integer counts nanoseconds, as in Go's YAML)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw * 1e-9
    text = raw if isinstance(raw, str) else ""
    body = text.lstrip("+-")
    negative = text.startswith("-")
    if body == "0":
        return 0.0
    parts = _GO_DURATION_PART.findall(body)
    if not parts or "".join(number + unit for number, unit in parts) != body:
        raise ConfigError(key, raw, "a Go duration such as 1s, 500ms or 1m30s")
    seconds = sum(float(number) * _GO_DURATION_UNITS[unit] for number, unit in parts)
    return -seconds if negative else seconds


def _tls(raw: object, base: Path, http2: bool, files: list[bytes | None]) -> TLSServerConfig | None:
    """The TLS settings, checked in exporter-toolkit's order so a file fails for the reason it fails there."""
    settings = _mapping("tls_server_config", raw)
    _known_keys("tls_server_config", settings, _TLS_KEYS)
    key = "tls_server_config"
    text = {name: _text(f"{key}.{name}", settings.get(name)) for name in _TLS_KEYS[:7]}
    versions = {}
    for name, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        value = settings.get(name, default)
        if not isinstance(value, str) or value not in TLS_VERSIONS:
            raise ConfigError(f"{key}.{name}", value, ", ".join(TLS_VERSIONS))
        versions[name] = value
    ciphers = _string_list(f"{key}.cipher_suites", settings.get("cipher_suites"))
    for cipher in ciphers:
        if cipher not in CIPHER_SUITES:
            raise ConfigError(f"{key}.cipher_suites", cipher, "a name from Go's tls.CipherSuites()")
    curves = _string_list(f"{key}.curve_preferences", settings.get("curve_preferences"))
    for curve in curves:
        if curve not in CURVES:
            raise ConfigError(f"{key}.curve_preferences", curve, ", ".join(CURVES))
    prefer_server = settings.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer_server, bool):
        raise ConfigError(f"{key}.prefer_server_cipher_suites", prefer_server, "true or false")
    sans_raw = settings.get("client_allowed_sans")
    sans = None if sans_raw is None else _string_list(f"{key}.client_allowed_sans", sans_raw)

    if not any(text[name] for name in ("cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
                                       "client_ca_file")):  # fmt: skip
        return None  # no TLS: plain HTTP, as exporter-toolkit serves it
    if not text["cert_file"] and not text["cert"]:
        raise ConfigError(f"{key}.cert_file", "", "cert_file or cert (missing one of cert or cert_file)")
    if not text["key_file"] and not text["key"]:
        raise ConfigError(f"{key}.key_file", "", "key_file or key (missing one of key or key_file)")
    cert_file, cert_pem = _pem(f"{key}.cert_file", text["cert_file"], text["cert"], base, files)
    key_file, key_pem = _pem(f"{key}.key_file", text["key_file"], text["key"], base, files)
    ca_file, ca_pem = _pem(f"{key}.client_ca_file", text["client_ca_file"], text["client_ca"], base, files)
    client_auth = text["client_auth_type"] or "NoClientCert"
    if client_auth in _UNVERIFIED_CLIENT_AUTH:
        raise ConfigError(
            f"{key}.client_auth_type",
            client_auth,
            "NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert: Python's ssl verifies every client"
            " certificate it asks for, so it cannot accept one without verifying it",
        )
    if client_auth not in CLIENT_AUTH_TYPES:
        raise ConfigError(f"{key}.client_auth_type", client_auth, ", ".join(CLIENT_AUTH_TYPES))
    if ca_pem is not None and client_auth == "NoClientCert":
        raise ConfigError(
            f"{key}.client_auth_type",
            client_auth,
            "a client auth policy such as RequireAndVerifyClientCert, since a client CA is configured"
            " (client CA's have been configured without a Client Auth Policy)",
        )
    if sans is not None and client_auth == "NoClientCert":
        raise ConfigError(f"{key}.client_allowed_sans", list(sans), "a client_auth_type that asks for certificates")
    if len(curves) > 1:
        raise ConfigError(
            f"{key}.curve_preferences",
            list(curves),
            "one curve: Python's ssl can set a single curve (SSLContext.set_ecdh_curve), not a preference list",
        )
    if http2 and ciphers and versions["min_version"] != "TLS13" and not set(ciphers) & set(_HTTP2_REQUIRED_CIPHERS):
        raise ConfigError(
            f"{key}.cipher_suites",
            list(ciphers),
            f"one of {' or '.join(_HTTP2_REQUIRED_CIPHERS)}, which HTTP/2 requires (or http2: false)",
        )
    return TLSServerConfig(
        cert_pem=cert_pem or b"",
        key_pem=key_pem or b"",
        cert_file=cert_file,
        key_file=key_file,
        client_auth_type=client_auth,
        client_ca_file=ca_file,
        client_ca_pem=ca_pem,
        client_allowed_sans=sans,
        min_version=versions["min_version"],
        max_version=versions["max_version"],
        cipher_suites=ciphers,
        prefer_server_cipher_suites=prefer_server,
        curve_preferences=curves,
    )


def _pem(
    key: str, file_name: str, inline: str, base: Path, files: list[bytes | None]
) -> tuple[str | None, bytes | None]:
    """The file's path and content (a file wins over inline text, as in Go), or the inline text, or nothing."""
    if file_name:
        path = str(base / file_name)  # an absolute name stays as it is
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(key, file_name, f"a readable file ({exc.strerror})") from None
        files.append(content)
        return path, content
    files.append(None)
    return None, inline.encode() if inline else None


@contextlib.contextmanager
def _pem_paths(*contents: bytes) -> Iterator[list[str]]:
    """Paths OpenSSL can open for in-memory PEM (load_cert_chain takes only paths): anonymous memory on Linux.

    The key never touches a disk: memfd files live in memory and vanish when closed. Elsewhere, a private
    temporary directory, removed at once.
    """
    if hasattr(os, "memfd_create"):
        fds = [os.memfd_create("web-config-pem", os.MFD_CLOEXEC) for _ in contents]
        try:
            for fd, content in zip(fds, contents, strict=True):
                os.write(fd, content)
            yield [f"/proc/self/fd/{fd}" for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory() as directory:  # created 0700
        paths = []
        for index, content in enumerate(contents):
            path = Path(directory) / f"{index}.pem"
            path.write_bytes(content)
            paths.append(str(path))
        yield paths


def server_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """The server context for these settings; raises ConfigError naming what OpenSSL refused."""
    key = "tls_server_config"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.minimum_version = TLS_VERSIONS[tls.min_version]
        context.maximum_version = TLS_VERSIONS[tls.max_version]
    except ValueError as exc:
        raise ConfigError(f"{key}.min_version", tls.min_version, f"a version OpenSSL offers ({exc})") from None
    if tls.min_version > tls.max_version:  # "TLS1x" strings order as the versions do
        raise ConfigError(f"{key}.max_version", tls.max_version, f"a version no lower than {tls.min_version}")
    try:
        with _pem_paths(tls.cert_pem, tls.key_pem) as (cert_path, key_path):
            context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{key}.cert_file", tls.cert_file or "<inline cert>",
                          f"a PEM certificate and its matching key ({_reason(exc)})") from None  # fmt: skip
    if tls.client_auth_type != "NoClientCert":
        try:
            if tls.client_ca_pem is None:
                context.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # no CA given: the system's roots, as Go
            else:
                context.load_verify_locations(cadata=tls.client_ca_pem.decode("ascii", "replace"))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"{key}.client_ca_file", tls.client_ca_file or "<inline client_ca>",
                              f"PEM CA certificates ({_reason(exc)})") from None  # fmt: skip
    context.verify_mode = CLIENT_AUTH_TYPES[tls.client_auth_type]
    suites = [name for name in (CIPHER_SUITES[cipher] for cipher in tls.cipher_suites) if name]
    if tls.cipher_suites and not suites:
        # Only TLS 1.3 suites listed: Go then has no suite for TLS 1.2 and below, so only TLS 1.3 handshakes.
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    if suites:
        try:
            context.set_ciphers(":".join(suites))
        except ssl.SSLError as exc:
            raise ConfigError(f"{key}.cipher_suites", list(tls.cipher_suites),
                              f"suites this OpenSSL offers ({_reason(exc)})") from None  # fmt: skip
    if not tls.prefer_server_cipher_suites:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    for curve in tls.curve_preferences:
        try:
            context.set_ecdh_curve(CURVES[curve])
        except (ValueError, ssl.SSLError) as exc:
            raise ConfigError(f"{key}.curve_preferences", curve, f"a curve this OpenSSL offers ({exc})") from None
    return context


def _reason(exc: OSError | ssl.SSLError | ValueError) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)


def describe(config: WebConfig) -> dict[str, Any]:
    """What the config page shows: never a hash, a key or a certificate."""
    tls = config.tls
    return {
        "tls": None
        if tls is None
        else {
            "client_auth_type": tls.client_auth_type,
            "cert_file": tls.cert_file or "<inline>",
            "client_ca": tls.client_ca_file or ("<inline>" if tls.client_ca_pem else None),
            "client_allowed_sans": list(tls.client_allowed_sans) if tls.client_allowed_sans is not None else None,
            "min_version": tls.min_version,
            "max_version": tls.max_version,
            "cipher_suites": list(tls.cipher_suites),
            "curve_preferences": list(tls.curve_preferences),
        },
        "basic_auth_users": sorted(config.users),
        "headers": dict(config.headers),
        "rate_limit": None
        if config.rate_limit is None
        else {"interval_seconds": config.rate_limit.interval, "burst": config.rate_limit.burst},
    }
