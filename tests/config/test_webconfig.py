"""exporter/config/webconfig.py: the web config's meaning, proven with real TLS handshakes on loopback.

The server here is a bare asyncio TLS server built from the same `WebSecurity` the exporter listens with, so a
test sees what a scraper's handshake sees: which certificate, which cipher, whether a client certificate passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import webconfig
from exporter.config.validate import ConfigError
from exporter.config.webconfig import RateLimit, WebConfig, go_duration, load_web_config
from exporter.web.security import RateLimiter, WebSecurity
from tests.certs import CertificateAuthority, CertPair
from tests.conftest import wait_for

TIMEOUT = 5.0
REFUSED = (ssl.SSLError, ConnectionError)  # how a refused handshake reaches the client, by TLS version


@dataclass
class Served:
    """A TLS server on 127.0.0.1 answering each connection with what it saw of the client."""

    port: int
    security: WebSecurity


@dataclass(frozen=True)
class Seen:
    peer_der: bytes  # the server certificate the client was shown
    cipher: str
    reply: dict[str, Any]  # the server's view: {"peercert": ..., "san_allowed": ...}


@contextlib.asynccontextmanager
async def serve(security: WebSecurity) -> AsyncIterator[Served]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peercert = writer.get_extra_info("peercert")
        reply = {"peercert": bool(peercert), "san_allowed": security.config.client_san_allowed(peercert)}
        writer.write(json.dumps(reply).encode() + b"\n")
        try:
            async with asyncio.timeout(TIMEOUT):
                await writer.drain()
        except (OSError, TimeoutError):
            pass
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=security.listening_context)
    try:
        yield Served(server.sockets[0].getsockname()[1], security)
    finally:
        server.close()
        await server.wait_closed()


async def connect(port: int, context: ssl.SSLContext, *, sni: str | None = None) -> Seen:
    """One handshake and the server's one-line answer; raises (ssl.SSLError, OSError, ...) if refused."""
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname=sni or "127.0.0.1"
        )
        try:
            line = await reader.readline()
            if not line:
                raise ConnectionResetError("the server closed the connection")
            ssl_object = writer.get_extra_info("ssl_object")
            return Seen(ssl_object.getpeercert(binary_form=True), ssl_object.cipher()[0], json.loads(line))
        finally:
            writer.close()


def client(ca: CertificateAuthority, pair: CertPair | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    if pair is not None:
        context.load_cert_chain(str(pair.cert), str(pair.key))
    return context


def der(pair: CertPair) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pair.cert.read_text())


def write_config(path: Path, tls: dict[str, Any], **rest: Any) -> Path:
    path.write_text(json.dumps({"tls_server_config": tls, **rest}))  # JSON is YAML
    return path


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path)


@pytest.fixture
def server_pair(ca: CertificateAuthority) -> CertPair:
    return ca.issue("exporter")


def security_for(path: Path) -> WebSecurity:
    return WebSecurity(str(path), load_web_config(str(path)))


# --- rotation: same paths, new contents, new connections see them ---------------------------------------------


@pytest.mark.parametrize("sni", [None, "localhost"], ids=["by-ip-no-sni", "by-name-sni"])
async def test_rotated_certificate_and_key_serve_new_connections(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path, sni: str | None
) -> None:
    config = write_config(tmp_path / "web.yml", {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key)})
    security = security_for(config)
    async with serve(security) as served:
        assert (await connect(served.port, client(ca), sni=sni)).peer_der == der(server_pair)

        times = [os.stat(path) for path in (server_pair.cert, server_pair.key)]
        rotated = ca.issue_pem("exporter")  # same name, new key: what cert-manager writes on renewal
        server_pair.cert.write_bytes(rotated.cert_pem)
        server_pair.key.write_bytes(rotated.key_pem)
        for path, stat in zip((server_pair.cert, server_pair.key), times, strict=True):
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # a copy that keeps the old times

        assert security.reload_if_changed() is True
        assert (await connect(served.port, client(ca), sni=sni)).peer_der == ssl.PEM_cert_to_DER_cert(
            rotated.cert_pem.decode()
        )
        assert security.reload_if_changed() is None  # nothing changed since


