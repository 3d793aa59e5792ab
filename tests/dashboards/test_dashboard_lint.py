"""The dashboards follow Grafana's dashboard-linter rules, and every query is PromQL that promtool accepts.

Implemented rules (dashboard-linter names): template-datasource-rule, template-job-rule, template-instance-rule,
template-label-promql-rule, template-on-time-change-reload-rule, panel-datasource-rule,
panel-title-description-rule, panel-units-rule, panel-no-targets-rule, target-promql-rule,
target-rate-interval-rule, target-job-rule, target-instance-rule, target-counter-agg-rule; plus a stable uid, a
pinned schemaVersion, read-only dashboards, no overlapping panels, no undefined variables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.alerts.rules import check_promql as promtool_check
from tests.alerts.rules import counters_outside_rate, ranges, recorded_names, selectors, undefined_variables
from tests.dashboards.grafana import (
    DASHBOARDS,
    LINT_VALUES,
    Json,
    expand,
    label_values_selector,
    load,
    panels,
    queries,
    variables,
)

SCHEMA_VERSION = 39
TEMPLATED = {"type": "prometheus", "uid": "${datasource}"}
REQUIRED_VARIABLES = ("job", "instance", "namespace", "target", "app")
# Grafana's unit ids (packages/grafana-data/src/valueFormats/categories.ts), the ones a dashboard of ours may need.
UNITS = frozenset(
    {"none", "short", "string", "percent", "percentunit", "bool", "bool_yes_no", "bool_on_off"}
    | {"ns", "µs", "ms", "s", "m", "h", "d", "dtdurationms", "dtdurations", "dthms", "dtdhms"}
    | {"dateTimeAsIso", "dateTimeAsSystem", "dateTimeFromNow", "cps", "ops", "reqps", "rps", "cpm", "opm"}
    | {"bytes", "decbytes", "bits", "Bps", "bps", "pps"}
)

parametrized = pytest.mark.parametrize("path", DASHBOARDS, ids=[path.name for path in DASHBOARDS])


def test_the_dashboards_exist() -> None:
    assert [path.name for path in DASHBOARDS][:1] == ["nats-connectivity.json"]


def test_uids_are_stable_and_unique() -> None:
    uids = [load(path).get("uid") for path in DASHBOARDS]
    assert all(isinstance(uid, str) and re.fullmatch(r"[a-z0-9-]{1,40}", uid) for uid in uids), uids
    assert len(set(uids)) == len(uids)


@parametrized
def test_dashboard_is_pinned_and_read_only(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    assert dashboard["editable"] is False
    assert dashboard["title"]
    assert dashboard.get("description")
    assert "id" not in dashboard or dashboard["id"] is None  # an exported id would clash on import


@parametrized
def test_datasource_variable(path: Path) -> None:
    datasources = [v for v in variables(load(path)) if v["type"] == "datasource"]
    assert len(datasources) == 1
    assert datasources[0]["name"] == "datasource"
    assert datasources[0]["label"] == "Data source"
    assert datasources[0]["query"] == "prometheus"


@parametrized
def test_query_variables_refresh_on_time_change_and_use_the_datasource(path: Path) -> None:
    by_name = {v["name"]: v for v in variables(load(path))}
    assert set(REQUIRED_VARIABLES) <= set(by_name)
    for variable in by_name.values():
        if variable["type"] != "query":
            continue
        name = variable["name"]
        assert variable["refresh"] == 2, f"{name}: refresh on time range change"
        assert variable["datasource"] == TEMPLATED, name
        assert variable["label"] == name.title(), name
        assert variable["multi"], f"{name}: multi-select"
        assert variable["includeAll"], f"{name}: with All"
        assert label_values_selector(variable) is not None, f"{name}: label_values(<selector>, label)"
    for name in ("job", "instance"):
        assert by_name[name]["allValue"] == ".+", name


@parametrized
def test_every_panel_has_title_description_unit_and_the_templated_datasource(path: Path) -> None:
    problems = []
    for panel in panels(load(path)):
        title = panel.get("title", "")
        if panel.get("datasource") != TEMPLATED:
            problems.append(f"{title}: datasource {panel.get('datasource')}")
        if panel["type"] == "row":
            continue
        if not title or not panel.get("description"):
            problems.append(f"panel {panel.get('id')}: title and description")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if unit not in UNITS:
            problems.append(f"{title}: unit {unit!r}")
        if not panel.get("targets"):
            problems.append(f"{title}: no queries")
        for target in panel.get("targets", []):
            if target.get("datasource") != TEMPLATED:
                problems.append(f"{title} [{target.get('refId')}]: datasource {target.get('datasource')}")
            if not target.get("expr", "").strip():
                problems.append(f"{title} [{target.get('refId')}]: empty query")
    assert not problems, "\n".join(problems)


@parametrized
def test_panel_ids_are_unique_and_panels_do_not_overlap(path: Path) -> None:
    dashboard = load(path)
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


@parametrized
def test_every_range_is_the_rate_interval(path: Path) -> None:
    bad = [
        f"{query.label}: [{window}]"
        for query in queries(load(path))
        for window in ranges(query.expr)
        if window != "$__rate_interval"
    ]
    assert not bad, "\n".join(bad)


@parametrized
def test_counters_only_inside_rate_or_increase(path: Path) -> None:
    bad = [f"{query.label}: {name}" for query in queries(load(path)) for name in counters_outside_rate(query.expr)]
    assert not bad, "\n".join(bad)


@parametrized
def test_every_selector_filters_on_job_and_instance(path: Path) -> None:
    bad = []
    for query in queries(load(path)):
        for selector in selectors(query.expr):
            for label in ("job", "instance"):
                if not re.search(rf'\b{label}\s*=~\s*"\$(\{{)?{label}\b', selector.matchers):
                    bad.append(f'{query.label}: {selector.name} lacks {label}=~"${label}"')
    assert not bad, "\n".join(bad)


@parametrized
def test_every_variable_used_is_defined(path: Path) -> None:
    dashboard = load(path)
    defined = {variable["name"] for variable in variables(dashboard)}
    bad = {query.label: undefined_variables(query.expr, defined) for query in queries(dashboard)}
    assert not {label: names for label, names in bad.items() if names}


@parametrized
def test_recorded_series_used_are_recorded_by_the_rules(path: Path) -> None:
    used = {
        selector.name for query in queries(load(path)) for selector in selectors(query.expr) if ":" in selector.name
    }
    assert used <= recorded_names()


@parametrized
def test_every_expression_is_valid_promql(path: Path, tmp_path: Path) -> None:
    dashboard: Json = load(path)
    expressions = {query.label: expand(query.expr, LINT_VALUES) for query in queries(dashboard)}
    for variable in variables(dashboard):
        inner = label_values_selector(variable)
        if inner is not None:
            expressions[f"variable {variable['name']}"] = expand(inner, LINT_VALUES)
    assert not (complaints := promtool_check(expressions, tmp_path)), complaints


def test_the_promql_check_catches_invalid_expressions(tmp_path: Path) -> None:
    complaints = promtool_check({"good": "sum(up)", "broken panel": "sum(rate(x[1m])"}, tmp_path)
    assert "broken panel" in complaints
