"""The corpus, and the audit run the way a user runs it: arguments in, exit code and output out."""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path

from exporter.audit import AuditOptions, AuditResult, Finding, add_audit_arguments, audit_manifests, run_audit

CORPUS = Path(__file__).parent / "corpus"
GUIDE = CORPUS / "guide"
CASES = CORPUS / "cases"


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    out: str
    err: str


def run(*argv: str, stdin: str = "") -> Run:
    parser = argparse.ArgumentParser(prog="audit")
    add_audit_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_audit(parser.parse_args(argv), io.StringIO(stdin), out, err)
    return Run(code, out.getvalue(), err.getvalue())


def audit(*paths: Path | str, stdin: str = "", options: AuditOptions | None = None) -> AuditResult:
    return audit_manifests([str(path) for path in paths], io.StringIO(stdin), options or AuditOptions())


def summary(finding: Finding) -> tuple[str, str, str, str, int | None]:
    """What a reader checks first: rule, object, key, file name and line."""
    return (str(finding.rule), str(finding.object), finding.key, Path(finding.source.path).name, finding.source.line)
