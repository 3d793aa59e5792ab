"""The alerting rules: valid for promtool, unit-tested firing and not firing, annotated, and each with a runbook."""

from __future__ import annotations

import re

import yaml

from tests.alerts.rules import (
    RULE_TESTS,
    RULES_FILE,
    RUNBOOK,
    SCRAPE_LABELS,
    alerts,
    counters_outside_rate,
    declared_families,
    load_rules,
    metric_names,
    promtool,
    seconds,
)

CRITICAL = {
    "NATSConnectivityUnreachable",
    "NATSConnectivityNoReadyEndpoints",
    "NATSConnectivityExporterDown",
    "NATSConnectivityExporterAbsent",
    "NATSApplicationPodsNotConnected",
    "NATSRouteBroken",
    "NATSJetStreamUnavailable",
    "NATSUnreachableFromNode",
}
# Alerts with two rules of one name, natscli's way: a warning level and a critical level.
TWO_LEVELS = {"NATSJetStreamStorageNearlyFull"}
DEFAULT_PROBE_INTERVAL = 15.0
DIAGNOSTICS_INTERVAL = 60.0
# Gauges the diagnostics and the audit set once per --diagnostics.interval.
DIAGNOSTICS_METRICS = {
    f"nats_connectivity_{name}"
    for name in ("check_success", "service_endpoints", "endpoint_probe_success", "config_violations")
}


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS, "alerts/tests/*.yaml"
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {alert.name for alert in alerts()}
    assert names - firing == set(), "never tested firing"
    assert names - silent == set(), "never tested not firing"


def test_severities_page_only_for_the_critical_alerts() -> None:
    severities: dict[str, set[str | None]] = {}
    for alert in alerts():
        severities.setdefault(alert.name, set()).add(alert.labels.get("severity"))
    assert severities == {
        name: {"warning", "critical"} if name in TWO_LEVELS else {"critical" if name in CRITICAL else "warning"}
        for name in severities
    }


def test_two_level_alerts_page_at_the_higher_threshold_sooner() -> None:
    """The critical rule of a two-level alert has the higher threshold and the shorter `for:` (natscli: 75% / 90%)."""
    for name in TWO_LEVELS:
        levels = {alert.labels["severity"]: alert for alert in alerts() if alert.name == name}
        assert set(levels) == {"warning", "critical"}, name
        thresholds = {level: float(re.findall(r">\s*([0-9.]+)", rule.expr)[-1]) for level, rule in levels.items()}
        assert thresholds == {"warning": 0.75, "critical": 0.9}, name
        assert seconds(levels["critical"].duration) < seconds(levels["warning"].duration), name


def test_alerts_are_named_and_annotated() -> None:
    for alert in alerts():
        # NATSConnectivity* for the probe, the logs and Kubernetes; NATSApplication*, NATSRoute*, NATSServer*,
        # NATSJetStream*, NATSUnreachableFromNode for the features named so in their issues.
        assert re.fullmatch(r"NATS[A-Z][A-Za-z]+", alert.name), alert.name
        assert set(alert.annotations) == {"summary", "description", "runbook_url"}, alert.name
        assert "{{" in alert.annotations["description"], f"{alert.name}: the description says which target/app"
        anchor = alert.name.lower()
        assert alert.annotations["runbook_url"].endswith(f"alerts/runbook.md#{anchor}"), alert.name


def test_no_alert_fires_on_one_failed_probe_or_diagnosis() -> None:
    for alert in alerts():
        duration = seconds(alert.duration)
        assert duration >= 8 * DEFAULT_PROBE_INTERVAL, f"{alert.name}: for: {alert.duration}"
        if metric_names(alert.expr) & DIAGNOSTICS_METRICS:
            assert duration >= 2 * DIAGNOSTICS_INTERVAL, f"{alert.name}: spans two diagnosis runs"


def test_counters_only_inside_rate_or_increase() -> None:
    bad = {rule.name: counters_outside_rate(rule.expr) for rule in load_rules()}
    assert not {name: counters for name, counters in bad.items() if counters}


def test_the_runbook_has_a_section_per_alert() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL))
    for alert in alerts():
        assert alert.name in sections, alert.name
        body = sections[alert.name]
        for heading in ("### Meaning", "### Impact", "### Diagnosis", "### Fix"):
            assert heading in body, f"{alert.name}: {heading}"
        assert f"](#{alert.name.lower()})" in text, f"{alert.name}: in the runbook's table"
    assert "nats-connectivity-exporter check" in text
    assert "kubectl get endpoints" in text


_SERIES = re.compile(r"^(\w+)\{(.*)\}$")
_PAIR = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
# Counters the collectors emit at 0 for every value of their fixed label set as soon as the subject is known: an app
# (exporter/servers/tracker.py `know_apps`), a target of the cluster board. Not jetstream_probes_total: it appears
# with the first canary round, already counting that round's result.
ZERO_BASED_COUNTERS = {"nats_connectivity_app_connection_closes_total", "nats_connectivity_route_probes_total"}


def _input_series() -> list[tuple[str, str, dict[str, str], list[str]]]:
    """(test file, metric name, labels, values) for every input series of the promtool tests."""
    found = []
    for path in RULE_TESTS:
        # BaseLoader: every scalar stays text, as promtool reads it (safe_load would read `0x20` as hexadecimal 32).
        for case in yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)["tests"]:
            for item in case.get("input_series", []):
                match = _SERIES.match(item["series"].strip())
                assert match, f"{path.name}: {item['series']}"
                labels = dict(_PAIR.findall(match.group(2)))
                found.append((path.name, match.group(1), labels, str(item["values"]).split()))
    return found


def test_unit_test_series_have_the_label_sets_the_exporter_emits() -> None:
    """Each input series of a declared family carries exactly the family's labels, plus job and instance (and what
    the agent's PodMonitor or --logs.per-pod adds): a test on made-up labels would prove nothing about the rules."""
    declared = declared_families()
    problems = []
    for file, name, labels, _ in _input_series():
        if name not in declared:
            continue
        own = set(declared[name].labels) | ({"le"} if name.endswith("_bucket") else set())
        have = set(labels)
        if not own | {"job", "instance"} <= have or have - own - SCRAPE_LABELS:
            problems.append(f"{file}: {name}{sorted(have)}, declared {sorted(own)}")
    assert not problems, "\n".join(problems)


def test_unit_test_counters_start_at_zero_where_the_exporter_starts_them_at_zero() -> None:
    """Where the exporter emits a counter at 0 for every label value as soon as the app or target is known (so an
    alert's increase() sees the first event), the unit tests must not start it above 0 either."""
    problems = []
    for file, name, labels, values in _input_series():
        if name in ZERO_BASED_COUNTERS:
            first = next((value for value in values if not value.startswith("_")), "")
            if not re.fullmatch(r"0(\+.*|x\d+)?", first):
                problems.append(f"{file}: {name}{labels} starts at {first}")
    assert not problems, "\n".join(problems)
