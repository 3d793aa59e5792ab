"""The `check` command's report: each step of the troubleshooting list, its state, the evidence and the fix."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.diagnostics.checks import CheckState
from exporter.diagnostics.runner import Diagnosis

_MARKS = {CheckState.PASS: "PASS", CheckState.FAIL: "FAIL", CheckState.UNKNOWN: "????", CheckState.SKIPPED: "skip"}
_TITLES = {
    "service_exists": "1. The NATS Service exists",
    "endpoints_ready": "1. The Service has ready endpoints",
    "dns_fqdn": "2. DNS: the full service name resolves",
    "dns_short": "2. DNS: the short service name resolves",
    "tcp_connect": "2. TCP: the port accepts connections",
    "nats_handshake": "2. NATS: handshake, PING/PONG, publish/subscribe",
    "endpoint_probe": "5. Each NATS pod answers on its own",
    "network_policy": "3. NetworkPolicies allow the traffic",
}


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the report that another feature produced (the servers' view, the cluster probes), already rendered.

    This package knows no other feature (the layers keep features independent): whoever runs `check` hands it
    these values, each with its text lines and its JSON document, and whether it found something to fix.
    """

    name: str  # the JSON key's value: "application_pods", "cluster"
    title: str
    ok: bool
    target: str = ""  # the target it belongs to ("" when not per target)
    lines: tuple[str, ...] = ()
    document: Mapping[str, Any] = field(default_factory=dict)


def render_text(diagnoses: Sequence[Diagnosis], urls: dict[str, str], sections: Sequence[Section] = ()) -> str:
    lines: list[str] = []
    for diagnosis in diagnoses:
        lines.append(f"Target {diagnosis.target} ({urls.get(diagnosis.target, '')})")
        for result in diagnosis.results:
            title = _TITLES.get(result.name, result.name)
            lines.append(f"  [{_MARKS[result.state]}] {title}: {result.summary}")
            lines.extend(f"         {item}" for item in result.evidence if item)
            if result.fix and result.state in (CheckState.FAIL, CheckState.UNKNOWN):
                lines.append(f"         fix: {result.fix}")
        failed = len(diagnosis.failed)
        skipped = [r.name for r in diagnosis.results if r.state is CheckState.SKIPPED]
        verdict = f"{failed} check(s) failed" if failed else "all checks that could run passed"
        lines.append(f"  => {verdict}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
        lines.append("")
    for section in sections:
        lines.append(section.title + (f" (target {section.target})" if section.target else ""))
        lines.extend(f"  {line}" for line in section.lines)
        lines.append("  => " + ("nothing to fix" if section.ok else "needs attention"))
        lines.append("")
    return "\n".join(lines)


def render_json(diagnoses: Sequence[Diagnosis], urls: dict[str, str], sections: Sequence[Section] = ()) -> str:
    document = {
        "targets": [
            {
                "target": diagnosis.target,
                "url": urls.get(diagnosis.target, ""),
                "ok": not diagnosis.failed,
                "checks": [
                    {
                        "name": result.name,
                        "state": result.state.value,
                        "summary": result.summary,
                        "evidence": list(result.evidence),
                        "fix": result.fix,
                    }
                    for result in diagnosis.results
                ],
            }
            for diagnosis in diagnoses
        ],
        "sections": [
            {"name": s.name, "title": s.title, "target": s.target, "ok": s.ok, **s.document} for s in sections
        ],
    }
    return json.dumps(document, indent=2)
