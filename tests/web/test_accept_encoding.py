"""gzip only where the client admits it: RFC 9110's q-values, `gzip;q=0` included, checked over real HTTP too."""

from __future__ import annotations

import aiohttp
import pytest

from exporter.demo.nats_server import NatsServer
from exporter.web.server import accepts_gzip
from tests.conftest import ExporterFactory, wait_for


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("", False),
        ("identity", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("deflate, gzip;q=0", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),  # gzip named and refused: the wildcard does not bring it back
        ("gzip;q=0, *", False),
        ("gzip;q=bogus", False),
    ],
)
def test_accepts_gzip_reads_q_values(header: str, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip


async def test_metrics_are_sent_plain_to_a_client_that_refuses_gzip(
    nats_server: NatsServer, start_exporter: ExporterFactory
) -> None:
    running = await start_exporter("--nats-url", nats_server.url)
    await wait_for(lambda: running.exporter.board.ready, message="the first probe")
    url = f"{running.base_url}/metrics"
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        async with http.get(url, headers={"Accept-Encoding": "gzip;q=0"}) as response:
            refused = (response.headers.get("Content-Encoding"), await response.read())
        async with http.get(url, headers={"Accept-Encoding": "gzip"}) as response:
            accepted = response.headers.get("Content-Encoding")

    assert refused[0] is None
    assert b"nats_connectivity_probe_success" in refused[1]
    assert accepted == "gzip"
