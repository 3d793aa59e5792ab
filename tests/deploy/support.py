"""Rendering the chart the way `helm template` does (Helm's own library, offline) and reading what comes out."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import render as deploy_render

ROOT = deploy_render.ROOT
CHART = deploy_render.CHART
EXAMPLES = deploy_render.DEPLOY / "examples"
RELEASE = "nce"
NAMESPACE = "observability"
Obj = dict[str, Any]


def dashboards_available() -> bool:
    """dashboards/*.json exists (the chart's copies must then equal it: a test says so)."""
    return any(deploy_render.DASHBOARDS_SOURCE.glob("*.json"))


def rules_available() -> bool:
    """alerts/nats-connectivity.rules.yaml exists (the chart's copy must then equal it: a test says so)."""
    return deploy_render.RULES_SOURCE.is_file()


def without_missing_sources(values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with the rules and dashboards turned off when their sources do not exist yet (reported by skips)."""
    adjusted = copy.deepcopy(dict(values))
    if not rules_available():
        adjusted.setdefault("prometheusRule", {})["enabled"] = False
    if not dashboards_available():
        adjusted.setdefault("dashboards", {})["enabled"] = False
    return adjusted


def example_values(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def render(values: Mapping[str, Any] | None = None, *, namespace: str = NAMESPACE) -> list[Obj]:
    """Every object the chart renders with `values`, parsed."""
    return deploy_render.objects(deploy_render.render(values, release=RELEASE, namespace=namespace))


def of_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[Obj], kind: str) -> Obj:
    found = of_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def workload(objects: list[Obj]) -> Obj:
    found = [obj for obj in objects if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet")]
    assert len(found) == 1, [obj["kind"] for obj in found]
    return found[0]


def container(objects: list[Obj]) -> Obj:
    containers = workload(objects)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: Obj = containers[0]
    return result


def env_value(container_spec: Obj, name: str) -> Any:
    for entry in container_spec.get("env", []):
        if entry["name"] == name:
            return entry.get("value", entry.get("valueFrom"))
    raise KeyError(name)


def exporter_config(objects: list[Obj]) -> Obj:
    """The exporter's --config file, from the rendered ConfigMap."""
    configmap = next(obj for obj in of_kind(objects, "ConfigMap") if "config.yaml" in obj.get("data", {}))
    loaded = yaml.safe_load(configmap["data"]["config.yaml"])
    assert isinstance(loaded, dict)
    return loaded


def render_error(values: Mapping[str, Any]) -> str:
    """The message of a rendering that must fail."""
    import helm_python

    with pytest.raises(helm_python.HelmError) as failure:
        deploy_render.render(values, release=RELEASE, namespace=NAMESPACE)
    return str(failure.value)


def walk(value: Any) -> Iterator[Any]:
    """Every value nested in a document."""
    yield value
    if isinstance(value, Mapping):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))
