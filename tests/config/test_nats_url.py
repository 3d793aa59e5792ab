"""NATS URLs as applications write them: parsing, redaction and the guide's host classification."""

from __future__ import annotations

import pytest

from exporter.config.nats_url import HostKind, UrlError, classify_host, parse_server_list, parse_url, redact_text


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("nats://nats-server.nats.svc.cluster.local:4222", HostKind.FQDN),
        ("nats://nats-server.nats:4222", HostKind.FQDN),
        ("nats://nats-server:4222", HostKind.SHORT),
        ("nats://192.168.194.253:4222", HostKind.IP),
        ("nats://[fd00::1]:4222", HostKind.IP),
    ],
)
def test_host_kind_follows_the_guide(url: str, kind: HostKind) -> None:
    assert parse_url(url).host_kind is kind


def test_defaults_scheme_and_port_like_nats_py() -> None:
    url = parse_url("nats-server")
    assert (url.scheme, url.host, url.port) == ("nats", "nats-server", 4222)


def test_password_and_token_are_redacted() -> None:
    assert parse_url("nats://app:s3cret@nats:4222").redacted() == "nats://app:***@nats:4222"
    assert parse_url("nats://T0KEN@nats:4222").redacted() == "nats://***@nats:4222"
    assert parse_url("nats://app:s3cret@nats:4222").for_client() == "nats://app:s3cret@nats:4222"


def test_comma_separated_list_is_several_servers() -> None:
    servers = parse_server_list("nats://a:4222, nats://b:4223,")
    assert [(s.host, s.port) for s in servers] == [("a", 4222), ("b", 4223)]


@pytest.mark.parametrize("raw", ["", "http://nats:4222", "nats://:4222", "nats://nats:99999", "nats://nats:4222/path"])
def test_invalid_urls_are_rejected_without_echoing_credentials(raw: str) -> None:
    with pytest.raises(UrlError) as error:
        parse_url(raw.replace("nats://", "nats://user:pw@") if "://" in raw else raw)
    assert "pw" not in str(error.value)


def test_redact_text_hides_longest_secrets_first() -> None:
    assert redact_text("auth for abc and abcdef failed", ["abc", "abcdef"]) == "auth for *** and *** failed"


def test_classify_host_without_a_scheme() -> None:
    assert classify_host("10.0.0.1") is HostKind.IP


def test_a_password_with_a_slash_is_not_quoted_in_the_error() -> None:
    with pytest.raises(UrlError) as error:
        parse_url("nats://user:Zk3/9xQ@nats:4222")
    assert "Zk3" not in str(error.value)
    assert "9xQ" not in str(error.value)
