"""The audit of a live cluster: list the objects that hold NATS URLs through the API, then run the same rules.

A resource the API refuses (RBAC 403, a timeout) becomes a note naming what is missing; the audit goes on with
what it could read. Only when nothing at all could be read does it fail (raising that `KubeError`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exporter.audit.model import DEFAULT_OPTIONS, AuditOptions, AuditResult
from exporter.audit.objects import ApiLocator, KubeObject, mapping, object_ref, sequence
from exporter.audit.rules import audit_objects
from exporter.kube.client import KubeApi, KubeError

PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class ClusterResource:
    kind: str
    group: str  # "" for the core group
    plural: str
    lost: str  # what the audit cannot check without it

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/v1" if self.group else "/api/v1"

    @property
    def list_path(self) -> str:
        return f"{self.prefix}/{self.plural}"

    def object_path(self, namespace: str, name: str) -> str:
        return f"{self.prefix}/namespaces/{namespace}/{self.plural}/{name}"


RESOURCES: tuple[ClusterResource, ...] = (
    ClusterResource("ConfigMap", "", "configmaps", "the NATS URLs in ConfigMaps were not audited"),
    ClusterResource("Service", "", "services", "unknown_service and short_name_cross_namespace were not checked"),
    ClusterResource("Deployment", "apps", "deployments", "Deployments were not audited"),
    ClusterResource("StatefulSet", "apps", "statefulsets", "StatefulSets were not audited"),
    ClusterResource("DaemonSet", "apps", "daemonsets", "DaemonSets were not audited"),
    ClusterResource("CronJob", "batch", "cronjobs", "CronJobs were not audited"),
)


async def audit_cluster(
    api: KubeApi, options: AuditOptions = DEFAULT_OPTIONS, namespaces: Sequence[str] = ()
) -> AuditResult:
    """Audit every namespace the credentials can list, or only `namespaces` (for per-namespace Roles).

    Raises `KubeError` only if no resource could be read.
    """
    # The first list alone: without working credentials every other one would fail the same way.
    first = await _list_scoped(api, RESOURCES[0], options, namespaces)
    if isinstance(first, KubeError) and first.code == "config":
        raise first
    rest = await asyncio.gather(*(_list_scoped(api, resource, options, namespaces) for resource in RESOURCES[1:]))
    outcomes = [first, *rest]
    objects: list[KubeObject] = []
    notes: list[str] = []
    failed: dict[str, KubeError] = {}
    for resource, outcome in zip(RESOURCES, outcomes, strict=True):
        if isinstance(outcome, KubeError):
            failed[resource.kind] = outcome
            notes.append(unreadable_note(resource, outcome))
        else:
            objects.extend(outcome)
    if len(failed) == len(RESOURCES):
        raise next(iter(failed.values()))
    return audit_objects(
        objects,
        options,
        services_known="Service" not in failed,
        configmaps_known="ConfigMap" not in failed,
        notes=notes,
    )


def unreadable_note(resource: ClusterResource, error: KubeError) -> str:
    group = f'API group "{resource.group}"' if resource.group else "the core API group"
    if error.code == "403":
        return (
            f"cannot list {resource.plural} (403 Forbidden): grant `list` on `{resource.plural}` in {group} "
            f"cluster-wide (a ClusterRole); {resource.lost}"
        )
    return f"could not list {resource.plural} ({error.code}: {error.message}); {resource.lost}"


async def _list_scoped(
    api: KubeApi, resource: ClusterResource, options: AuditOptions, namespaces: Sequence[str]
) -> list[KubeObject] | KubeError:
    """Cluster-wide, or namespace by namespace: the first namespace that cannot be read fails the resource."""
    if not namespaces:
        return await _list(api, resource, options, resource.list_path)
    objects: list[KubeObject] = []
    for namespace in namespaces:
        outcome = await _list(api, resource, options, f"{resource.prefix}/namespaces/{namespace}/{resource.plural}")
        if isinstance(outcome, KubeError):
            return outcome
        objects.extend(outcome)
    return objects


async def _list(
    api: KubeApi, resource: ClusterResource, options: AuditOptions, path: str
) -> list[KubeObject] | KubeError:
    objects: list[KubeObject] = []
    token = ""
    try:
        while True:
            query = [("limit", str(PAGE_SIZE)), *([("continue", token)] if token else [])]
            page = await api.get_json(f"list {resource.plural}", path, query)
            objects.extend(_objects(resource, sequence(page.get("items")), options))
            token = str(mapping(page.get("metadata")).get("continue") or "")
            if not token:
                return objects
    except KubeError as exc:
        return exc


def _objects(resource: ClusterResource, items: Sequence[Any], options: AuditOptions) -> list[KubeObject]:
    found = []
    for item in items:
        body = mapping(item)
        ref = object_ref(resource.kind, body, options.default_namespace)
        found.append(KubeObject(ref, body, ApiLocator(resource.object_path(ref.namespace, ref.name))))
    return found