async def test_the_watcher_picks_up_a_rotation(ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path) -> None:
    config = write_config(tmp_path / "web.yml", {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key)})
    security = security_for(config)
    stopping = asyncio.Event()
    async with serve(security) as served:
        watcher = asyncio.create_task(security.watch(stopping, interval=0.05))
        try:
            rotated = ca.issue("exporter")  # rewrites the same two files
            want = der(rotated)

            async def shows_rotated() -> bool:
                return (await connect(served.port, client(ca))).peer_der == want

            await wait_for(shows_rotated, timeout=TIMEOUT, message="a new handshake to show the rotated certificate")
        finally:
            stopping.set()
            async with asyncio.timeout(TIMEOUT):
                await watcher


async def test_half_rotated_files_keep_the_last_good_certificate(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "web.yml", {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key)})
    verdicts: list[bool] = []
    security = WebSecurity(str(config), load_web_config(str(config)), on_reload=verdicts.append)
    async with serve(security) as served:
        rotated = ca.issue_pem("exporter")
        server_pair.cert.write_bytes(rotated.cert_pem)  # the key is not written yet: they do not match
        assert security.reload_if_changed() is False
        assert security.reload_if_changed() is None  # the same broken content is judged once
        assert (await connect(served.port, client(ca))).peer_der == der_of_first(security)
        server_pair.key.write_bytes(rotated.key_pem)
        assert security.reload_if_changed() is True
        assert (await connect(served.port, client(ca))).peer_der == ssl.PEM_cert_to_DER_cert(rotated.cert_pem.decode())
    assert verdicts == [False, True]


def der_of_first(security: WebSecurity) -> bytes:
    tls = security.config.tls
    assert tls is not None
    return ssl.PEM_cert_to_DER_cert(tls.cert_pem.decode())


async def test_rotated_client_ca_decides_new_connections(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path
) -> None:
    client_ca_file = tmp_path / "clients.pem"
    old_ca = CertificateAuthority(tmp_path, name="old-clients")
    new_ca = CertificateAuthority(tmp_path, name="new-clients")
    client_ca_file.write_bytes(old_ca.ca_pem)
    old_client, new_client = old_ca.issue("old", client=True), new_ca.issue("new", client=True)
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key),
         "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": str(client_ca_file)},
    )  # fmt: skip
    security = security_for(config)
    async with serve(security) as served:
        assert (await connect(served.port, client(ca, old_client))).reply["peercert"]
        with pytest.raises(REFUSED):
            await connect(served.port, client(ca, new_client))

        client_ca_file.write_bytes(new_ca.ca_pem)
        assert security.reload_if_changed() is True
        assert (await connect(served.port, client(ca, new_client))).reply["peercert"]
        with pytest.raises(REFUSED):
            await connect(served.port, client(ca, old_client))


async def test_a_reload_cannot_change_what_a_connection_fixes_at_start(server_pair: CertPair, tmp_path: Path) -> None:
    files = {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key)}
    config = write_config(tmp_path / "web.yml", files)
    security = security_for(config)
    write_config(config, {**files, "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]})
    assert security.reload_if_changed() is False
    assert security.config.tls is not None
    assert security.config.tls.cipher_suites == ()


# --- what the settings mean in a handshake -------------------------------------------------------------------------


async def test_inline_certificate_and_key(ca: CertificateAuthority, tmp_path: Path) -> None:
    issued = ca.issue_pem("inline")
    config = write_config(tmp_path / "web.yml", {"cert": issued.cert_pem.decode(), "key": issued.key_pem.decode()})
    async with serve(security_for(config)) as served:
        seen = await connect(served.port, client(ca))
        assert seen.peer_der == ssl.PEM_cert_to_DER_cert(issued.cert_pem.decode())


async def test_client_ca_absent_means_the_systems_roots(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key),
         "client_auth_type": "RequireAndVerifyClientCert"},
    )  # fmt: skip
    security = security_for(config)
    async with serve(security) as served:
        with pytest.raises(REFUSED):  # our test CA is in no system bundle
            await connect(served.port, client(ca, ca.issue("prometheus", client=True)))
        with pytest.raises(REFUSED):
            await connect(served.port, client(ca))


