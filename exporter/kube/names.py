"""Kubernetes Service names in NATS URLs: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<cluster domain>`."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.config.diagnostics import DEFAULT_CLUSTER_DOMAIN
from exporter.config.nats_url import HostKind, classify_host


@dataclass(frozen=True, slots=True)
class ServiceName:
    name: str
    namespace: str | None  # None: a short name, resolved in the namespace of whoever looks it up

    def fqdn(self, namespace: str, cluster_domain: str = DEFAULT_CLUSTER_DOMAIN) -> str:
        return f"{self.name}.{self.namespace or namespace}.svc.{cluster_domain}"


def service_name(host: str, cluster_domain: str = DEFAULT_CLUSTER_DOMAIN) -> ServiceName | None:
    """The Service a host names, or None for an IP address or a name outside the cluster."""
    if classify_host(host) is HostKind.IP:
        return None
    labels = host.rstrip(".").lower().split(".")
    suffix = ["svc", *cluster_domain.lower().split(".")]
    if len(labels) == 1:
        return ServiceName(labels[0], None)
    if len(labels) == 2:
        return ServiceName(labels[0], labels[1])
    if len(labels) == 3 and labels[2] == "svc":
        return ServiceName(labels[0], labels[1])
    if labels[2:] == suffix:
        return ServiceName(labels[0], labels[1])
    return None
