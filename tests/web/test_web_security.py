"""--web.config.file: TLS, client certificates and basic auth, as Prometheus, curl and aiohttp clients see them."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest

from exporter.demo.nats_server import NatsServer, free_port
from tests.certs import CertificateAuthority, CertPair
from tests.conftest import ExporterFactory, RunningExporter, wait_for

PASSWORD = "correct horse"


@dataclass
class Pki:
    ca: CertificateAuthority
    server: CertPair
    client: CertPair


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = CertificateAuthority(tmp_path)
    return Pki(ca, ca.issue("exporter"), ca.issue("prometheus", client=True))


def write_web_config(path: Path, pki: Pki, *, client_auth: str = "NoClientCert", users: bool = True) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    document: dict[str, dict[str, str]] = {
        "tls_server_config": {
            "cert_file": str(pki.server.cert),
            "key_file": str(pki.server.key),
            "client_auth_type": client_auth,
        }
    }
    if client_auth != "NoClientCert":  # a CA without a policy is refused, as exporter-toolkit refuses it
        document["tls_server_config"]["client_ca_file"] = str(pki.ca.cert_path)
    if users:
        document["basic_auth_users"] = {"prometheus": hashed}
    path.write_text(json.dumps(document))  # JSON is YAML


def client_context(pki: Pki, *, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca.cert_path))
    if with_cert:
        context.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    return context


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


async def fetch(url: str, context: ssl.SSLContext, auth: dict[str, str] | None) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, ssl=context, headers=auth or {}, timeout=aiohttp.ClientTimeout(total=5)) as response,
    ):
        return response.status


@dataclass
class Secured:
    base: str
    web_config: Path
    running: RunningExporter


@pytest.fixture
async def secured(nats_server: NatsServer, start_exporter: ExporterFactory, pki: Pki, tmp_path: Path) -> Secured:
    web_config = tmp_path / "web.yaml"
    write_web_config(web_config, pki)
    running = await start_exporter("--nats-url", nats_server.url, "--web.config.file", str(web_config))
    return Secured(running.base_url.replace("http://127.0.0.1", "https://localhost"), web_config, running)


async def test_tls_and_basic_auth_on_every_endpoint(secured: Secured, pki: Pki) -> None:
    base = secured.base
    context = client_context(pki, with_cert=False)
    good = basic("prometheus", PASSWORD)
    for path in ("/metrics", "/", "/-/healthy", "/-/ready", "/config", "/probe?target=default"):
        assert await fetch(base + path, context, None) == 401, path
        assert await fetch(base + path, context, basic("prometheus", "wrong")) == 401, path
        assert await fetch(base + path, context, good) in (200, 503), path
    with pytest.raises(aiohttp.ClientError):
        await fetch(base.replace("https://", "http://") + "/metrics", context, good)  # plain HTTP is not served


async def test_curl_with_and_without_credentials(secured: Secured, pki: Pki) -> None:
    curl = shutil.which("curl")
    assert curl, "`make test` installs the Debian package curl"
    base = secured.base

    async def status(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(pki.ca.cert_path), *args,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await process.communicate()
        return out.decode()

    assert await status(f"{base}/metrics") == "401"
    assert await status("-u", "prometheus:nope", f"{base}/metrics") == "401"
    assert await status("-u", f"prometheus:{PASSWORD}", f"{base}/metrics") == "200"
    assert await status("-u", f"prometheus:{PASSWORD}", base.replace("https", "http") + "/metrics") == "000"


async def test_client_certificate_required(
    nats_server: NatsServer, start_exporter: ExporterFactory, pki: Pki, tmp_path: Path
) -> None:
    web_config = tmp_path / "web.yaml"
    write_web_config(web_config, pki, client_auth="RequireAndVerifyClientCert", users=False)
    running = await start_exporter("--nats-url", nats_server.url, "--web.config.file", str(web_config))
    base = running.base_url.replace("http://127.0.0.1", "https://localhost")

    assert await fetch(base + "/metrics", client_context(pki, with_cert=True), None) == 200
    with pytest.raises(aiohttp.ClientError):
        await fetch(base + "/metrics", client_context(pki, with_cert=False), None)
    stranger = CertificateAuthority(tmp_path, name="stranger-ca").issue("intruder", client=True)
    foreign = client_context(pki, with_cert=False)
    foreign.load_cert_chain(str(stranger.cert), str(stranger.key))
    with pytest.raises(aiohttp.ClientError):
        await fetch(base + "/metrics", foreign, None)


async def test_changed_file_is_reread_and_a_broken_one_is_ignored(secured: Secured, pki: Pki) -> None:
    base, web_config = secured.base, secured.web_config
    context = client_context(pki, with_cert=False)
    good = basic("prometheus", PASSWORD)

    web_config.write_text("basic_auth_users: {prometheus: not-a-hash}\ntls_server_config: {}\n")
    await wait_for(
        lambda: not secured.running.exporter.metrics.reload_state.web_config_successful,
        timeout=8,
        message="the broken web config to be rejected",
    )
    assert await fetch(base + "/metrics", context, good) == 200

    new_hash = bcrypt.hashpw(b"rotated", bcrypt.gensalt(rounds=4)).decode()
    document = json.loads(json.dumps({"tls_server_config": {"cert_file": str(pki.server.cert),
                                       "key_file": str(pki.server.key)},
                                      "basic_auth_users": {"prometheus": new_hash}}))  # fmt: skip
    web_config.write_text(json.dumps(document))

    async def rotated() -> bool:
        return await fetch(base + "/metrics", context, basic("prometheus", "rotated")) == 200

    await wait_for(rotated, timeout=8, message="the rotated password to be accepted")
    assert await fetch(base + "/metrics", context, good) == 401


def test_malformed_web_config_at_startup_exits_2(tmp_path: Path) -> None:
    web_config = tmp_path / "web.yaml"
    web_config.write_text("tls_server_config: {cert_file: /nonexistent.pem, key_file: /nonexistent.key}\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--nats-url", "nats://n:4222", "--web.config.file", str(web_config)],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "tls_server_config.cert_file" in result.stderr


async def test_prometheus_scrapes_over_tls_with_basic_auth(secured: Secured, pki: Pki, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "`make test` installs the Debian package prometheus"
    base = secured.base
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "nats-connectivity",
                        "scheme": "https",
                        "tls_config": {"ca_file": str(pki.ca.cert_path)},
                        "basic_auth": {"username": "prometheus", "password": PASSWORD},
                        "static_configs": [{"targets": [base.removeprefix("https://")]}],
                    }
                ],
            }
        )
    )
    process = await asyncio.create_subprocess_exec(
        prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                url = f"http://127.0.0.1:{port}/api/v1/query"
                try:
                    async with http.get(url, params={"query": 'up{job="nats-connectivity"}'}) as response:
                        result = (await response.json())["data"]["result"]
                except (aiohttp.ClientError, KeyError):
                    return False
                return bool(result) and result[0]["value"][1] == "1"

            await wait_for(up, timeout=30, message="Prometheus to scrape the exporter over TLS (up == 1)")
    finally:
        process.terminate()
        await process.wait()


# The web layer's side of the web config (headers, rate limit, allowed SANs): these need the middleware and the
# response hook that call WebSecurity.refusal and WebConfig.headers in exporter/web.py (see the branch's report).
HEADERS = {"X-Frame-Options": "deny", "X-Content-Type-Options": "nosniff", "Strict-Transport-Security": "max-age=60"}


async def start_with(
    nats_server: NatsServer, start_exporter: ExporterFactory, tmp_path: Path, document: dict[str, Any]
) -> str:
    web_config = tmp_path / "web.yaml"
    web_config.write_text(json.dumps(document))
    running = await start_exporter("--nats-url", nats_server.url, "--web.config.file", str(web_config))
    return running.base_url.replace("http://127.0.0.1", "https://localhost")


async def get(url: str, context: ssl.SSLContext, auth: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, ssl=context, headers=auth or {}, timeout=aiohttp.ClientTimeout(total=5)) as response,
    ):
        await response.read()
        return response


def tls_files(pki: Pki) -> dict[str, str]:
    return {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key)}


async def test_configured_headers_on_every_response(
    nats_server: NatsServer, start_exporter: ExporterFactory, pki: Pki, tmp_path: Path
) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    base = await start_with(nats_server, start_exporter, tmp_path, {
        "tls_server_config": tls_files(pki), "basic_auth_users": {"prometheus": hashed},
        "http_server_config": {"headers": HEADERS},
    })  # fmt: skip
    context = client_context(pki, with_cert=False)
    good = basic("prometheus", PASSWORD)
    for path, auth, status in (("/metrics", good, 200), ("/metrics", None, 401), ("/nowhere", good, 404)):
        response = await get(base + path, context, auth)
        assert response.status == status, path
        assert {name: response.headers.get(name) for name in HEADERS} == HEADERS, path


async def test_rate_limit_answers_429(
    nats_server: NatsServer, start_exporter: ExporterFactory, pki: Pki, tmp_path: Path
) -> None:
    base = await start_with(nats_server, start_exporter, tmp_path, {
        "tls_server_config": tls_files(pki), "rate_limit": {"interval": "1h", "burst": 2},
    })  # fmt: skip
    context = client_context(pki, with_cert=False)
    statuses = [(await get(base + "/-/healthy", context)).status for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_client_allowed_sans(
    nats_server: NatsServer, start_exporter: ExporterFactory, pki: Pki, tmp_path: Path
) -> None:
    base = await start_with(nats_server, start_exporter, tmp_path, {
        "tls_server_config": {**tls_files(pki), "client_auth_type": "RequireAndVerifyClientCert",
                              "client_ca_file": str(pki.ca.cert_path), "client_allowed_sans": ["scraper.monitoring"]},
    })  # fmt: skip
    scraper = pki.ca.issue("scraper", hosts=("scraper.monitoring",), client=True)
    allowed = client_context(pki, with_cert=False)
    allowed.load_cert_chain(str(scraper.cert), str(scraper.key))
    assert (await get(base + "/metrics", allowed)).status == 200
    assert (await get(base + "/metrics", client_context(pki, with_cert=True))).status == 403  # SANs: localhost, IP
