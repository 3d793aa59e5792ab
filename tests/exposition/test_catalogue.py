"""exporter/exposition/catalogue.py: one list of every family, and the running exporter shows nothing outside it."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.demo.nats_server import NatsServer
from exporter.exposition.catalogue import FAMILIES, exposed_names
from tests.conftest import ExporterFactory, wait_for

README = Path(__file__).resolve().parents[2] / "README.md"
PREFIX = "nats_connectivity_"


def test_every_family_is_declared_once_with_a_help_text() -> None:
    names = [spec.full_name for spec in FAMILIES]
    assert len(names) == len(set(names)), "a family is declared twice"
    assert all(name.startswith(PREFIX) for name in names)
    assert all(spec.help.strip() for spec in FAMILIES)


async def test_the_running_exporter_exposes_only_catalogued_families(
    nats_server: NatsServer, start_exporter: ExporterFactory
) -> None:
    running = await start_exporter("--nats-url", nats_server.url, "--probe.interval", "1s")
    await wait_for(running.metric_is("nats_connectivity_probe_success", 1.0, target="default"), message="a probe")
    _, _, text = await running.get("/metrics")
    exposed = {line.split(" ")[2] for line in text.splitlines() if line.startswith(f"# TYPE {PREFIX}")}
    catalogued = {name for spec in FAMILIES for name in (spec.full_name, *exposed_names(spec))}
    assert exposed <= catalogued, f"exposed but not catalogued: {sorted(exposed - catalogued)}"
    assert {
        "nats_connectivity_probe_success",
        "nats_connectivity_probes_total",
        "nats_connectivity_build_info",
    } <= exposed


def test_the_readme_lists_every_family() -> None:
    readme = README.read_text(encoding="utf-8")
    listed = set(re.findall(r"`(?:nats_connectivity_)?([a-z_]+)`", readme))
    missing = [
        spec.full_name
        for spec in FAMILIES
        if not ({spec.name, *(name.removeprefix(PREFIX) for name in exposed_names(spec))} & listed)
    ]
    assert not missing, f"families the README's metric tables do not list: {missing}"
