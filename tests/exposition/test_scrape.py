"""exporter/exposition/scrape.py: each target's block is rendered when it changes and joined at scrape time."""

from __future__ import annotations

import gzip

from prometheus_client.parser import text_string_to_metric_families

from exporter.config import Target
from exporter.config.nats_url import parse_url
from exporter.exposition.scrape import Exposition
from exporter.probe.result import Phase, ProbeResult
from exporter.state import ExporterState


def target(name: str) -> Target:
    return Target(name=name, servers=(parse_url(f"nats://{name}.example:4222"),))


def probe(name: str, at: float) -> ProbeResult:
    return ProbeResult(target=name, started_at=at, duration=0.01, phases={Phase.RTT: 0.001})


def families(body: bytes) -> dict[str, list[dict[str, str]]]:
    return {
        family.name: [sample.labels for sample in family.samples]
        for family in text_string_to_metric_families(body.decode())
    }


def test_every_family_appears_once_with_each_targets_samples_under_it() -> None:
    state = ExporterState(process_metrics=False)
    exposition = Exposition(state.metrics, state.probes)
    for name in ("a", "b"):
        state.add_target(target(name))
        state.record_probe(probe(name, 1.0))
    body, _ = exposition.render("")
    text = body.decode()
    assert text.count("# TYPE nats_connectivity_probe_success gauge") == 1
    targets = {labels["target"] for labels in families(body)["nats_connectivity_probe_success"]}
    assert targets == {"a", "b"}


async def test_a_change_is_seen_by_the_next_scrape_and_a_removed_target_disappears() -> None:
    state = ExporterState(process_metrics=False)
    exposition = Exposition(state.metrics, state.probes)
    state.on_change(exposition.changed)
    state.add_target(target("a"))
    first, _ = exposition.response("", gzipped=False)
    assert b'nats_connectivity_probe_success{target="a"}' not in first
    state.record_probe(probe("a", 1.0))
    second, _ = exposition.response("", gzipped=False)  # a reused response would still lack it
    assert b'nats_connectivity_probe_success{target="a"} 1.0' in second
    state.remove_target("a")
    exposition.invalidate()
    third, _ = exposition.response("", gzipped=False)
    assert b'target="a"' not in third


def test_gzip_and_openmetrics_are_the_same_families() -> None:
    state = ExporterState(process_metrics=False)
    exposition = Exposition(state.metrics, state.probes)
    state.add_target(target("a"))
    state.record_probe(probe("a", 1.0))
    plain, _ = exposition.response("", gzipped=False)
    zipped, _ = exposition.response("", gzipped=True)
    assert gzip.decompress(zipped) == plain
    openmetrics, content_type = exposition.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert openmetrics.endswith(b"# EOF\n")
    assert openmetrics.count(b"# EOF") == 1
