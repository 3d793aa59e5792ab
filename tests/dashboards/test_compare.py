"""`python -m dashboards.generator.compare`: a reviewer sees what a change does to panels, not a textual diff."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from dashboards.generator import compare, output
from tests.dashboards.grafana import load

COMMITTED = output.DIRECTORY / "nats-connectivity.json"


def test_a_dashboard_equals_itself_whatever_its_key_order(tmp_path: Path) -> None:
    dashboard = load(COMMITTED)
    reordered = tmp_path / "reordered.json"
    reordered.write_text(json.dumps(dashboard, sort_keys=True), encoding="utf-8")
    assert compare.main([str(COMMITTED), str(reordered)]) == 0


def test_a_changed_unit_query_and_position_are_named_by_panel_title() -> None:
    old = load(COMMITTED)
    new = copy.deepcopy(old)
    panel = next(panel for panel in new["panels"] if panel["title"] == "Probe duration")
    panel["fieldConfig"]["defaults"]["unit"] = "ms"
    panel["targets"][0]["expr"] = "up"
    panel["gridPos"]["y"] += 1
    found = list(compare.compare(old, new))
    assert 'panel \'Probe duration\': fieldConfig.defaults.unit: "s" -> "ms"' in found
    expr = "panel 'Probe duration': targets[0].expr: "
    assert any(line.startswith(expr) and line.endswith('-> "up"') for line in found)
    assert "panel 'Probe duration': gridPos.y: 6 -> 7" in found
    assert len(found) == 3


def test_removed_panels_and_variables_are_named() -> None:
    old = load(COMMITTED)
    new = copy.deepcopy(old)
    new["panels"] = [panel for panel in new["panels"] if panel["title"] != "Build info"]
    new["templating"]["list"] = [v for v in new["templating"]["list"] if v["name"] != "phase"]
    found = list(compare.compare(old, new))
    assert "panel 'Build info': removed" in found
    assert "variable 'phase': removed" in found
