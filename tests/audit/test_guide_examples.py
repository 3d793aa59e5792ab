"""The guide's own examples, copied verbatim into corpus/guide/: the wrong one fails, the right ones pass."""

from __future__ import annotations

import pytest

from exporter.audit import AuditOptions, Origin, Rule
from exporter.config.nats_url import HostKind

from .support import CASES, CORPUS, GUIDE, audit, summary

NO_SERVICES_NOTE = "no Services in the input: unknown_service and short_name_cross_namespace were not checked"


def test_ip_address_configmap_is_flagged_at_its_line() -> None:
    result = audit(GUIDE / "configmap-ip-address.yaml")
    assert [summary(f) for f in result.findings] == [
        ("ip_address", "ConfigMap petrosa-apps/petrosa-common-config", "NATS_URL", "configmap-ip-address.yaml", 8)
    ]
    finding = result.findings[0]
    assert finding.url == "nats://192.168.194.253:4222"
    assert finding.namespace == "petrosa-apps"
    assert finding.source.field == "data.NATS_URL"
    # No Service and no other URL in the input to learn the name from: the fix says what to fill in.
    assert finding.fix == "use the Service name: nats://<service>.<namespace>.svc.cluster.local:4222"


@pytest.mark.parametrize("name", ["configmap-full-dns-name.yaml", "configmap-full-example.yaml"])
def test_full_dns_name_configmaps_pass(name: str) -> None:
    result = audit(GUIDE / name)
    assert result.ok
    [entry] = result.inventory
    assert (entry.key, entry.host_kind, entry.service) == ("NATS_URL", HostKind.FQDN, "nats-server.nats")


def test_short_name_configmap_passes_when_no_service_says_otherwise() -> None:
    """The guide calls `nats://nats-server:4222` acceptable: with no Services known, nothing contradicts it, and
    the report says which rules could not be checked."""
    result = audit(GUIDE / "configmap-short-name.yaml")
    assert result.ok
    [entry] = result.inventory
    assert (entry.host_kind, entry.service) == (HostKind.SHORT, "nats-server.petrosa-apps")
    assert any(note.startswith(NO_SERVICES_NOTE) for note in result.notes)


def test_short_name_configmap_passes_with_the_service_in_its_namespace() -> None:
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: nats-server\n  namespace: petrosa-apps\n"
    result = audit(GUIDE / "configmap-short-name.yaml", "-", stdin=service)
    assert result.ok
    assert result.services_known


def test_short_name_fails_once_the_service_is_known_to_live_elsewhere() -> None:
    service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: nats-server\n  namespace: nats\n"
    result = audit(GUIDE / "configmap-short-name.yaml", "-", stdin=service)
    assert [f.rule for f in result.findings] == [Rule.SHORT_NAME_CROSS_NAMESPACE]
    assert result.findings[0].fix == "use the full DNS name: nats://nats-server.nats.svc.cluster.local:4222"


def test_deployment_taking_nats_url_from_the_configmap_passes() -> None:
    result = audit(GUIDE / "deployment-configmap-ref.yaml")
    assert result.ok
    # The ConfigMap is not in the input (and the Deployment has no namespace): say so rather than guess.
    assert any("ConfigMap default/petrosa-common-config key NATS_URL is not in the input" in n for n in result.notes)


def test_guide_multi_document_file_resolves_the_reference() -> None:
    """ConfigMap + Deployment + NetworkPolicy in one file, applied with `kubectl apply -n petrosa-apps`."""
    result = audit(CORPUS / "guide-multi-document.yaml", options=AuditOptions(default_namespace="petrosa-apps"))
    assert result.ok
    assert result.objects == 3
    by_kind = {(e.kind, e.origin): e for e in result.inventory}
    configmap = by_kind[("ConfigMap", Origin.CONFIGMAP)]
    deployment = by_kind[("Deployment", Origin.CONFIGMAP_REF)]
    assert configmap.source.line == 8
    assert (deployment.container, deployment.key, deployment.service) == (
        "data-extractor",
        "NATS_URL",
        "nats-server.nats",
    )
    assert (deployment.source.line, deployment.source.field) == (
        30,
        "spec.template.spec.containers[0].env[1].valueFrom",
    )


def test_network_policy_holds_no_nats_url() -> None:
    result = audit(GUIDE / "networkpolicy-allow-nats.yaml")
    assert result.ok
    assert (result.objects, result.inventory) == (1, ())


def test_deployment_with_a_literal_url_is_hardcoded() -> None:
    result = audit(CASES / "deployment-hardcoded.yaml")
    assert [summary(f) for f in result.findings] == [
        ("hardcoded_in_workload", "Deployment petrosa-apps/order-service", "NATS_URL", "deployment-hardcoded.yaml", 13)
    ]
    finding = result.findings[0]
    assert finding.container == "app"
    assert "valueFrom.configMapKeyRef" in finding.fix


def test_the_whole_guide_as_a_directory() -> None:
    """Every example together: only the IP address is wrong, and its fix names the Service the others use."""
    result = audit(GUIDE)
    assert [summary(f) for f in result.findings] == [
        ("ip_address", "ConfigMap petrosa-apps/petrosa-common-config", "NATS_URL", "configmap-ip-address.yaml", 8)
    ]
    assert result.findings[0].fix == "use the Service name: nats://nats-server.nats.svc.cluster.local:4222"
    # The four ConfigMaps are alternatives of one object, not four applications: no inconsistent_service.
    assert result.objects == 6
    assert "1 YAML document has no kind (not a Kubernetes object) and was skipped" in result.notes
