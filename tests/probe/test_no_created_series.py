"""/metrics carries no `_created` series: they would double the counters' and histograms' series."""

from __future__ import annotations

from exporter.demo.nats_server import NatsServer
from tests.conftest import ExporterFactory, wait_for


async def test_metrics_have_no_created_series(nats_server: NatsServer, start_exporter: ExporterFactory) -> None:
    running = await start_exporter("--nats-url", nats_server.url)
    await wait_for(lambda: running.exporter.board.ready, message="the first probe")

    for accept in ("text/plain", "application/openmetrics-text; version=1.0.0"):
        status, _, text = await running.get("/metrics", Accept=accept)
        assert status == 200
        assert "nats_connectivity_probes_total" in text  # counters are there
        assert "_bucket{" in text  # and histograms
        assert "_created" not in text, accept
