"""A Kubernetes object as the audit sees it: its body, its identity, and how to say where a field of it is written.

Manifests and the live cluster both produce `KubeObject`s; only the `Locator` differs (file:line or API path), so
the rules never care where an object came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from exporter.audit.model import ObjectRef, Source

FieldPath = tuple[str | int, ...]  # mapping keys as str, sequence indices as int


class Locator(Protocol):
    def source(self, path: FieldPath) -> Source: ...


@dataclass(frozen=True, slots=True)
class KubeObject:
    ref: ObjectRef
    body: Mapping[str, Any]
    locator: Locator

    def source(self, path: FieldPath) -> Source:
        return self.locator.source(path)


@dataclass(frozen=True, slots=True)
class FileLocator:
    """Lines of one YAML document; `base` is the object's path inside it (`items[3]` of a `kind: List`)."""

    path: str
    lines: Mapping[FieldPath, int]
    base: FieldPath = ()

    def source(self, path: FieldPath) -> Source:
        full = self.base + path
        # A value reached through a merge key or an alias has no line of its own: use its nearest written parent.
        for end in range(len(full), -1, -1):
            line = self.lines.get(full[:end])
            if line is not None:
                return Source(self.path, line, field_name(path))
        return Source(self.path, 1, field_name(path))


@dataclass(frozen=True, slots=True)
class ApiLocator:
    """An object read from the API server: it has no lines, its API path says where it is."""

    api_path: str

    def source(self, path: FieldPath) -> Source:
        return Source(self.api_path, None, field_name(path))


def field_name(path: FieldPath) -> str:
    """`spec.template.spec.containers[0].env[1].value`, as kubectl and the API's error messages write it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def mapping(value: object) -> Mapping[str, Any]:
    """`value` if it is a mapping, else empty: malformed objects are skipped where they go wrong, never fatal."""
    return value if isinstance(value, Mapping) else {}


def sequence(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def object_ref(kind: str, body: Any, default_namespace: str) -> ObjectRef:
    """Kind, namespace (the default one when the manifest leaves it to `kubectl apply`) and name."""
    metadata = mapping(mapping(body).get("metadata"))
    namespace = metadata.get("namespace")
    name = metadata.get("name") or metadata.get("generateName")
    return ObjectRef(
        kind,
        namespace if isinstance(namespace, str) and namespace else default_namespace,
        name if isinstance(name, str) else "<unnamed>",
    )
