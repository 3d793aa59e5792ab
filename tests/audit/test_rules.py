"""Each rule of the guide's checklist on the corpus: what is found, where, and the fix it proposes."""

from __future__ import annotations

import re

from exporter.audit import AuditOptions, Origin, Rule, Severity, Violations
from exporter.config.nats_url import HostKind

from .support import CASES, audit, summary


def test_short_name_used_from_another_namespace() -> None:
    result = audit(CASES / "cross-namespace.yaml")
    cross = result.findings[0]
    assert summary(cross) == (
        "short_name_cross_namespace",
        "ConfigMap petrosa-apps/petrosa-common-config",
        "NATS_URL",
        "cross-namespace.yaml",
        18,
    )
    assert cross.severity is Severity.ERROR
    assert cross.message == (
        "the short name nats-server resolves only inside namespace petrosa-apps; Service nats-server is in nats"
    )
    assert cross.fix == "use the full DNS name: nats://nats-server.nats.svc.cluster.local:4222"
    # The same short name inside the Service's own namespace (nats-box-config) is fine.
    assert [f.object.name for f in result.findings] == ["petrosa-common-config", "legacy-config"]


def test_ip_address_that_is_a_service_cluster_ip_names_that_service() -> None:
    result = audit(CASES / "cross-namespace.yaml")
    ip = result.findings[1]
    assert ip.rule is Rule.IP_ADDRESS
    assert ip.message.endswith("(10.96.0.42 is the ClusterIP of Service nats-server.nats)")
    assert ip.fix == "use the Service name: nats://nats-server.nats.svc.cluster.local:4222"


def test_inconsistent_service_in_one_namespace() -> None:
    result = audit(CASES / "inconsistent.yaml")
    assert [summary(f) for f in result.findings] == [
        ("inconsistent_service", "ConfigMap shop/legacy-config", "NATS_URL", "inconsistent.yaml", 23)
    ]
    finding = result.findings[0]
    assert finding.severity is Severity.WARNING
    assert finding.message == (
        "NATS_URL means Service nats.messaging while shop mostly uses nats-server.nats (2 of 3 objects)"
    )
    assert (
        finding.fix == "use the same Service as the other applications: nats://nats-server.nats.svc.cluster.local:4222"
    )


def test_short_name_and_full_name_of_the_same_service_are_consistent() -> None:
    """In namespace nats, `nats-server` and `nats-server.nats.svc.cluster.local` are one Service."""
    result = audit(CASES / "inconsistent.yaml")
    services = {(e.key, e.service) for e in result.inventory if e.namespace == "nats"}
    assert services == {("NATS_URL", "nats-server.nats"), ("NATS_FALLBACK_URL", "nats-server.nats")}
    assert not [f for f in result.findings if f.namespace == "nats"]


def test_definitions_of_one_object_never_disagree_with_each_other() -> None:
    """Overlays (dev, prod) define the same ConfigMap with different values: not two applications."""
    dev = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\ndata: {NATS_URL: nats://nats.dev}\n"
    prod = dev.replace("nats.dev", "nats.prod")
    result = audit("-", stdin=f"{dev}---\n{prod}")
    assert result.ok


def test_unknown_service_fixes_point_at_existing_services() -> None:
    result = audit(CASES / "unknown-service.yaml")
    assert [(f.rule, f.key, f.source.line) for f in result.findings] == [
        (Rule.UNKNOWN_SERVICE, "NATS_URL", 16),
        (Rule.UNKNOWN_SERVICE, "NATS_BACKUP_URL", 17),
    ]
    wrong_name, wrong_namespace = result.findings
    assert wrong_name.message == "there is no Service nats in namespace nats"
    assert wrong_name.fix == "use an existing NATS Service, e.g. nats://nats-server.nats.svc.cluster.local:4222"
    assert wrong_namespace.fix == "use the existing Service: nats://nats-server.nats.svc.cluster.local:4222"
    assert any(note.startswith("only the Services in the input (1) are known") for note in result.notes)


def test_an_unknown_service_is_not_also_an_inconsistent_one() -> None:
    text = (CASES / "unknown-service.yaml").read_text()
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: petrosa-apps}\n"
    result = audit("-", stdin=f"{text}---\n{other}data: {{NATS_URL: 'nats://nats-server.nats:4222'}}\n")
    assert {f.rule for f in result.findings} == {Rule.UNKNOWN_SERVICE}


