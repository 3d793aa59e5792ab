"""exporter-toolkit's own web config test data through our parser: the same files valid, the same ones refused.

Expectations come from exporter-toolkit's `web/tls_config_test.go` (the error each file must give) and
`web/tls_config.go` (for files its tests name but only serve). Where Python's TLS cannot do what a valid file
asks, the file is refused naming the key and the reason: those files are listed in DIVERGENCES, and the test
checks they are refused for that reason and no other.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from exporter.config.validate import ConfigError
from exporter.config.webconfig import RateLimit, WebConfig, load_web_config
from tests.certs import CertificateAuthority

TESTDATA = Path(__file__).parent / "webconfig_testdata"


@dataclass(frozen=True)
class Refused:
    key: str  # the key our ConfigError names
    says: str = ""  # exporter-toolkit's error text, which ours repeats (case-insensitive), where it has one


VALID = None
NO_SUCH_FILE = "no such file"
# file -> None (valid in exporter-toolkit) or how exporter-toolkit refuses it.
EXPECTED: dict[str, Refused | None] = {
    "web_config_empty.yml": VALID,
    "web_config_junk.yml": Refused("--web.config.file"),  # "YAML error"
    "web_config_junk_key.yml": Refused("tls_server_config.cert_filse"),  # "YAML error" (strict: unknown field)
    "web_config_noAuth_certPath_empty.bad.yml": Refused(
        "tls_server_config.cert_file", "missing one of cert or cert_file"
    ),
    "web_config_noAuth_cert_empty.bad.yml": Refused("tls_server_config.cert_file", "missing one of cert or cert_file"),
    "web_config_noAuth_keyPath_empty.bad.yml": Refused("tls_server_config.key_file", "missing one of key or key_file"),
    "web_config_noAuth_key_empty.bad.yml": Refused("tls_server_config.key_file", "missing one of key or key_file"),
    "web_config_noAuth_certPath_keyPath_empty.bad.yml": Refused(
        "tls_server_config.cert_file", "missing one of cert or cert_file"
    ),
    "web_config_noAuth_certPath_invalid.bad.yml": Refused("tls_server_config.cert_file", NO_SUCH_FILE),
    "web_config_noAuth_keyPath_invalid.bad.yml": Refused("tls_server_config.cert_file", NO_SUCH_FILE),  # server.cert
    "web_config_noAuth_certPath_keyPath_invalid.bad.yml": Refused("tls_server_config.cert_file", NO_SUCH_FILE),
    "web_config_noAuth.bad.yml": Refused(
        "tls_server_config.client_auth_type", "client CA's have been configured without a Client Auth Policy"
    ),
    "web_config_auth_clientCAs_invalid.bad.yml": Refused("tls_server_config.client_ca_file", NO_SUCH_FILE),
    "web_config_auth_user_list_invalid.bad.yml": Refused("basic_auth_users.john"),  # "Bad password"
    "web_config_noAuth_inventedCiphers.bad.yml": Refused("tls_server_config.cipher_suites"),  # "unknown cipher"
    "web_config_noAuth_inventedCurves.bad.yml": Refused("tls_server_config.curve_preferences"),  # "unknown curve"
    "web_config_noAuth_wrongTLSVersion.bad.yml": Refused("tls_server_config.min_version"),  # "unknown TLS version"
    "web_config_noAuth_noHTTP2Cipher.bad.yml": Refused("tls_server_config.cipher_suites", "HTTP/2"),
    "web_config_headers_content_type_options.bad.yml": Refused("http_server_config.headers.X-Content-Type-Options"),
    "web_config_headers_frame_options.bad.yml": Refused("http_server_config.headers.X-Frame-Options"),
    "web_config_headers_extra_header.bad.yml": Refused("http_server_config.headers.Content-Type"),
    "web_config_noAuth.good.yml": VALID,
    # No client CA with RequireAndVerifyClientCert: Go verifies against the system's roots. The file named
    # clientCAs_missing.bad has the same content and no test uses it; tls_config.go accepts it.
    "web_config_noAuth.good.blocking.yml": VALID,
    "web_config_auth_clientCAs_missing.bad.yml": VALID,
    "tls_config_noAuth.requireandverifyclientcert.good.yml": VALID,
    "tls_config_noAuth.requireanyclientcert.good.yml": VALID,
    "tls_config_noAuth.requireanyclientcertkeyinline.good.yml": VALID,
    "web_config_auth_client_san.good.yaml": VALID,  # the client's SAN matches: its handshake succeeds
    "web_config_auth_client_san.bad.yaml": VALID,  # a valid config whose allowed SAN the test client lacks
    "web_config_noAuth_allCiphers.good.yml": VALID,
    "web_config_noAuth_someCiphers.good.yml": VALID,
    "web_config_noAuth_someCiphers_noOrder.good.yml": VALID,
    "web_config_noAuth_noHTTP2.good.yml": VALID,
    "web_config_noAuth_allCurves.good.yml": VALID,
    "web_config_noAuth_someCurves.good.yml": VALID,
    "web_config_noAuth_tlsInline.good.yml": VALID,
    "web_config_headers.good.yml": VALID,
    "web_config_rate_limiter_nonblocking.yaml": VALID,
    "web_config_rate_limiter_one_second.yaml": VALID,
    "web_config_users.good.yml": VALID,
    "web_config_users_noTLS.good.yml": VALID,
}
# Valid in exporter-toolkit, refused here because Python's ssl cannot do it: key and the reason given.
DIVERGENCES: dict[str, Refused] = {
    "tls_config_noAuth.requireanyclientcert.good.yml": Refused("tls_server_config.client_auth_type", "verifies every"),
    "tls_config_noAuth.requireanyclientcertkeyinline.good.yml": Refused(
        "tls_server_config.client_auth_type", "verifies every"
    ),
    "web_config_noAuth_allCurves.good.yml": Refused("tls_server_config.curve_preferences", "set_ecdh_curve"),
}


@pytest.fixture(scope="module")
def testdata(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The YAML files beside stand-ins for the certificates they name, made by our own CA."""
    directory = tmp_path_factory.mktemp("exporter-toolkit-testdata")
    for source in TESTDATA.glob("*.y*ml"):
        shutil.copy(source, directory / source.name)
    ca = CertificateAuthority(directory, name="server-ca")
    issued = ca.issue_pem("localhost")
    (directory / "server.crt").write_bytes(issued.cert_pem)
    (directory / "server.key").write_bytes(issued.key_pem)
    for name in ("client_selfsigned", "client2_selfsigned"):
        CertificateAuthority(directory, name=name)  # writes <name>.pem: a self-signed CA, as the originals are
    return directory


