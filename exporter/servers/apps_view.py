"""`/apps`: every listed application pod with its verdict and connections, as JSON-ready values (a view only)."""

from __future__ import annotations

from typing import Any

from exporter.servers.board import ServerViewBoard
from exporter.servers.model import Connection, UnmatchedKind
from exporter.servers.verdicts import PodVerdict, count


def _connection(connection: Connection) -> dict[str, Any]:
    return {
        "server": connection.server,
        "cid": connection.cid,
        "address": f"{connection.ip}:{connection.port}",
        "name": connection.name,
        "start": connection.start,
        "subscriptions": connection.subscriptions,
        "pending_bytes": connection.pending_bytes,
        "client": f"{connection.lang} {connection.version}".strip(),
    }


def _pod(result: PodVerdict) -> dict[str, Any]:
    pod = result.pod
    versions = sorted({f"{c.lang} {c.version}".strip() for c in result.connections})
    return {
        "namespace": pod.namespace,
        "pod": pod.name,
        "app": pod.app,
        "ip": pod.ip,
        "node": pod.node,
        "owner": pod.owner,
        "ready": pod.ready,
        "host_network": pod.host_network,
        "verdict": result.verdict.value if result.verdict is not None else None,
        "detail": result.detail,
        "servers": list(result.servers),
        "subscriptions": result.subscriptions,
        "pending_bytes_max": result.pending_bytes_max,
        "client_versions": versions,
        "connections": [_connection(c) for c in result.connections],
    }


def apps_document(board: ServerViewBoard) -> dict[str, Any]:
    """The whole `/apps` document; `view` says how complete the servers' answer was."""
    snapshot = board.snapshot
    if snapshot is None:
        return {"target": board.target, "view": None, "apps": [], "pods": [], "unmatched": {}}
    view = snapshot.view
    apps: dict[tuple[str, str], list[PodVerdict]] = {}
    for result in snapshot.pods:
        apps.setdefault((result.pod.namespace, result.pod.app), []).append(result)
    app_rows = []
    for (namespace, app), results in sorted(apps.items()):
        worst = board.tracker.worst((namespace, app))
        app_rows.append(
            {
                "namespace": namespace,
                "app": app,
                "expected": sum(1 for r in results if r.verdict is not None),
                "connected": sum(1 for r in results if r.verdict is not None and r.connections),
                "verdicts": {verdict.value: n for verdict, n in count(results).items()},
                "last_disruption_worst_pod": None
                if worst is None
                else {"pod": worst.pod, "seconds": round(worst.seconds, 3), "upper_bound": worst.bounded},
            }
        )
    unmatched: dict[str, int] = {kind.value: 0 for kind in UnmatchedKind}
    for item in snapshot.unmatched:
        unmatched[item.kind.value] += 1
    return {
        "target": snapshot.target,
        "view": {
            "source": view.source.value,
            "collected_at": view.collected_at,
            "ok": view.ok,
            "complete": view.complete,
            "servers_answered": view.answered,
            "servers_expected": view.expected_servers,
            "servers": [s.name for s in view.servers],
            "closed_connections_visible": view.closed_visible,
            "failure": view.failure.value if view.failure else None,
            "detail": view.detail,
        },
        "apps": app_rows,
        "pods": [_pod(r) for r in sorted(snapshot.pods, key=lambda r: (r.pod.namespace, r.pod.name))],
        "unmatched": unmatched,
    }
