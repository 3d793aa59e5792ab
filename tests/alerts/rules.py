"""The shipped rules and runbook, promtool, and the small PromQL reading the lint and drift tests need.

PromQL is not parsed here: promtool does that (see `check_promql`). What Python does is lexical and exact enough for
our own expressions: it masks string literals, then finds metric selectors by name (every metric of ours starts with
`nats_connectivity_`; recording rules have two colons; `up` is Prometheus's own).
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ALERTS_DIR = REPO / "alerts"
RULES_FILE = ALERTS_DIR / "nats-connectivity.rules.yaml"
RULE_TESTS = sorted((ALERTS_DIR / "tests").glob("*.yaml"))
RUNBOOK = ALERTS_DIR / "runbook.md"

PREFIX = "nats_connectivity_"
# The metric contract (DESIGN.md and the README's metric table): every family must be used by a dashboard or a rule.
CONTRACT = frozenset(
    PREFIX + name
    for name in (
        "probe_success",
        "probe_phase_seconds",
        "probe_duration_seconds",
        "probe_latency_seconds",
        "probes_total",
        "probe_last_success_timestamp_seconds",
        "dns_addresses",
        "target_info",
        "server_info",
        "session_connected",
        "session_disconnects_total",
        "session_reconnects_total",
        "publish_total",
        "ready",
        "build_info",
        "kubernetes_errors_total",
        "config_last_reload_successful",
        "config_last_reload_success_timestamp_seconds",
        "web_config_last_reload_successful",
        "log_events_total",
        "log_last_event_timestamp_seconds",
        "log_lines_total",
        "app_pods",
        "log_streams",
        "log_stream_restarts_total",
        "check_success",
        "service_endpoints",
        "endpoint_probe_success",
        "endpoint_rtt_seconds",
        "config_url_info",
        "config_violations",
    )
)
# The servers' view, the cluster data path and the node agent (DESIGN.md's tables for them, and the further families
# their metrics.py declare: the view's expected servers, route interest time, per-account routes, route pairs, the
# agent's log reading).
CONTRACT |= frozenset(
    PREFIX + name
    for name in (
        "app_pods_expected",
        "app_pods_connected",
        "app_pod_verdicts",
        "app_connections",
        "app_subscriptions",
        "app_pending_bytes_max",
        "app_connection_closes_total",
        "app_clients",
        "app_reconnect_seconds",
        "unmatched_connections",
        "server_view_success",
        "server_view_servers",
        "server_view_servers_expected",
        "server_probe_success",
        "server_healthz",
        "server_ready_unhealthy",
        "route_probe_success",
        "route_probe_seconds",
        "route_interest_seconds",
        "route_account_probe_success",
        "route_probes_total",
        "jetstream_probe_success",
        "jetstream_phase_seconds",
        "jetstream_probes_total",
        "jetstream_stream_replicas",
        "jetstream_account_usage_ratio",
        "agent_log_malformed_lines_total",
        "agent_log_bytes_read_total",
    )
)
# Metrics Prometheus makes itself, not the exporter.
PROMETHEUS_METRICS = frozenset({"up"})
# Labels Prometheus adds to every series it scrapes (job, instance) or that the agent's PodMonitor adds (the pod's
# namespace and name, and `node` from __meta_kubernetes_pod_node_name); `pod` is also the exporter's own optional
# per-pod label (--logs.per-pod).
SCRAPE_LABELS = frozenset({"job", "instance", "namespace", "pod", "node"})


# Feature packages whose families the drift test's `serve` does not expose: the cluster data path appears only for a
# target whose config asks for it (tests/test_cluster_end_to_end.py checks them on a real cluster), and the node
# agent's own families come from the `agent` command only (tests/test_agent_end_to_end.py). Their metrics.py files
# are the reference for the drift tests (tests/dashboards/test_metric_drift.py); the drift test fails, saying so, as
# soon as `serve` exposes a family of a package listed here.
NOT_SERVED_BY_SERVE = frozenset({"cluster", "agent"})  # served only when a target or the agent command asks


@dataclass(frozen=True)
class Declared:
    """A metric family as a feature's metrics.py declares it: its kind, its labels and the samples it exposes."""

    name: str  # the family's name as Prometheus's text format announces it (counters without `_total`)
    kind: str  # gauge, counter, histogram
    labels: tuple[str, ...]
    package: str  # the feature package declaring it: "servers", "cluster", "probe", ...

    @property
    def samples(self) -> tuple[str, ...]:
        if self.kind == "counter":
            return (self.name + "_total",)
        if self.kind == "histogram":
            return tuple(self.name + suffix for suffix in HISTOGRAM_SUFFIXES)
        return (self.name,)


def declared_families() -> dict[str, Declared]:
    """Every family the features declare in exporter/<feature>/metrics.py, by each sample name it exposes.

    The specs are values (GaugeSpec, CounterSpec, HistogramSpec, or a feature's own spec with `buckets`); reading
    them needs no exporter running, so the families of features not yet served by `serve` are known too.
    """
    found: dict[str, Declared] = {}
    for path in sorted((REPO / "exporter").glob("*/metrics.py")):
        package = path.parent.name
        module = importlib.import_module(f"exporter.{package}.metrics")
        for value in vars(module).values():
            name, labels = getattr(value, "name", None), getattr(value, "labels", None)
            if isinstance(value, type) or not isinstance(name, str) or not isinstance(labels, tuple):
                continue
            kind = getattr(value, "kind", None) or ("histogram" if hasattr(value, "buckets") else None)
            if kind not in {"gauge", "counter", "histogram"}:
                continue
            declared = Declared(PREFIX + name, kind, labels, package)
            for sample in declared.samples:
                found[sample] = declared
    return found


HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def tool(*names: str) -> str:
    """The first of `names` on PATH; the test fails (never skips) without it: `make test` installs them."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{' or '.join(names)} not found: install the Debian packages (make system-deps)")


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@dataclass(frozen=True)
class Rule:
    group: str
    name: str  # the alert's or the recorded series' name
    expr: str
    alert: bool
    duration: str = "0s"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def load_rules(path: Path = RULES_FILE) -> list[Rule]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = []
    for group in document["groups"]:
        for raw in group["rules"]:
            alert = "alert" in raw
            rules.append(
                Rule(
                    group=group["name"],
                    name=raw["alert"] if alert else raw["record"],
                    expr=raw["expr"],
                    alert=alert,
                    duration=str(raw.get("for", "0s")),
                    labels=raw.get("labels", {}),
                    annotations=raw.get("annotations", {}),
                )
            )
    return rules


def alerts() -> list[Rule]:
    return [rule for rule in load_rules() if rule.alert]


def recorded_names() -> set[str]:
    return {rule.name for rule in load_rules() if not rule.alert}


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def seconds(duration: str) -> float:
    """A Prometheus duration (`90s`, `1h30m`) in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def write_rules_with_short_for(path: Path, *, scale: float) -> Path:
    """A copy of the shipped rules with every `for:` multiplied by `scale` (end-to-end tests cannot wait minutes)."""
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{max(1, round(seconds(str(rule['for'])) * scale * 1000))}ms"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


# --- PromQL, lexically -----------------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME = re.compile(r"(?<![\w:$])(nats_connectivity_\w+|[a-z_]+:\w+:\w+|up)(?![\w:(])")
_RANGE = re.compile(r"\[([^\]]*)\]")


def mask_strings(expr: str) -> str:
    """`expr` with the inside of every string literal replaced by `x`: positions stay, label values cannot match."""
    return _STRING.sub(lambda m: m.group(0)[0] + "x" * (len(m.group(0)) - 2) + m.group(0)[-1], expr)


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: str  # the text between the braces, "" without braces
    start: int
    end: int  # just after the name, or after the closing brace


def selectors(expr: str) -> Iterator[Selector]:
    """Every selector of a metric of ours (or `up`, or a recorded series) in `expr`."""
    masked = mask_strings(expr)
    for match in _NAME.finditer(masked):
        if match.group(1) == "up" and not re.match(r"\s*\{", masked[match.end() :]):
            continue  # `up` is only a metric when it selects something
        end = match.end()
        matchers = ""
        brace = re.match(r"\s*\{", masked[end:])
        if brace:
            close = masked.index("}", end)
            matchers = expr[end + brace.end() : close]
            end = close + 1
        yield Selector(match.group(1), matchers, match.start(), end)


def metric_names(expr: str) -> set[str]:
    return {selector.name for selector in selectors(expr)}


def family(name: str) -> str:
    """The family a sample name belongs to: histogram series map to the histogram's name."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name.startswith(PREFIX):
            return name[: -len(suffix)]
    return name


def is_counter_series(name: str) -> bool:
    return name.endswith("_total") or name.endswith("_bucket")


def counters_outside_rate(expr: str) -> list[str]:
    """Counter series (`_total`, `_bucket`) not directly inside rate(), irate() or increase() with a range."""
    masked = mask_strings(expr)
    bad = []
    for selector in selectors(expr):
        if not is_counter_series(selector.name):
            continue
        ranged = re.match(r"\s*\[[^\]]*\]\s*\)", masked[selector.end :])
        before = masked[: selector.start].rstrip()
        called = re.search(r"\b(rate|irate|increase)\s*\($", before)
        if not (ranged and called):
            bad.append(selector.name)
    return bad


def ranges(expr: str) -> list[str]:
    return [match.group(1) for match in _RANGE.finditer(mask_strings(expr))]


def check_promql(expressions: Mapping[str, str], workdir: Path) -> str:
    """Have promtool parse every expression (as recording rules); return its complaints, "" if all are valid."""
    names = {f"lint_expression_{index}": label for index, label in enumerate(expressions)}
    document: dict[str, Any] = {
        "groups": [
            {
                "name": "lint",
                "rules": [{"record": record, "expr": expressions[label]} for record, label in names.items()],
            }
        ]
    }
    path = workdir / "expressions.rules.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    if result.returncode == 0:
        return ""
    output = result.stdout + result.stderr
    for record, label in names.items():
        output = output.replace(record, f"{record} ({label})")
    return output


def undefined_variables(expr: str, defined: Iterable[str]) -> set[str]:
    used = set(re.findall(r"\$\{?(\w+)", expr))
    return used - set(defined) - {"__rate_interval", "__interval", "__range"}
