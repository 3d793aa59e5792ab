"""run_probe against real nats-server processes and real misbehaving peers: each failure has its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exporter.demo.nats_server import NatsServer, free_port
from exporter.probe.phases import run_probe
from exporter.probe.result import Phase, Reason
from tests.certs import CertificateAuthority
from tests.conftest import config_from_args, silent_listener


def target_for(*args: str):  # type: ignore[no-untyped-def]
    return config_from_args(*args).targets[0]


async def test_healthy_server_passes_every_phase(nats_server: NatsServer) -> None:
    result = await run_probe(target_for("--nats-url", nats_server.url))

    assert result.ok, result.detail
    assert list(result.phases) == [Phase.DNS, Phase.TCP, Phase.CONNECT, Phase.RTT, Phase.PUBSUB]
    assert all(seconds > 0 for seconds in result.phases.values()), result.phases
    assert result.duration >= sum(result.phases.values())
    assert result.addresses == ("127.0.0.1",)
    assert result.server is not None
    assert result.server.version.startswith("2.")
    assert result.server.server_id


async def test_name_is_resolved_with_the_system_resolver() -> None:
    server = NatsServer()
    await server.start()
    try:
        result = await run_probe(target_for("--nats-url", f"nats://localhost:{server.port}"))
    finally:
        await server.close()
    assert result.ok, result.detail
    assert "127.0.0.1" in result.addresses


async def test_stopped_server_is_connection_refused() -> None:
    result = await run_probe(target_for("--nats-url", f"nats://127.0.0.1:{free_port()}"))

    assert result.reason is Reason.CONNECTION_REFUSED
    assert result.failed_phase is Phase.TCP
    assert Phase.DNS in result.phases
    assert Phase.TCP not in result.phases


async def test_unresolvable_name_is_dns_error() -> None:
    result = await run_probe(target_for("--nats-url", "nats://does-not-exist.invalid:4222"))

    assert result.reason is Reason.DNS_ERROR
    assert result.addresses == ()
    assert result.phases == {}


async def test_silent_peer_is_timeout_within_the_deadline() -> None:
    with silent_listener() as port:
        async with asyncio.timeout(30):  # only so that a broken deadline fails the test instead of hanging it
            result = await run_probe(target_for("--nats-url", f"nats://127.0.0.1:{port}", "--probe.timeout", "1s"))

    assert result.reason is Reason.TIMEOUT
    assert result.failed_phase is Phase.CONNECT
    assert "no answer within 1s during connect" in result.detail  # the probe's one deadline ended it
    assert result.duration >= 1.0


async def test_peer_that_answers_http_is_protocol_error() -> None:
    reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    with silent_listener(reply=reply) as port:
        result = await run_probe(target_for("--nats-url", f"nats://127.0.0.1:{port}", "--probe.timeout", "2s"))

    assert result.reason is Reason.PROTOCOL_ERROR, result.detail
    assert result.failed_phase is Phase.CONNECT


async def test_wrong_password_is_auth_error_and_not_in_the_detail() -> None:
    server = NatsServer(config="authorization { user: app, password: right-secret }")
    await server.start()
    try:
        wrong = await run_probe(target_for("--nats-url", f"nats://app:wrong-secret@127.0.0.1:{server.port}"))
        right = await run_probe(target_for("--nats-url", f"nats://app:right-secret@127.0.0.1:{server.port}"))
    finally:
        await server.close()

    assert wrong.reason is Reason.AUTH_ERROR
    assert "wrong-secret" not in wrong.detail
    assert "wrong-secret" not in wrong.server_url
    assert right.ok, right.detail


async def test_publish_without_permission_is_pubsub_error() -> None:
    config = """
    authorization {
      users = [{user: app, password: pw, permissions: {publish: {deny: ">"}, subscribe: {allow: ">"}}}]
    }
    """
    server = NatsServer(config=config)
    await server.start()
    try:
        async with asyncio.timeout(60):  # only so that a probe waiting for its deadline cannot hang the test
            result = await run_probe(
                target_for(
                    "--nats-url",
                    f"nats://app:pw@127.0.0.1:{server.port}",
                    "--probe.interval",
                    "30s",
                    "--probe.timeout",
                    "30s",
                )
            )
    finally:
        await server.close()

    assert result.reason is Reason.PUBSUB_ERROR
    assert Phase.RTT in result.phases
    assert "permissions violation" in result.detail.lower()
    # The server's error ended the probe, not the 30 s deadline (which would say "no answer within 30s").
    assert "no answer within" not in result.detail


async def test_tls_server_without_the_ca_is_tls_error_and_with_it_succeeds(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    pair = ca.issue("nats")
    server = NatsServer(config=f'tls {{ cert_file: "{pair.cert}", key_file: "{pair.key}" }}')
    await server.start()
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        f"targets:\n  - name: tls\n    url: tls://localhost:{server.port}\n    tls:\n      ca_file: {ca.cert_path}\n"
    )
    try:
        plain = await run_probe(target_for("--nats-url", f"nats://127.0.0.1:{server.port}"))
        untrusted = await run_probe(target_for("--nats-url", f"tls://127.0.0.1:{server.port}"))
        trusted = await run_probe(config_from_args("--config", str(config_file)).targets[0])
    finally:
        await server.close()

    assert plain.reason is Reason.TLS_ERROR, plain.detail
    assert untrusted.reason is Reason.TLS_ERROR, untrusted.detail
    assert trusted.ok, trusted.detail


async def test_second_server_of_a_list_is_used_when_the_first_is_down(nats_server: NatsServer) -> None:
    servers = f"nats://127.0.0.1:{free_port()},{nats_server.url}"
    result = await run_probe(target_for("--nats-url", servers))

    assert result.ok, result.detail
    assert result.server_url == nats_server.url


async def test_tls_verifies_the_urls_host_while_the_resolved_address_is_dialled(tmp_path: Path) -> None:
    """The certificate names only `localhost`: the probe dials 127.0.0.1 (one connection, to what DNS gave) and
    still verifies `localhost`; the same server reached by its IP fails, so the name really is checked."""
    ca = CertificateAuthority(tmp_path)
    pair = ca.issue("nats", hosts=("localhost",))
    server = NatsServer(config=f'tls {{ cert_file: "{pair.cert}", key_file: "{pair.key}" }}')
    await server.start()

    def target(host: str):  # type: ignore[no-untyped-def]
        config_file = tmp_path / f"{host}.yaml"
        config_file.write_text(
            f"targets:\n  - name: tls\n    url: tls://{host}:{server.port}\n    tls:\n      ca_file: {ca.cert_path}\n"
        )
        return config_from_args("--config", str(config_file)).targets[0]

    try:
        by_name = await run_probe(target("localhost"))
        by_ip = await run_probe(target("127.0.0.1"))
    finally:
        await server.close()

    assert by_name.ok, by_name.detail
    assert "127.0.0.1" in by_name.addresses
    assert by_ip.reason is Reason.TLS_ERROR, by_ip.detail
