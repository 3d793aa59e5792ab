"""The PrometheusRule and the dashboard ConfigMaps: generated from alerts/ and dashboards/, one source of truth."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import render as deploy_render
from tests.deploy.support import Obj, dashboards_available, of_kind, one, relative, render, rules_available

needs_rules = pytest.mark.skipif(
    not rules_available(),
    reason=f"{relative(deploy_render.RULES_SOURCE)} does not exist yet: no PrometheusRule to check",
)
needs_dashboards = pytest.mark.skipif(
    not dashboards_available(),
    reason=f"{relative(deploy_render.DASHBOARDS_SOURCE)}/*.json does not exist yet: no dashboard to check",
)


def source_rules() -> dict[str, Any]:
    loaded = yaml.safe_load(deploy_render.RULES_SOURCE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@needs_rules
def test_the_chart_copy_of_the_rules_is_the_source() -> None:
    assert deploy_render.RULES_COPY.read_bytes() == deploy_render.RULES_SOURCE.read_bytes(), (
        "run `python deploy/render.py` after changing alerts/"
    )


@needs_dashboards
def test_the_chart_copies_of_the_dashboards_are_the_sources() -> None:
    sources = deploy_render.dashboard_sources()
    copies = {path.name: path.read_bytes() for path in deploy_render.DASHBOARDS_COPY.glob("*.json")}
    assert copies == sources, "run `python deploy/render.py` after changing dashboards/"


@needs_rules
def test_the_prometheus_rule_carries_the_rules_untouched() -> None:
    """Helm must not interpret Prometheus' {{ $labels.target }} templates: every rule arrives exactly as written."""
    rule = one(render({"prometheusRule": {"enabled": True}}), "PrometheusRule")
    assert rule["spec"]["groups"] == source_rules()["groups"]
    annotations = [r.get("annotations", {}) for group in rule["spec"]["groups"] for r in group["rules"]]
    assert any("{{ $labels.target }}" in text for a in annotations for text in a.values())


@needs_rules
def test_the_prometheus_rule_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package `prometheus`; `make test` installs it)")
    rule = one(render({"prometheusRule": {"enabled": True, "additionalRuleLabels": {"team": "x"}}}), "PrometheusRule")
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_rules
def test_rules_can_be_labelled_and_left_out() -> None:
    source_alerts = [r for group in source_rules()["groups"] for r in group["rules"] if "alert" in r]
    dropped = source_alerts[0]["alert"]
    values = {"prometheusRule": {"enabled": True, "additionalRuleLabels": {"team": "platform", "severity": "low"},
                                 "disabled": {dropped: True}}}  # fmt: skip
    rule = one(render(values), "PrometheusRule")
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    # Rules, not names: an alert may have two rules (a warning and a critical level).
    alerts = [r for r in rules if "alert" in r]
    assert dropped not in {r["alert"] for r in alerts}
    kept = [source for source in source_alerts if source["alert"] != dropped]
    assert [r["alert"] for r in alerts] == [source["alert"] for source in kept]
    for source, rendered in zip(kept, alerts, strict=True):
        # Added to every alert; the rule's own labels (severity) win.
        assert rendered["labels"] == {"severity": "low", "team": "platform", **source.get("labels", {})}
    assert all("labels" not in r or "team" not in r["labels"] for r in rules if "record" in r)


@needs_dashboards
def test_each_dashboard_is_a_configmap_for_the_grafana_sidecar() -> None:
    values = {"dashboards": {"enabled": True, "namespace": "grafana", "annotations": {"grafana_folder": "NATS"}}}
    configmaps = [obj for obj in of_kind(render(values), "ConfigMap") if obj["metadata"]["namespace"] == "grafana"]
    sources = deploy_render.dashboard_sources()
    assert len(configmaps) == len(sources)
    for configmap in configmaps:
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert configmap["metadata"]["annotations"] == {"grafana_folder": "NATS"}
        ((name, text),) = configmap["data"].items()
        # Byte for byte (but the final newline): Grafana's {{legend}} formats are not Helm's business.
        assert text == sources[name].decode("utf-8").rstrip("\n")
        assert json.loads(text)["uid"]


@needs_dashboards
def test_the_sidecar_label_is_configurable() -> None:
    values = {"dashboards": {"enabled": True, "label": "grafana.com/dashboard", "labelValue": "nats"}}
    configmaps: list[Obj] = [obj for obj in of_kind(render(values), "ConfigMap") if "grafana.com/dashboard" in
                             obj["metadata"]["labels"]]  # fmt: skip
    assert configmaps
    assert all(c["metadata"]["labels"]["grafana.com/dashboard"] == "nats" for c in configmaps)


def test_missing_sources_are_reported_not_hidden() -> None:
    """render.py names each missing source; the tests above skip with the same words instead of passing silently."""
    problems = deploy_render.missing_sources()
    assert ("alerts/nats-connectivity.rules.yaml does not exist" in problems) is not rules_available()
    assert ("dashboards/*.json does not exist" in problems) is not dashboards_available()


def test_render_py_copes_with_sources_that_do_not_exist_yet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before alerts/ and dashboards/ exist, render.py says so, and wants no copies in the chart."""
    monkeypatch.setattr(deploy_render, "RULES_SOURCE", tmp_path / "alerts" / "nats-connectivity.rules.yaml")
    monkeypatch.setattr(deploy_render, "DASHBOARDS_SOURCE", tmp_path / "dashboards")
    monkeypatch.setattr(deploy_render, "ROOT", tmp_path)
    assert deploy_render.missing_sources() == [
        "alerts/nats-connectivity.rules.yaml does not exist",
        "dashboards/*.json does not exist",
    ]
    assert set(deploy_render.chart_copies().values()) == {None}
