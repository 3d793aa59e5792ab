"""exporter/config/tls.py: a target's client TLS follows its files, proven by real handshakes with a verifier."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from exporter.config import TLSSettings
from exporter.config.tls import ClientTLS
from tests.certs import CertificateAuthority, CertPair

TIMEOUT = 5.0
REFUSED = (ssl.SSLError, ConnectionError)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def server(ca: CertificateAuthority, pair: CertPair) -> AsyncIterator[int]:
    """A server that requires a client certificate from `ca` and answers with its common name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pair.cert), str(pair.key))
    context.load_verify_locations(cadata=ca.ca_pem.decode())
    context.verify_mode = ssl.CERT_REQUIRED

    async def answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        subject = dict(item[0] for item in writer.get_extra_info("peercert")["subject"])
        writer.write(subject["commonName"].encode() + b"\n")
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()

    listening = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        listening.close()
        await listening.wait_closed()


async def presented(port: int, context: ssl.SSLContext) -> str:
    """The client certificate's common name as the server saw it."""
    async with asyncio.timeout(TIMEOUT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
        try:
            line = await reader.readline()
        finally:
            writer.close()
    if not line:
        raise ConnectionResetError("the server closed the connection")
    return line.decode().strip()


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path)


def settings_for(ca_file: Path, pair: CertPair) -> TLSSettings:
    return TLSSettings(enabled=True, ca_file=str(ca_file), cert_file=str(pair.cert), key_file=str(pair.key))


def rotate(pair: CertPair, ca: CertificateAuthority, name: str) -> None:
    issued = ca.issue_pem(name, client=True)
    pair.cert.write_bytes(issued.cert_pem)
    pair.key.write_bytes(issued.key_pem)


async def test_rotated_client_certificate_is_presented_on_the_next_connection(
    ca: CertificateAuthority, tmp_path: Path
) -> None:
    client = ca.issue("exporter-v1", client=True)
    clock = Clock()
    tls = ClientTLS(settings_for(ca.cert_path, client), check_every=1.0, clock=clock)
    async with server(ca, ca.issue("nats")) as port:
        assert await presented(port, tls.context()) == "exporter-v1"
        rotate(client, ca, "exporter-v2")
        assert await presented(port, tls.context()) == "exporter-v1"  # files are looked at once a second at most
        clock.now += 1.0
        assert await presented(port, tls.context()) == "exporter-v2"


async def test_rotated_ca_bundle_verifies_the_new_server(ca: CertificateAuthority, tmp_path: Path) -> None:
    client = ca.issue("exporter", client=True)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(ca.ca_pem)
    clock = Clock()
    tls = ClientTLS(settings_for(bundle, client), clock=clock)
    new_ca = CertificateAuthority(tmp_path, name="new-server-ca")
    async with server(ca, new_ca.issue("nats")) as port:  # the server moved to a certificate from a new CA
        with pytest.raises(REFUSED):
            await presented(port, tls.context())
        bundle.write_bytes(ca.ca_pem + new_ca.ca_pem)
        clock.now += 1.0
        assert await presented(port, tls.context()) == "exporter"


async def test_half_rotated_files_keep_the_last_good_context(ca: CertificateAuthority) -> None:
    client = ca.issue("exporter-v1", client=True)
    clock = Clock()
    tls = ClientTLS(settings_for(ca.cert_path, client), clock=clock)
    async with server(ca, ca.issue("nats")) as port:
        client.cert.write_bytes(ca.issue_pem("exporter-v2", client=True).cert_pem)  # the key is not there yet
        clock.now += 1.0
        assert await presented(port, tls.context()) == "exporter-v1"
        rotate(client, ca, "exporter-v3")
        clock.now += 1.0
        assert await presented(port, tls.context()) == "exporter-v3"
