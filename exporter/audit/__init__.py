"""The configuration audit: "never use an IP address for NATS in Kubernetes; use the service name".

Manifests (`audit_manifests`) or a live cluster (`audit_cluster`) in, an `AuditResult` out; `report` renders it,
`command` is the `audit` CLI command, and the exporter turns the same result into `config_*` metrics.
"""

from exporter.audit.cluster import audit_cluster
from exporter.audit.command import add_audit_arguments, run_audit
from exporter.audit.manifests import UnreadablePath, audit_manifests
from exporter.audit.model import (
    AuditOptions,
    AuditResult,
    Finding,
    InputError,
    InventoryEntry,
    ObjectRef,
    Origin,
    Rule,
    Severity,
    Source,
    Violations,
)
from exporter.audit.report import Format, render
from exporter.audit.rules import audit_objects

__all__ = [
    "AuditOptions",
    "AuditResult",
    "Finding",
    "Format",
    "InputError",
    "InventoryEntry",
    "ObjectRef",
    "Origin",
    "Rule",
    "Severity",
    "Source",
    "UnreadablePath",
    "Violations",
    "add_audit_arguments",
    "audit_cluster",
    "audit_manifests",
    "audit_objects",
    "render",
    "run_audit",
]