def test_unknown_service_is_not_checked_without_services() -> None:
    text = (CASES / "unknown-service.yaml").read_text().split("---\n", 1)[1]
    result = audit("-", stdin=text)
    assert result.ok
    assert not result.services_known


def test_workload_kinds_containers_and_init_containers() -> None:
    result = audit(CASES / "workload-kinds.yaml")
    assert [(f.rule, str(f.object), f.container, f.key, f.source.line) for f in result.findings] == [
        (Rule.IP_ADDRESS, "CronJob reports/nightly-report", "wait-for-nats", "NATS_URL", 16),
        (Rule.HARDCODED_IN_WORKLOAD, "CronJob reports/nightly-report", "wait-for-nats", "NATS_URL", 16),
        (Rule.IP_ADDRESS, "Pod reports/debug", "shell", "BROKER", 34),
        (Rule.HARDCODED_IN_WORKLOAD, "Pod reports/debug", "shell", "BROKER", 34),
    ]
    assert result.findings[0].source.field == ("spec.jobTemplate.spec.template.spec.initContainers[0].env[0].value")
    assert result.findings[2].url == "nats://[fd00::1]:4222"
    # The hard-coded ones are told which ConfigMap key to use instead.
    assert (
        result.findings[1].fix
        == "take it from the ConfigMap: valueFrom.configMapKeyRef {name: reports-config, key: NATS_URL}"
    )


def test_references_to_configmaps_are_inventoried_not_judged() -> None:
    result = audit(CASES / "workload-kinds.yaml")
    refs = {
        (e.kind, e.container, e.key, e.service, e.source.line)
        for e in result.inventory
        if e.origin is Origin.CONFIGMAP_REF
    }
    assert refs == {
        ("CronJob", "report", "APP_NATS_URL", "nats-server.nats", 20),  # envFrom with a prefix
        ("StatefulSet", "archiver", "NATS_URL", "nats-server.nats", 48),  # valueFrom.configMapKeyRef
    }


def test_inventory_has_one_entry_per_server_of_a_list() -> None:
    result = audit(CASES / "credentials.yaml")
    worker = [(e.host_kind, e.service, e.url) for e in result.inventory if e.name == "worker"]
    assert worker == [
        (HostKind.IP, "", "nats://admin:***@10.0.0.7:4222"),
        (HostKind.FQDN, "nats-server.nats", "nats://admin:***@nats-server.nats.svc.cluster.local:4222"),
    ]


def test_invalid_url_is_reported_without_its_text() -> None:
    result = audit(CASES / "credentials.yaml")
    [invalid] = [f for f in result.findings if f.rule is Rule.INVALID_URL]
    assert (invalid.key, invalid.url, invalid.source.line) == ("NATS_BAD_URL", "<invalid URL>", 9)
    assert "a bad port" in invalid.message  # what is wrong, never the text itself (it may hold a password)


def test_templated_values_are_noted_not_judged() -> None:
    text = """\
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: x}
spec:
  containers:
  - name: app
    env:
    - {name: NATS_URL, value: "nats://$(NATS_HOST):4222"}
"""
    result = audit("-", stdin=text)
    assert result.ok
    assert "Pod x/p container app env NATS_URL: not audited, the value is a template or uses variable expansion" in (
        result.notes
    )


def test_key_pattern_chooses_which_keys_hold_urls() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata:\n  BROKER: 10.0.0.1:4222\n"
    assert audit("-", stdin=text).ok
    options = AuditOptions(key_pattern=re.compile("^broker$", re.IGNORECASE))
    assert [f.rule for f in audit("-", stdin=text, options=options).findings] == [Rule.IP_ADDRESS]


def test_violations_count_findings_per_namespace_and_rule() -> None:
    result = audit(CASES / "workload-kinds.yaml", CASES / "list.yaml")
    assert result.violations == (
        Violations("petrosa-apps", Rule.HARDCODED_IN_WORKLOAD, 1),
        Violations("petrosa-apps", Rule.IP_ADDRESS, 2),
        Violations("reports", Rule.HARDCODED_IN_WORKLOAD, 2),
        Violations("reports", Rule.IP_ADDRESS, 2),
    )