def test_every_testdata_file_has_an_expectation() -> None:
    assert {path.name for path in TESTDATA.glob("*.y*ml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_same_verdict_as_exporter_toolkit(testdata: Path, name: str) -> None:
    expected = DIVERGENCES.get(name, EXPECTED[name])
    if expected is None:
        assert isinstance(load_web_config(str(testdata / name)), WebConfig)
        return
    with pytest.raises(ConfigError) as raised:
        load_web_config(str(testdata / name))
    assert raised.value.key == expected.key
    assert re.search(re.escape(expected.says), str(raised.value), re.IGNORECASE)


def test_what_the_valid_files_ask_for_is_what_we_parse(testdata: Path) -> None:
    def load(name: str) -> WebConfig:
        return load_web_config(str(testdata / name))

    assert load("web_config_empty.yml") == WebConfig()
    headers = load("web_config_headers.good.yml").headers
    assert headers == {
        "X-Frame-Options": "deny",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-XSS-Protection": "1",
        "Content-Security-Policy": "default-src 'self' *.test.example.net",
    }
    assert load("web_config_rate_limiter_nonblocking.yaml").rate_limit is None
    assert load("web_config_rate_limiter_one_second.yaml").rate_limit == RateLimit(interval=1.0, burst=0)
    assert load("web_config_noAuth_noHTTP2.good.yml").http2 is False
    no_order = load("web_config_noAuth_someCiphers_noOrder.good.yml").tls
    assert no_order is not None
    assert not no_order.prefer_server_cipher_suites
    blocking = load("web_config_noAuth.good.blocking.yml").tls
    assert blocking is not None
    assert blocking.client_auth_type == "RequireAndVerifyClientCert"
    assert blocking.client_ca_pem is None  # the system's roots
    inline = load("web_config_noAuth_tlsInline.good.yml").tls
    assert inline is not None
    assert inline.cert_file is None
    assert inline.cert_pem.startswith(b"-----BEGIN CERTIFICATE")
    assert sorted(load("web_config_users_noTLS.good.yml").users) == ["alice", "bob", "carol", "dave"]


def test_allowed_sans_as_exporter_toolkit_matches_them(testdata: Path) -> None:
    client2 = {"subject": ((("commonName", "test3"),),), "subjectAltName": (("DNS", "test3"),)}
    assert load_web_config(str(testdata / "web_config_auth_client_san.good.yaml")).client_san_allowed(client2)
    assert not load_web_config(str(testdata / "web_config_auth_client_san.bad.yaml")).client_san_allowed(client2)
