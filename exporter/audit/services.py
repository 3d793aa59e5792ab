"""Which Service a NATS host name means, as cluster DNS would answer it, and whether that Service exists.

A short name (`nats-server`) resolves only in the namespace of the Pod that looks it up; `svc.ns`, `svc.ns.svc`
and `svc.ns.svc.<cluster domain>` name their namespace; `pod.svc.ns.svc.<domain>` is one Pod of a headless Service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from exporter.audit.objects import KubeObject, mapping, sequence
from exporter.config.nats_url import HostKind, classify_host
from exporter.kube.names import ServiceName, service_name


@dataclass(frozen=True, slots=True, order=True)
class ServiceRef:
    name: str
    namespace: str

    def fqdn(self, cluster_domain: str) -> str:
        return f"{self.name}.{self.namespace}.svc.{cluster_domain}"

    def __str__(self) -> str:
        return f"{self.name}.{self.namespace}"


@dataclass(frozen=True, slots=True)
class ServiceIndex:
    """The Services the audit knows; `known` is False when it saw none (then existence cannot be judged)."""

    known: bool
    services: frozenset[ServiceRef]
    by_cluster_ip: Mapping[str, ServiceRef]

    @classmethod
    def from_objects(cls, objects: Iterable[KubeObject], *, known: bool | None = None) -> ServiceIndex:
        """`known=None`: known if any Service is among the objects (manifests); the cluster says it explicitly."""
        services: set[ServiceRef] = set()
        by_ip: dict[str, ServiceRef] = {}
        for obj in objects:
            if obj.ref.kind != "Service":
                continue
            ref = ServiceRef(obj.ref.name.lower(), obj.ref.namespace.lower())
            services.add(ref)
            spec = mapping(obj.body.get("spec"))
            for ip in (spec.get("clusterIP"), *sequence(spec.get("clusterIPs"))):
                if isinstance(ip, str) and classify_host(ip) is HostKind.IP:
                    by_ip.setdefault(ip, ref)
        return cls(bool(services) if known is None else known, frozenset(services), by_ip)

    def exists(self, ref: ServiceRef) -> bool:
        return ref in self.services

    def named(self, name: str) -> tuple[ServiceRef, ...]:
        return tuple(sorted(ref for ref in self.services if ref.name == name))


class Status(StrEnum):
    OK = "ok"  # the Service exists where the name resolves
    UNCHECKED = "unchecked"  # no Services known
    CROSS_NAMESPACE = "cross_namespace"  # a short name; the Service lives only in other namespaces
    UNKNOWN = "unknown"  # no such Service
    OUTSIDE = "outside"  # an IP address, or a name outside the cluster domain


@dataclass(frozen=True, slots=True)
class Resolution:
    meant: ServiceRef | None  # the Service the URL means; None for an IP or an outside name
    status: Status
    candidates: tuple[ServiceRef, ...] = ()  # Services of that name elsewhere, for the fix


def parse_service_host(host: str, cluster_domain: str) -> ServiceName | None:
    """The Service a host names (namespace None for a short name), or None for an IP or an outside name."""
    found = service_name(host, cluster_domain)
    if found is not None or classify_host(host) is HostKind.IP:
        return found
    labels = host.rstrip(".").lower().split(".")
    tail = ["svc", *cluster_domain.lower().split(".")]
    if (len(labels) == 4 and labels[3] == "svc") or labels[3:] == tail:
        return ServiceName(labels[1], labels[2])  # a Pod of a headless Service (a StatefulSet's nats-0)
    return None


def resolve(host: str, namespace: str, index: ServiceIndex, cluster_domain: str) -> Resolution:
    """What `host`, looked up from a Pod in `namespace`, reaches.

    A short name that exists only in one other namespace is taken to mean that Service (the author's intent),
    so it is reported once, as cross-namespace, and not again as an inconsistent or unknown service.
    """
    written = parse_service_host(host, cluster_domain)
    if written is None:
        return Resolution(None, Status.OUTSIDE)
    here = ServiceRef(written.name, written.namespace or namespace)
    if not index.known:
        return Resolution(here, Status.UNCHECKED)
    if index.exists(here):
        return Resolution(here, Status.OK)
    elsewhere = index.named(written.name)
    if written.namespace is None and elsewhere:
        return Resolution(elsewhere[0] if len(elsewhere) == 1 else here, Status.CROSS_NAMESPACE, elsewhere)
    return Resolution(here, Status.UNKNOWN, elsewhere)