ECDSA_128 = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
ECDSA_256 = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"


def tls12_client(ca: CertificateAuthority, *openssl_suites: str) -> ssl.SSLContext:
    context = client(ca)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(openssl_suites))
    return context


@pytest.mark.parametrize(("prefer_server", "chosen"), [(True, "ECDHE-ECDSA-AES128-GCM-SHA256"),
                                                       (False, "ECDHE-ECDSA-AES256-GCM-SHA384")])  # fmt: skip
async def test_cipher_suites_restrict_and_order(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path, prefer_server: bool, chosen: str
) -> None:
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key), "max_version": "TLS12",
         "cipher_suites": [ECDSA_128, ECDSA_256], "prefer_server_cipher_suites": prefer_server},
    )  # fmt: skip
    async with serve(security_for(config)) as served:
        both = tls12_client(ca, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256")
        assert (await connect(served.port, both)).cipher == chosen
        with pytest.raises(REFUSED):
            await connect(served.port, tls12_client(ca, "ECDHE-ECDSA-CHACHA20-POLY1305"))


async def test_one_curve_is_the_only_curve(ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key), "min_version": "TLS13",
         "curve_preferences": ["CurveP521"]},
    )  # fmt: skip
    async with serve(security_for(config)) as served:
        p521, p384 = client(ca), client(ca)
        p521.set_ecdh_curve("secp521r1")
        p384.set_ecdh_curve("secp384r1")
        assert (await connect(served.port, p521)).reply
        with pytest.raises(REFUSED):
            await connect(served.port, p384)


async def test_client_allowed_sans_on_real_client_certificates(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key),
         "client_auth_type": "VerifyClientCertIfGiven", "client_ca_file": str(ca.cert_path),
         "client_allowed_sans": ["prometheus.monitoring.svc", "::1"]},
    )  # fmt: skip
    async with serve(security_for(config)) as served:

        async def allowed(*hosts: str) -> bool:
            pair = ca.issue("-".join(hosts).replace(":", "_"), hosts=hosts, client=True)
            return bool((await connect(served.port, client(ca, pair))).reply["san_allowed"])

        assert await allowed("prometheus.monitoring.svc")
        assert await allowed("other.example", "0:0:0:0:0:0:0:1")  # IPs compare in canonical form, as Go's do
        assert not await allowed("prometheus.monitoring")
        assert not (await connect(served.port, client(ca))).reply["san_allowed"]  # no certificate, no SAN


# --- parsing: what is refused, and why --------------------------------------------------------------------------


def load_text(tmp_path: Path, text: str) -> WebConfig:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return load_web_config(str(path))


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("basic_auth_users: {a: $2y$04$abcdefghijklmnopqrstuuG6WJzZ0dSCpI0LkSZ7FmmxXYmTyKRs.}\n"
         "basic_auth_users: {}\n", "--web.config.file"),
        ("http_server_config: {headers: {X-Frame-Options: DENY}}", "http_server_config.headers.X-Frame-Options"),
        ("http_server_config: {headers: {x-frame-options: deny}}", "http_server_config.headers.x-frame-options"),
        ("http_server_config: {headers: {X-Frame-Options: }}", "http_server_config.headers.X-Frame-Options"),
        ("http_server_config: {http2: yes please}", "http_server_config.http2"),
        ("http_server_config: {h2c: true}", "http_server_config.h2c"),
        ("rate_limit: {interval: 1 second, burst: 1}", "rate_limit.interval"),
        ("rate_limit: {interval: 1s, burst: -1}", "rate_limit.burst"),
        ("rate_limit: {interval: 1s, burst: 1, per: ip}", "rate_limit.per"),
        ("tls_server_config: {cert: x, key: y, client_auth_type: RequestClientCert}",
         "tls_server_config.client_auth_type"),
        ("tls_server_config: {cert: x, key: y, client_allowed_sans: [a]}", "tls_server_config.client_allowed_sans"),
        ("tls_server_config: {cert: x, key: y, min_version: TLS13, max_version: TLS12}",
         "tls_server_config.max_version"),
        ("tls_server_config: {cert: not a pem, key: not a pem}", "tls_server_config.cert_file"),
    ],
)  # fmt: skip
def test_refused_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_text(tmp_path, text)
    assert raised.value.key == key


