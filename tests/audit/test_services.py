"""Host names as cluster DNS reads them, and what they reach from a given namespace."""

from __future__ import annotations

import pytest

from exporter.audit.model import ObjectRef
from exporter.audit.objects import ApiLocator, KubeObject
from exporter.audit.services import ServiceIndex, ServiceRef, Status, parse_service_host, resolve


@pytest.mark.parametrize(
    ("host", "domain", "expected"),
    [
        ("nats-server", "cluster.local", ("nats-server", None)),
        ("nats-server.nats", "cluster.local", ("nats-server", "nats")),
        ("nats-server.nats.svc", "cluster.local", ("nats-server", "nats")),
        ("nats-server.nats.svc.cluster.local", "cluster.local", ("nats-server", "nats")),
        ("NATS-Server.NATS.svc.cluster.local.", "cluster.local", ("nats-server", "nats")),
        ("nats-server.nats.svc.corp.internal", "corp.internal", ("nats-server", "nats")),
        ("nats-0.nats.nats.svc.cluster.local", "cluster.local", ("nats", "nats")),
        ("nats-0.nats.nats.svc", "cluster.local", ("nats", "nats")),
        ("nats-server.nats.svc.cluster.local", "corp.internal", None),
        ("demo.nats.io", "cluster.local", None),
        ("192.168.194.253", "cluster.local", None),
        ("fd00::1", "cluster.local", None),
    ],
)
def test_parse_service_host(host: str, domain: str, expected: tuple[str, str | None] | None) -> None:
    found = parse_service_host(host, domain)
    assert (None if found is None else (found.name, found.namespace)) == expected


def _index(*services: tuple[str, str]) -> ServiceIndex:
    objects = [
        KubeObject(ObjectRef("Service", namespace, name), {}, ApiLocator(f"/{namespace}/{name}"))
        for name, namespace in services
    ]
    return ServiceIndex.from_objects(objects)


@pytest.mark.parametrize(
    ("host", "namespace", "status", "meant"),
    [
        ("nats-server", "nats", Status.OK, ServiceRef("nats-server", "nats")),
        ("nats-server.nats.svc.cluster.local", "apps", Status.OK, ServiceRef("nats-server", "nats")),
        ("nats-server", "apps", Status.CROSS_NAMESPACE, ServiceRef("nats-server", "nats")),
        ("nats", "apps", Status.UNKNOWN, ServiceRef("nats", "apps")),
        ("nats-server.other", "apps", Status.UNKNOWN, ServiceRef("nats-server", "other")),
        ("10.0.0.1", "apps", Status.OUTSIDE, None),
        ("demo.nats.io", "apps", Status.OUTSIDE, None),
    ],
)
def test_resolve_with_known_services(host: str, namespace: str, status: Status, meant: ServiceRef | None) -> None:
    resolution = resolve(host, namespace, _index(("nats-server", "nats")), "cluster.local")
    assert (resolution.status, resolution.meant) == (status, meant)


def test_a_short_name_in_several_other_namespaces_names_no_single_service() -> None:
    resolution = resolve("nats", "apps", _index(("nats", "a"), ("nats", "b")), "cluster.local")
    assert resolution.status is Status.CROSS_NAMESPACE
    assert resolution.candidates == (ServiceRef("nats", "a"), ServiceRef("nats", "b"))
    assert resolution.meant == ServiceRef("nats", "apps")


def test_without_services_a_short_name_resolves_in_its_own_namespace_unchecked() -> None:
    resolution = resolve("nats-server", "petrosa-apps", _index(), "cluster.local")
    assert (resolution.status, resolution.meant) == (Status.UNCHECKED, ServiceRef("nats-server", "petrosa-apps"))
