"""What a request is about, parsed from its path the way the API server's RequestInfoFactory does.

The result drives routing, authorization (forbid rules match verb + resource) and the request log tests assert on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    path: str
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection; or the HTTP method
    is_resource_request: bool = False
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def full_resource(self) -> str:
        """`pods/log`-style, as RBAC names subresources."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _truthy(value: str | None) -> bool:
    return value in ("1", "t", "T", "true", "TRUE", "True")


def resolve(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    parts = [p for p in path.strip("/").split("/") if p]
    fallback = RequestInfo(path=path, verb=method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return fallback
    if parts[0] == "api":
        if len(parts) < 2:
            return fallback
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return fallback
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return fallback
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )
    if rest[0] == "watch":  # the deprecated /api/v1/watch/... form
        verb, rest = "watch", rest[1:]
        if not rest:
            return fallback
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if verb == "get" and not name:
        verb = "watch" if _truthy(query.get("watch")) else "list"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(
        path=path,
        verb=verb,
        is_resource_request=True,
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
    )
