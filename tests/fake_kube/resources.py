"""The resource types the fake serves: one table drives storage, routing, discovery and field selectors."""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One REST resource, e.g. `pods` in group "" version v1."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Fields a fieldSelector may use besides metadata.name/metadata.namespace (the server rejects any other).
    extra_fields: tuple[str, ...] = ()
    # Subresources and their verbs, e.g. (("log", ("get",)),).
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    verbs: tuple[str, ...] = VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def fields(self) -> tuple[str, ...]:
        return _COMMON_FIELDS + self.extra_fields

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)

EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        short_names=("po",),
        categories=("all",),
        extra_fields=POD_FIELDS,
        subresources=(("log", ("get",)), ("status", ("get",))),
    ),
    ResourceType("", "v1", "Service", "services", short_names=("svc",), categories=("all",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    ResourceType("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    ResourceType("", "v1", "Secret", "secrets", extra_fields=("type",)),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    ResourceType("", "v1", "Event", "events", short_names=("ev",), extra_fields=EVENT_FIELDS),
    ResourceType(
        "", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",), extra_fields=("status.phase",)
    ),
    ResourceType(
        "", "v1", "Node", "nodes", namespaced=False, short_names=("no",), extra_fields=("spec.unschedulable",)
    ),
    ResourceType("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",)),
    ResourceType("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=("all",)),
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=("all",)),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        extra_fields=("status.replicas",),
    ),
    ResourceType("batch", "v1", "Job", "jobs", categories=("all",), extra_fields=("status.successful",)),
    ResourceType("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=("all",)),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # Not stored: answered from the deny rules, so `kubectl auth can-i` and RBAC self-checks work.
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=("create",),
    ),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",)),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}

POD = _BY_PATH[("", "v1", "pods")]
ACCESS_REVIEW = _BY_PATH[("authorization.k8s.io", "v1", "selfsubjectaccessreviews")]
NAMESPACE = _BY_PATH[("", "v1", "namespaces")]


def by_path(group: str, version: str, plural: str) -> ResourceType | None:
    """The type a URL names, or None (the server then answers 404 like for any unknown path)."""
    return _BY_PATH.get((group, version, plural))


def by_kind(api_version: str, kind: str) -> ResourceType | None:
    """The type of an object given as a dict (apiVersion + kind), for the control API's `add_object`."""
    return _BY_KIND.get((api_version, kind))


def groups() -> dict[str, list[str]]:
    """API group name -> versions, in registration order (for /apis)."""
    result: dict[str, list[str]] = {}
    for r in RESOURCES:
        if r.group and r.version not in result.setdefault(r.group, []):
            result[r.group].append(r.version)
    return result
