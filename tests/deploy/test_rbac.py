"""RBAC: the exact verbs and resources each feature combination is granted, namespaced and cluster-wide.

The expected permissions are written out here by hand (from what the code calls), not read from the chart's own
table, so the chart cannot drift from them unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from exporter.audit.cluster import RESOURCES as AUDITED_RESOURCES
from tests.deploy.support import NAMESPACE, RELEASE, Obj, of_kind, render, workload

Permission = tuple[str, str, str]  # API group, resource, verb

LOGS: frozenset[Permission] = frozenset(
    {("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"), ("", "pods/log", "get")}
)
DIAGNOSTICS: frozenset[Permission] = frozenset(
    {
        ("", "services", "get"),
        ("discovery.k8s.io", "endpointslices", "list"),
        ("", "pods", "list"),
        ("networking.k8s.io", "networkpolicies", "list"),
        ("", "namespaces", "get"),
    }
)
AUDIT: frozenset[Permission] = frozenset(
    {
        ("", "configmaps", "list"),
        ("", "services", "list"),
        ("apps", "deployments", "list"),
        ("apps", "statefulsets", "list"),
        ("apps", "daemonsets", "list"),
        ("batch", "cronjobs", "list"),
    }
)
NONE: frozenset[Permission] = frozenset()
ACCOUNT = f"{RELEASE}-nats-connectivity-exporter"
CLUSTER = "<cluster>"


def features(*, logs: bool = False, diagnostics: bool = False, audit: bool = False, **config: Any) -> dict[str, Any]:
    """Values with the named features on; `config` goes into config.logs (e.g. namespaces)."""
    logs_config = {"selector": "app", **config} if logs or config else {}
    return {"rbac": {"logs": logs, "diagnostics": diagnostics, "audit": audit}, "config": {"logs": logs_config}}


def merged(*values: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for value in values:
        for key, item in value.items():
            result[key] = merged(result[key], item) if isinstance(item, Mapping) and key in result else item
    return result


# name -> (values, {namespace or CLUSTER: exact permissions})
CASES: dict[str, tuple[dict[str, Any], dict[str, frozenset[Permission]]]] = {
    "none": (features(), {}),
    "logs only, all namespaces": (features(logs=True), {CLUSTER: LOGS}),
    "logs only, two namespaces": (
        features(logs=True, namespaces=["petrosa-apps", "jobs"]),
        {"petrosa-apps": LOGS, "jobs": LOGS},
    ),
    "logs toggle without a selector": (
        merged(features(logs=True), {"config": {"logs": {"selector": None}}}),
        {},
    ),
    "diagnostics only, cluster-wide": (features(diagnostics=True), {CLUSTER: DIAGNOSTICS}),
    "diagnostics only, namespaced": (
        merged(features(diagnostics=True), {"rbac": {"namespaces": ["petrosa-apps"]}}),
        {"petrosa-apps": DIAGNOSTICS, "nats": DIAGNOSTICS},
    ),
    "audit only, cluster-wide": (features(audit=True), {CLUSTER: AUDIT}),
    "audit only, namespaced": (
        merged(features(audit=True), {"rbac": {"namespaces": ["petrosa-apps"]}}),
        {"petrosa-apps": AUDIT, "nats": AUDIT},  # the audit must see the NATS Service
    ),
    "all, cluster-wide": (
        features(logs=True, diagnostics=True, audit=True),
        {CLUSTER: LOGS | DIAGNOSTICS | AUDIT},
    ),
    "all, namespaced": (
        features(logs=True, diagnostics=True, audit=True, namespaces=["petrosa-apps", "jobs"]),
        {"petrosa-apps": LOGS | DIAGNOSTICS | AUDIT, "jobs": LOGS | DIAGNOSTICS | AUDIT, "nats": DIAGNOSTICS | AUDIT},
    ),
    "all, NATS beside the applications": (
        merged(
            features(logs=True, diagnostics=True, audit=True, namespaces=["petrosa-apps"]),
            {"rbac": {"natsNamespaces": ["petrosa-apps"]}},
        ),
        {"petrosa-apps": LOGS | DIAGNOSTICS | AUDIT},
    ),
    "all, watched namespaces but clusterWide": (
        merged(features(logs=True, diagnostics=True, audit=True, namespaces=["a"]), {"rbac": {"clusterWide": True}}),
        {CLUSTER: LOGS | DIAGNOSTICS | AUDIT},
    ),
    "logs and diagnostics, namespaced": (
        features(logs=True, diagnostics=True, namespaces=["petrosa-apps"]),
        {"petrosa-apps": LOGS | DIAGNOSTICS, "nats": DIAGNOSTICS},
    ),
    "diagnostics and audit (the defaults)": ({}, {CLUSTER: DIAGNOSTICS | AUDIT}),
}


def granted(objects: list[Obj]) -> dict[str, frozenset[Permission]]:
    """Scope -> permissions, from the rendered Roles/ClusterRoles; checks each is bound to the exporter alone."""
    result: dict[str, frozenset[Permission]] = {}
    bindings = {(obj["metadata"].get("namespace", CLUSTER), obj["roleRef"]["name"]): obj for obj in objects
                if obj["kind"] in ("RoleBinding", "ClusterRoleBinding")}  # fmt: skip
    for role in of_kind(objects, "ClusterRole") + of_kind(objects, "Role"):
        scope = role["metadata"].get("namespace", CLUSTER)
        assert scope not in result, f"two roles in {scope}"
        permissions: set[Permission] = set()
        for rule in role["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no resourceNames, no wildcards
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert "*" not in (group, resource, verb)
                        assert (group, resource, verb) not in permissions, f"{verb} {resource} granted twice"
                        permissions.add((group, resource, verb))
        result[scope] = frozenset(permissions)
        binding = bindings.pop((scope, role["metadata"]["name"]))
        assert binding["kind"] == ("ClusterRoleBinding" if scope == CLUSTER else "RoleBinding")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role["kind"],
            "name": role["metadata"]["name"],
        }
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}]
    assert not bindings, f"bindings without a role: {list(bindings)}"
    return result


@pytest.mark.parametrize("name", list(CASES))
def test_each_feature_combination_gets_exactly_its_permissions(name: str) -> None:
    values, expected = CASES[name]
    objects = render(values)
    assert granted(objects) == expected
    pod = workload(objects)["spec"]["template"]["spec"]
    account = next(obj for obj in objects if obj["kind"] == "ServiceAccount")
    # The token is mounted exactly when some feature uses the API.
    assert pod["automountServiceAccountToken"] is account["automountServiceAccountToken"] is bool(expected)


def test_rules_are_one_per_resource_in_a_stable_order() -> None:
    role = of_kind(render(CASES["all, cluster-wide"][0]), "ClusterRole")[0]
    assert [(rule["apiGroups"], rule["resources"]) for rule in role["rules"]] == [
        ([""], ["configmaps"]),
        ([""], ["namespaces"]),
        ([""], ["pods"]),
        ([""], ["pods/log"]),
        ([""], ["services"]),
        (["apps"], ["daemonsets"]),
        (["apps"], ["deployments"]),
        (["apps"], ["statefulsets"]),
        (["batch"], ["cronjobs"]),
        (["discovery.k8s.io"], ["endpointslices"]),
        (["networking.k8s.io"], ["networkpolicies"]),
    ]
    assert role["rules"][2]["verbs"] == ["get", "list", "watch"]
    assert role["rules"][4]["verbs"] == ["get", "list"]


def test_rbac_create_false_leaves_rbac_to_the_user_but_still_mounts_the_token() -> None:
    objects = render({"rbac": {"create": False}})
    assert granted(objects) == {}
    assert workload(objects)["spec"]["template"]["spec"]["automountServiceAccountToken"] is True


def test_the_audit_rules_are_what_the_cluster_audit_lists() -> None:
    """exporter/audit/cluster.py lists these resources; the chart grants `list` on exactly them."""
    assert {(resource.group, resource.plural, "list") for resource in AUDITED_RESOURCES} == AUDIT
