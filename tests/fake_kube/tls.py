"""A throwaway CA and a server certificate for 127.0.0.1/localhost: kubectl sends bearer tokens only over TLS."""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.certs import CertificateAuthority

DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost", "kubernetes", "kubernetes.default.svc")


@dataclass(frozen=True, slots=True)
class Certificates:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def generate(hosts: tuple[str, ...] = DEFAULT_HOSTS) -> Certificates:
    """A CA and a server certificate it signed, from the test suite's one certificate authority."""
    authority = CertificateAuthority(name="fake-kube-ca")
    issued = authority.issue_pem("kube-apiserver", hosts=hosts)
    return Certificates(ca_pem=authority.ca_pem, cert_pem=issued.cert_pem, key_pem=issued.key_pem)


def server_context(certs: Certificates) -> ssl.SSLContext:
    """HTTP/1.1 only (ALPN): Go clients would otherwise try HTTP/2, which aiohttp does not serve."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.set_alpn_protocols(["http/1.1"])
    with tempfile.TemporaryDirectory(prefix="fake-kube-tls-") as directory:
        cert, key = Path(directory, "tls.crt"), Path(directory, "tls.key")
        cert.write_bytes(certs.cert_pem + certs.ca_pem)
        key.write_bytes(certs.key_pem)
        context.load_cert_chain(cert, key)  # the ssl module reads keys from files only
    return context
