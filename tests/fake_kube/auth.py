"""Authentication (one bearer token, rotatable) and authorization (deny rules tests switch on and off)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from .errors import forbidden, unauthorized
from .request_info import RequestInfo


@dataclass(frozen=True, slots=True)
class DenyRule:
    """Deny `verb` ("*" = any) on `resource` (e.g. "pods/log"; "*" = any) in `namespace` (None = everywhere)."""

    resource: str
    verb: str = "*"
    namespace: str | None = None

    def matches(self, info: RequestInfo) -> bool:
        return (
            self.resource in ("*", info.full_resource)
            and self.verb in ("*", info.verb)
            and self.namespace in (None, info.namespace)
        )


class Policy:
    def __init__(self, token: str, user: str) -> None:
        self.token = token
        self.user = user
        self.rules: set[DenyRule] = set()

    def authenticate(self, authorization: str | None) -> None:
        """401 without a token or with any token but the current one (so an old token stops working at once)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), self.token.encode()):
            raise unauthorized()

    def authorize(self, info: RequestInfo) -> None:
        if info.is_resource_request and any(rule.matches(info) for rule in self.rules):
            raise forbidden(self.user, info.verb, info.group, info.full_resource, info.name, info.namespace)


def review_access(policy: Policy, review: dict[str, Any]) -> dict[str, Any]:
    """Answer a SelfSubjectAccessReview from the deny rules: everything is allowed unless forbidden."""
    attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
    info = RequestInfo(
        path="",
        verb=attrs.get("verb", ""),
        is_resource_request=True,
        group=attrs.get("group", ""),
        namespace=attrs.get("namespace", ""),
        resource=attrs.get("resource", ""),
        subresource=attrs.get("subresource", ""),
        name=attrs.get("name", ""),
    )
    denied = any(rule.matches(info) for rule in policy.rules) if attrs else False
    status: dict[str, Any] = {"allowed": not denied}  # as RBAC answers: no reason, no explicit `denied`
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": review.get("spec") or {},
        "status": status,
    }
