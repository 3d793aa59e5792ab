"""The audit's results: values the reports and the metrics render as they are, never recomputing a verdict.

Every string in these types is safe to show: URLs are redacted (`nats://user:***@host:4222`) before they get here.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from exporter.config.diagnostics import DEFAULT_CLUSTER_DOMAIN
from exporter.config.nats_url import HostKind

# The guide's variable is NATS_URL; NATS_SERVER_URL, nats-url and friends mean the same.
DEFAULT_KEY_PATTERN = re.compile(r"^(?=.*nats)(?=.*url)", re.IGNORECASE)
DEFAULT_NAMESPACE = "default"


class Rule(StrEnum):
    """The `rule` label of `config_violations`: fixed names, dashboards and alerts depend on them."""

    IP_ADDRESS = "ip_address"
    HARDCODED_IN_WORKLOAD = "hardcoded_in_workload"
    SHORT_NAME_CROSS_NAMESPACE = "short_name_cross_namespace"
    INCONSISTENT_SERVICE = "inconsistent_service"
    UNKNOWN_SERVICE = "unknown_service"
    INVALID_URL = "invalid_url"

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self in _WARNINGS else Severity.ERROR


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


_WARNINGS = frozenset({Rule.HARDCODED_IN_WORKLOAD, Rule.INCONSISTENT_SERVICE})


class Origin(StrEnum):
    """How an object holds a NATS URL: only `configmap` and `env_value` are where a URL is written (and fixed)."""

    CONFIGMAP = "configmap"  # a ConfigMap's data value
    ENV_VALUE = "env_value"  # a literal `value:` in a container's env
    CONFIGMAP_REF = "configmap_ref"  # env `valueFrom.configMapKeyRef` or `envFrom.configMapRef`, resolved


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What the audit looks for: which ConfigMap keys and env vars hold NATS URLs, and the cluster's DNS domain."""

    key_pattern: re.Pattern[str] = DEFAULT_KEY_PATTERN
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    default_namespace: str = DEFAULT_NAMESPACE  # for manifests without metadata.namespace, as `kubectl apply`


DEFAULT_OPTIONS = AuditOptions()


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value is written: a file and 1-based line, or (live cluster) the object's API path, no line."""

    path: str
    line: int | None
    field: str  # e.g. `data.NATS_URL`, `spec.template.spec.containers[0].env[1].value`

    @property
    def in_file(self) -> bool:
        return self.line is not None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else f"{self.path} {self.field}"


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation of the guide, with the sentence that fixes it."""

    rule: Rule
    namespace: str
    object: ObjectRef
    container: str  # "" for a ConfigMap
    key: str  # the ConfigMap key or the env var name
    url: str  # redacted: the server this finding is about (or the whole list for a list-wide finding)
    source: Source
    message: str
    fix: str

    @property
    def severity(self) -> Severity:
        return self.rule.severity


@dataclass(frozen=True, slots=True)
class InventoryEntry:
    """One server of one NATS URL as an object uses it: the `config_url_info` metric."""

    namespace: str
    kind: str
    name: str
    container: str
    key: str
    origin: Origin
    host_kind: HostKind | None  # None: the URL does not parse
    service: str  # `name.namespace` of the Service it means; "" for an IP, an outside name or an invalid URL
    url: str  # redacted
    source: Source


@dataclass(frozen=True, slots=True)
class InputError:
    """Input the audit could not read (bad YAML, invalid UTF-8, an unreadable file in a directory)."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True, slots=True)
class Violations:
    """The `config_violations{namespace,rule}` gauge: how many findings of `rule` in `namespace`."""

    namespace: str
    rule: Rule
    count: int


@dataclass(frozen=True, slots=True)
class AuditResult:
    findings: tuple[Finding, ...]
    inventory: tuple[InventoryEntry, ...]
    violations: tuple[Violations, ...]
    errors: tuple[InputError, ...]
    notes: tuple[str, ...]
    objects: int  # Kubernetes objects read
    services_known: bool  # False: unknown_service and short_name_cross_namespace could not be checked

    @property
    def ok(self) -> bool:
        """Nothing to fix and nothing unread: what makes a CI job pass."""
        return not self.findings and not self.errors

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def count_violations(findings: tuple[Finding, ...]) -> tuple[Violations, ...]:
    counts = Counter((finding.namespace, finding.rule) for finding in findings)
    return tuple(Violations(ns, rule, n) for (ns, rule), n in sorted(counts.items()))
