"""Views of an `AuditResult`: `text` for a terminal or CI log, `json` for machines, `github` for Actions annotations.

Renderers only arrange the result's values; every verdict, message and fix was decided by the rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from enum import StrEnum
from itertools import groupby
from typing import Any

from exporter.audit.manifests import STDIN_NAME
from exporter.audit.model import AuditResult, Finding, InputError, InventoryEntry, Rule, Severity, Source

SCHEMA = "nats-connectivity-exporter/audit/v1"


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


def render(result: AuditResult, fmt: Format) -> str:
    return RENDERERS[fmt](result)


# --- text ------------------------------------------------------------------------------------------------------


def render_text(result: AuditResult) -> str:
    """Findings grouped by file (namespace for a live cluster), then object; each says where, what and the fix."""
    lines: list[str] = []
    for heading, findings in groupby(result.findings, key=_group):
        lines.append(heading)
        for obj, of_object in groupby(findings, key=lambda finding: finding.object):
            lines.append(f"  {obj}")
            for finding in of_object:
                lines.append(f"    {_where(finding.source)}: {finding.severity} {finding.rule}: {_value(finding)}")
                lines.append(f"      {finding.message}")
                lines.append(f"      fix: {finding.fix}")
        lines.append("")
    if result.errors:
        lines.append("Unreadable input:")
        lines.extend(f"  {error}: {error.message}" for error in result.errors)
        lines.append("")
    if result.notes:
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in result.notes)
        lines.append("")
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def summary(result: AuditResult) -> str:
    scope = f"{_plural(result.objects, 'object')}, {_plural(len(result.inventory), 'NATS URL')}"
    if result.ok:
        return f"OK: no findings ({scope})"
    parts = []
    if result.findings:
        errors, warnings = result.count(Severity.ERROR), result.count(Severity.WARNING)
        parts.append(
            f"{_plural(len(result.findings), 'finding')} ({_plural(errors, 'error')}, {_plural(warnings, 'warning')})"
        )
        parts.append(", ".join(f"{rule} {count}" for rule, count in _by_rule(result).items() if count))
    if result.errors:
        parts.append(_plural(len(result.errors), "unreadable input"))
    return f"FAILED: {'; '.join(parts)} ({scope})"


def _group(finding: Finding) -> str:
    source = finding.source
    return source.path if source.in_file else f"namespace {finding.namespace}"


def _where(source: Source) -> str:
    return str(source) if source.in_file else source.field


def _value(finding: Finding) -> str:
    name = f"container {finding.container} env {finding.key}" if finding.container else finding.key
    return f"{name}={finding.url}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _by_rule(result: AuditResult) -> dict[str, int]:
    counts = dict.fromkeys((str(rule) for rule in Rule), 0)
    for finding in result.findings:
        counts[finding.rule] += 1
    return counts


# --- json ------------------------------------------------------------------------------------------------------


def render_json(result: AuditResult) -> str:
    """A stable document: keys in a fixed order, lists in the result's (sorted) order, every rule counted."""
    document = {
        "schema": SCHEMA,
        "ok": result.ok,
        "counts": {
            "objects": result.objects,
            "urls": len(result.inventory),
            "findings": len(result.findings),
            "errors": result.count(Severity.ERROR),
            "warnings": result.count(Severity.WARNING),
            "unreadable": len(result.errors),
            "by_rule": _by_rule(result),
        },
        "services_known": result.services_known,
        "violations": [{"namespace": v.namespace, "rule": str(v.rule), "count": v.count} for v in result.violations],
        "findings": [_finding_json(finding) for finding in result.findings],
        "inventory": [_inventory_json(entry) for entry in result.inventory],
        "unreadable": [_error_json(error) for error in result.errors],
        "notes": list(result.notes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _source_json(source: Source) -> dict[str, Any]:
    return {"path": source.path, "line": source.line, "field": source.field}


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": str(finding.rule),
        "severity": str(finding.severity),
        "namespace": finding.namespace,
        "kind": finding.object.kind,
        "name": finding.object.name,
        "container": finding.container,
        "key": finding.key,
        "url": finding.url,
        "source": _source_json(finding.source),
        "message": finding.message,
        "fix": finding.fix,
    }


def _inventory_json(entry: InventoryEntry) -> dict[str, Any]:
    return {
        "namespace": entry.namespace,
        "kind": entry.kind,
        "name": entry.name,
        "container": entry.container,
        "key": entry.key,
        "origin": str(entry.origin),
        "host_kind": str(entry.host_kind) if entry.host_kind is not None else None,
        "service": entry.service,
        "url": entry.url,
        "source": _source_json(entry.source),
    }


def _error_json(error: InputError) -> dict[str, Any]:
    return {"path": error.path, "line": error.line, "message": error.message}


# --- github ----------------------------------------------------------------------------------------------------


def render_github(result: AuditResult) -> str:
    """Workflow commands: one `::error`/`::warning` annotation per finding on its file and line, then a summary."""
    lines = [*_annotations(result), summary(result)]
    return "\n".join(lines) + "\n"


def _annotations(result: AuditResult) -> Iterator[str]:
    for finding in result.findings:
        source = finding.source
        text = f"{finding.object}: {_value(finding)}: {finding.message}. Fix: {finding.fix}"
        file = source.path if source.in_file and source.path != STDIN_NAME else None
        if file is None:  # nothing for GitHub to attach it to: say where in the message
            text = f"{source}: {text}"
        yield _command(str(finding.severity), file, source.line, str(finding.rule), text)
    for error in result.errors:
        yield _command("error", error.path, error.line, "unreadable input", error.message)
    for note in result.notes:
        yield f"::notice title=NATS audit::{_escape_data(note)}"


def _command(level: str, file: str | None, line: int | None, title: str, message: str) -> str:
    properties = []
    if file is not None and file != STDIN_NAME:
        properties.append(f"file={_escape_property(file)}")
        if line is not None:
            properties.append(f"line={line}")
    properties.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(properties)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


RENDERERS: dict[Format, Callable[[AuditResult], str]] = {
    Format.TEXT: render_text,
    Format.JSON: render_json,
    Format.GITHUB: render_github,
}
