"""Every NATS URL the objects hold: ConfigMap data, and the env of every container of every Pod template.

A URL is a ConfigMap key or env var whose name matches the key pattern (default: names with both NATS and URL),
or any value that starts with `nats://`. Env references to ConfigMaps (`configMapKeyRef`, `envFrom`) are resolved
against the ConfigMaps of the same namespace in the same input, as the kubelet resolves them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exporter.audit.model import AuditOptions, ObjectRef, Origin, Source
from exporter.audit.objects import FieldPath, KubeObject, mapping, sequence

# Where each workload kind keeps its Pod spec.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("initContainers", "containers")
TEMPLATE_MARKERS = ("$(", "${", "{{")  # env expansion, shell and Helm templates: the URL is not known yet


@dataclass(frozen=True, slots=True)
class UrlReference:
    """One place an object uses a NATS URL. `raw` may hold credentials: it is parsed, never shown."""

    obj: ObjectRef
    container: str  # "" for a ConfigMap
    key: str
    origin: Origin
    source: Source  # where the object says it (for a resolved reference: the env entry, not the ConfigMap)
    raw: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Collected:
    references: tuple[UrlReference, ...]
    notes: tuple[str, ...]
    # namespace -> (ConfigMap, key) pairs holding a NATS URL: what a hard-coded env var should refer to instead.
    configmap_keys: Mapping[str, tuple[tuple[str, str], ...]]


def collect(objects: Sequence[KubeObject], options: AuditOptions, *, configmaps_known: bool = True) -> Collected:
    """`configmaps_known=False` (the cluster refused to list them): unresolved references are not worth a note."""
    configmaps = {(o.ref.namespace, o.ref.name): o for o in objects if o.ref.kind == "ConfigMap"}
    references: list[UrlReference] = []
    notes: list[str] = []
    for obj in objects:
        if obj.ref.kind == "ConfigMap":
            references.extend(_configmap(obj, options, notes))
        elif obj.ref.kind in POD_SPEC_PATHS:
            references.extend(_workload(obj, options, configmaps, notes, configmaps_known))
    keys: dict[str, list[tuple[str, str]]] = {}
    for ref in references:
        if ref.origin is Origin.CONFIGMAP:
            keys.setdefault(ref.obj.namespace, []).append((ref.obj.name, ref.key))
    return Collected(tuple(references), tuple(notes), {ns: tuple(pairs) for ns, pairs in keys.items()})


def is_nats_url(key: str, value: object, options: AuditOptions) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    return bool(options.key_pattern.search(key)) or value.strip().lower().startswith("nats://")


def _templated(value: str, where: str, notes: list[str]) -> bool:
    if any(marker in value for marker in TEMPLATE_MARKERS):
        notes.append(f"{where}: not audited, the value is a template or uses variable expansion")
        return True
    return False


def _configmap(obj: KubeObject, options: AuditOptions, notes: list[str]) -> Iterator[UrlReference]:
    for key, value in mapping(obj.body.get("data")).items():
        key = str(key)
        if is_nats_url(key, value, options) and not _templated(value, f"{obj.ref} key {key}", notes):
            yield UrlReference(obj.ref, "", key, Origin.CONFIGMAP, obj.source(("data", key)), value)


def _workload(
    obj: KubeObject,
    options: AuditOptions,
    configmaps: Mapping[tuple[str, str], KubeObject],
    notes: list[str],
    configmaps_known: bool,
) -> Iterator[UrlReference]:
    spec_path = POD_SPEC_PATHS[obj.ref.kind]
    spec: Any = obj.body
    for part in spec_path:
        spec = mapping(spec).get(part)
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(sequence(mapping(spec).get(list_name))):
            path: FieldPath = (*spec_path, list_name, index)
            name = mapping(container).get("name")
            label = name if isinstance(name, str) else f"{list_name}[{index}]"
            env = _ContainerEnv(obj, path, mapping(container), label, options)
            yield from env.literals(notes)
            yield from env.key_refs(configmaps, notes, configmaps_known)
            yield from env.env_from(configmaps)


@dataclass(frozen=True, slots=True)
class _ContainerEnv:
    """One container's env and envFrom; `path` is the container's place in the object, for lines."""

    obj: KubeObject
    path: FieldPath
    body: Mapping[str, Any]
    container: str
    options: AuditOptions

    def _where(self, var: str) -> str:
        return f"{self.obj.ref} container {self.container} env {var}"

    def literals(self, notes: list[str]) -> Iterator[UrlReference]:
        for index, entry in enumerate(sequence(self.body.get("env"))):
            var, value = mapping(entry).get("name"), mapping(entry).get("value")
            if not isinstance(var, str) or not isinstance(value, str) or not is_nats_url(var, value, self.options):
                continue
            if not _templated(value, self._where(var), notes):
                source = self.obj.source((*self.path, "env", index, "value"))
                yield UrlReference(self.obj.ref, self.container, var, Origin.ENV_VALUE, source, value)

    def key_refs(
        self, configmaps: Mapping[tuple[str, str], KubeObject], notes: list[str], configmaps_known: bool
    ) -> Iterator[UrlReference]:
        for index, entry in enumerate(sequence(self.body.get("env"))):
            var = mapping(entry).get("name")
            ref = mapping(mapping(mapping(entry).get("valueFrom")).get("configMapKeyRef"))
            cm_name, cm_key = ref.get("name"), ref.get("key")
            if not (isinstance(var, str) and isinstance(cm_name, str) and isinstance(cm_key, str)):
                continue
            target = configmaps.get((self.obj.ref.namespace, cm_name))
            value = mapping(target.body.get("data")).get(cm_key) if target is not None else None
            pattern = self.options.key_pattern
            if value is None:
                if configmaps_known and not ref.get("optional") and (pattern.search(var) or pattern.search(cm_key)):
                    notes.append(
                        f"{self._where(var)}: ConfigMap {self.obj.ref.namespace}/{cm_name} key {cm_key} is not in "
                        "the input; its URL was not audited here"
                    )
                continue
            if any(marker in str(value) for marker in TEMPLATE_MARKERS):
                continue  # noted where the ConfigMap is audited
            if is_nats_url(var, value, self.options) or is_nats_url(cm_key, value, self.options):
                source = self.obj.source((*self.path, "env", index, "valueFrom"))
                yield UrlReference(self.obj.ref, self.container, var, Origin.CONFIGMAP_REF, source, str(value))

    def env_from(self, configmaps: Mapping[tuple[str, str], KubeObject]) -> Iterator[UrlReference]:
        for index, entry in enumerate(sequence(self.body.get("envFrom"))):
            cm_name = mapping(mapping(entry).get("configMapRef")).get("name")
            prefix = mapping(entry).get("prefix")
            target = configmaps.get((self.obj.ref.namespace, cm_name)) if isinstance(cm_name, str) else None
            if target is None:
                continue
            for key, value in mapping(target.body.get("data")).items():
                var = f"{prefix if isinstance(prefix, str) else ''}{key}"
                if is_nats_url(var, value, self.options):
                    source = self.obj.source((*self.path, "envFrom", index))
                    yield UrlReference(self.obj.ref, self.container, var, Origin.CONFIGMAP_REF, source, str(value))
