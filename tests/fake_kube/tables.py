"""Server-side printing: the `Table` that kubectl asks for and prints as is (columns as kube-apiserver has them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .resources import ResourceType
from .timeutil import human_duration, now_ns, parse_rfc3339

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority (1 = only with -o wide)
Printer = tuple[tuple[Column, ...], Callable[[Obj], list[Any]]]
NONE = "<none>"


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    try:
        return human_duration((now_ns() - parse_rfc3339(timestamp)) / 1e9)
    except ValueError:
        return "<invalid>"


def format_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector."""
    if not selector:
        return NONE
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": f"{key}"}.get(op, f"!{key}")
        )
    return ",".join(parts) or NONE


def _pod(pod: Obj) -> list[Any]:
    spec, status, meta = pod.get("spec", {}), pod.get("status", {}), pod["metadata"]
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    reason = status.get("reason") or status.get("phase") or "Unknown"
    restarts, last_restart = 0, ""
    for s in statuses:
        restarts += s.get("restartCount", 0)
        finished = (s.get("lastState") or {}).get("terminated", {}).get("finishedAt", "")
        last_restart = max(last_restart, finished)
        state = s.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode', 0)}"
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    restart_text = f"{restarts} ({_age(last_restart)} ago)" if restarts and last_restart else str(restarts)
    return [
        meta["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restart_text,
        _age(meta.get("creationTimestamp")),
        status.get("podIP") or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        NONE,
    ]


def _ports(ports: Iterable[Obj]) -> str:
    out = []
    for p in ports:
        text = f"{p.get('port')}:{p['nodePort']}" if p.get("nodePort") else str(p.get("port"))
        out.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or NONE


def _service(svc: Obj) -> list[Any]:
    spec = svc.get("spec", {})
    ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or ",".join(
        spec.get("externalIPs") or []
    )
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else NONE
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items())) or NONE
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or NONE,
        external,
        _ports(spec.get("ports") or []),
        _age(svc["metadata"].get("creationTimestamp")),
        selector,
    ]


def _endpoint_slice(eps: Obj) -> list[Any]:
    ports = ",".join(str(p["port"]) for p in eps.get("ports") or [] if p.get("port") is not None) or "<unset>"
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [
        eps["metadata"]["name"],
        eps.get("addressType", ""),
        ports,
        shown or "<unset>",
        _age(eps["metadata"].get("creationTimestamp")),
    ]


def _deployment(dep: Obj) -> list[Any]:
    spec, status = dep.get("spec", {}), dep.get("status", {})
    containers = (spec.get("template", {}).get("spec") or {}).get("containers") or []
    return [
        dep["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(dep["metadata"].get("creationTimestamp")),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        format_selector(spec.get("selector")),
    ]


_AGE: Column = ("Age", "string", 0)
_NAME: Column = ("Name", "string", 0)

PRINTERS: dict[str, Printer] = {
    "pods": (
        (
            _NAME,
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            _AGE,
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ),
        _pod,
    ),
    "services": (
        (
            _NAME,
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            _AGE,
            ("Selector", "string", 1),
        ),
        _service,
    ),
    "configmaps": (
        (_NAME, ("Data", "integer", 0), _AGE),
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    "endpointslices": (
        (_NAME, ("AddressType", "string", 0), ("Ports", "string", 0), ("Endpoints", "string", 0), _AGE),
        _endpoint_slice,
    ),
    "deployments": (
        (
            _NAME,
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            _AGE,
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ),
        _deployment,
    ),
    "networkpolicies": (
        (_NAME, ("Pod-Selector", "string", 0), _AGE),
        lambda o: [
            o["metadata"]["name"],
            format_selector(o.get("spec", {}).get("podSelector")),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
    "namespaces": (
        (_NAME, ("Status", "string", 0), _AGE),
        lambda o: [
            o["metadata"]["name"],
            o.get("status", {}).get("phase", "Active"),
            _age(o["metadata"].get("creationTimestamp")),
        ],
    ),
}

_DEFAULT: Printer = ((_NAME, _AGE), lambda o: [o["metadata"]["name"], _age(o["metadata"].get("creationTimestamp"))])


def wants_table(accept: str) -> str | None:
    """The Table apiVersion the client asked for in Accept (`as=Table;g=meta.k8s.io;v=v1`), or None."""
    for media in accept.split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return f"meta.k8s.io/{params.get('v', 'v1')}"
    return None


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def to_table(
    resource: ResourceType, items: Iterable[Obj], *, api_version: str, list_meta: Obj, include_object: str = "Metadata"
) -> Obj:
    """A Table of `items`; `includeObject` as the server takes it (None, Metadata by default, Object)."""
    columns, printer = PRINTERS.get(resource.plural, _DEFAULT)
    rows = []
    for obj in items:
        row: Obj = {"cells": printer(obj)}
        embedded = _row_object(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": prio,
            }
            for name, kind, prio in columns
        ],
        "rows": rows,
    }