def test_an_empty_client_ca_with_a_policy_is_refused(server_pair: CertPair, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    tls = {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key),
           "client_auth_type": "RequireAndVerifyClientCert", "client_ca_file": str(empty)}  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        load_web_config(str(write_config(tmp_path / "web.yml", tls)))
    assert raised.value.key == "tls_server_config.client_ca_file"


def test_headers_blank_values_are_unset_and_numbers_keep_their_text(tmp_path: Path) -> None:
    config = load_text(tmp_path, "http_server_config:\n  headers: {X-XSS-Protection: 1, Content-Security-Policy: ''}")
    assert config.headers == {"X-XSS-Protection": "1"}


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(0, 0.0), ("0", 0.0), ("1s", 1.0), ("1.5m", 90.0), ("1h30m", 5400.0), ("300ms", 0.3), ("2us", 2e-6),
     ("5µs", 5e-6), (1_000_000_000, 1.0), ("-1s", -1.0)],
)  # fmt: skip
def test_go_durations(raw: object, seconds: float) -> None:
    assert go_duration("k", raw) == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["1", "1d", "s", "1s2", "", "1.s.", None, True])
def test_not_go_durations(raw: object) -> None:
    with pytest.raises(ConfigError):
        go_duration("k", raw)


def test_describe_shows_no_secret(ca: CertificateAuthority, tmp_path: Path) -> None:
    issued = ca.issue_pem("inline")
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    config = load_web_config(
        str(write_config(tmp_path / "web.yml", {"cert": issued.cert_pem.decode(), "key": issued.key_pem.decode()},
                         basic_auth_users={"prometheus": hashed}))
    )  # fmt: skip
    shown = json.dumps(webconfig.describe(config)) + repr(config)
    for secret in (hashed, "PRIVATE KEY", "BEGIN CERTIFICATE"):
        assert secret not in shown
    assert "prometheus" in shown


# --- rate limit -------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_bursts_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(interval=1.0, burst=2), clock)
    assert [limiter.allow() for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert not limiter.allow()
    clock.now += 0.5
    assert limiter.allow()
    clock.now += 60
    assert [limiter.allow() for _ in range(3)] == [True, True, False]  # never more than the burst


def test_rate_limiter_with_burst_zero_admits_nothing_as_go_does() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(interval=1.0, burst=0), clock)
    for _ in range(5):
        clock.now += 10
        assert not limiter.allow()


@settings(max_examples=200, deadline=None)
@given(
    burst=st.integers(min_value=0, max_value=5),
    interval=st.floats(min_value=0.01, max_value=10),
    gaps=st.lists(st.floats(min_value=0, max_value=5), max_size=60),
)
def test_rate_limiter_never_admits_more_than_burst_plus_refill(burst: int, interval: float, gaps: list[float]) -> None:
    clock = Clock()
    start = clock.now
    limiter = RateLimiter(RateLimit(interval=interval, burst=burst), clock)
    admitted = 0
    for gap in gaps:
        clock.now += gap
        admitted += limiter.allow()
        assert admitted <= burst + (clock.now - start) / interval + 1e-9


