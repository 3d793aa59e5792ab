"""Discovery documents (the non-aggregated form, which every client falls back to)."""

from __future__ import annotations

import hashlib
from typing import Any

from .resources import RESOURCES, ResourceType, groups

Obj = dict[str, Any]

# kubectl's dispatcher (the Cloud SDK build installed here) picks its kubectl by the server's minor version.
VERSION: Obj = {
    "major": "1",
    "minor": "32",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "31",
    "gitVersion": "v1.32.4",
    "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server_address: str) -> Obj:
    """GET /api."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> Obj:
    """GET /apis."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in groups().items()],
    }


def api_group(name: str) -> Obj | None:
    """GET /apis/<group>."""
    versions = groups().get(name)
    if versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entries(resource: ResourceType) -> list[Obj]:
    main: Obj = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
        "storageVersionHash": hashlib.sha256(resource.group_resource.encode()).hexdigest()[:11],
    }
    if resource.short_names:
        main["shortNames"] = list(resource.short_names)
    if resource.categories:
        main["categories"] = list(resource.categories)
    subs = [
        {
            "name": f"{resource.plural}/{sub}",
            "singularName": "",
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": list(verbs),
        }
        for sub, verbs in resource.subresources
    ]
    return [main, *subs]


def api_resource_list(group: str, version: str) -> Obj | None:
    """GET /api/v1 or /apis/<group>/<version>."""
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": served[0].api_version,
        "resources": [entry for r in served for entry in _entries(r)],
    }