def test_security_exposes_the_rate_limit(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("rate_limit: {interval: 1h, burst: 1}\n")
    security = security_for(path)
    assert [security.allow_request(), security.allow_request()] == [True, False]
    assert WebSecurity(None, WebConfig()).allow_request()


# --- basic auth: an unknown user costs what a known one costs ------------------------------------------------------


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every hash bcrypt is asked to check against (a spy on the library, which still does the work)."""
    calls: list[bytes] = []
    real: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)  # the module webconfig calls through
    return calls


def basic(user: str, password: str) -> str:
    return aiohttp.encode_basic_auth(user, password)


async def test_unknown_user_costs_one_bcrypt_check_at_the_highest_cost(
    tmp_path: Path, bcrypt_calls: list[bytes]
) -> None:
    cheap = bcrypt.hashpw(b"alice-pw", bcrypt.gensalt(rounds=4))
    costly = bcrypt.hashpw(b"bob-pw", bcrypt.gensalt(rounds=6))
    security = WebSecurity(None, WebConfig(users={"alice": cheap, "bob": costly}))

    assert not await security.authorized(basic("bob", "wrong"))
    assert bcrypt_calls == [costly]
    assert not await security.authorized(basic("mallory", "wrong"))
    assert bcrypt_calls == [costly, costly]  # the same work as the costliest known user's wrong password
    assert not await security.authorized(basic("mallory", "bob-pw"))  # the decoy hash's password opens nothing
    assert len(bcrypt_calls) == 3
    assert await security.authorized(basic("alice", "alice-pw"))
    assert bcrypt_calls[-1] == cheap


async def test_repeated_attempts_are_cached_alike_for_known_and_unknown_users(bcrypt_calls: list[bytes]) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))
    security = WebSecurity(None, WebConfig(users={"prometheus": hashed}))
    for header in (basic("prometheus", "wrong"), basic("nobody", "wrong"), basic("prometheus", "pw")):
        first = await security.authorized(header)
        calls = len(bcrypt_calls)
        assert await security.authorized(header) == first
        assert len(bcrypt_calls) == calls
    assert len(bcrypt_calls) == 3


def test_reverting_a_rejected_edit_reports_success_again(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    good = "http_server_config: {headers: {X-Frame-Options: deny}}\n"
    path.write_text(good)
    verdicts: list[bool] = []
    security = WebSecurity(str(path), load_web_config(str(path)), on_reload=verdicts.append)
    path.write_text("http_server_config: {headers: {X-Frame-Options: maybe}}\n")
    assert security.reload_if_changed() is False
    path.write_text(good)
    assert security.reload_if_changed() is True
    assert verdicts == [False, True]
    assert security.config.headers == {"X-Frame-Options": "deny"}


async def test_refusal_in_exporter_toolkits_order(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path
) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key),
         "client_auth_type": "VerifyClientCertIfGiven", "client_ca_file": str(ca.cert_path),
         "client_allowed_sans": ["prometheus"]},
        basic_auth_users={"prometheus": hashed}, rate_limit={"interval": "1h", "burst": 3},
    )  # fmt: skip
    security = security_for(config)
    allowed_cert = {"subjectAltName": (("DNS", "prometheus"),)}
    assert await security.refusal(basic("prometheus", "pw"), allowed_cert) is None
    assert await security.refusal(basic("prometheus", "pw"), {"subjectAltName": (("DNS", "x"),)}) == 403
    assert await security.refusal(basic("prometheus", "nope"), allowed_cert) == 401
    assert await security.refusal(basic("prometheus", "pw"), allowed_cert) == 429  # the burst of 3 is spent


async def test_only_tls13_suites_listed_means_tls13_only(
    ca: CertificateAuthority, server_pair: CertPair, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "web.yml",
        {"cert_file": str(server_pair.cert), "key_file": str(server_pair.key),
         "cipher_suites": ["TLS_AES_128_GCM_SHA256"]},
        http_server_config={"http2": False},
    )  # fmt: skip
    async with serve(security_for(config)) as served:
        assert (await connect(served.port, client(ca))).cipher.startswith("TLS_")  # a TLS 1.3 suite
        with pytest.raises(REFUSED):
            await connect(served.port, tls12_client(ca, "ECDHE-ECDSA-AES128-GCM-SHA256"))
