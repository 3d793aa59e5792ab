"""How often an agent probes: scaled with the size of the cluster, and paused on a node that is NotReady or
cordoned (its failures would say more about the node's state than about NATS).

With `--agent.interval-per-node D`, a cluster of N nodes probes every max(interval, D·√N) from each node, the
scaling Gardener's network-problem-detector uses: the load on NATS grows with √N instead of N while each node is
still looked at. Reading Node objects is optional: an agent whose RBAC does not allow it probes at its interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.kube.client import KubeApi, KubeError
from exporter.runtime.waiting import wait_or_stop

log = logging.getLogger(__name__)

CHECK_EVERY = 60.0  # seconds between reads of the node and the node count
PAGE = 500


@dataclass(frozen=True, slots=True)
class Cadence:
    nodes: int | None = None  # the cluster's node count, None when it could not be read or is not needed
    paused: str | None = None  # why this node does not probe now: "not_ready" or "cordoned"

    def interval(self, base: float, per_node: float | None) -> float:
        """The probe interval on this node: the base, or D·√N when that is longer."""
        if per_node is None or not self.nodes:
            return base
        return max(base, per_node * math.sqrt(self.nodes))


def node_pause_reason(node: Mapping[str, Any]) -> str | None:
    """Why probes should pause on this node (cordoned, or its Ready condition not True), or None."""
    if (node.get("spec") or {}).get("unschedulable"):
        return "cordoned"
    conditions = (node.get("status") or {}).get("conditions") or ()
    ready = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") != "True":
        return "not_ready"
    return None


async def read_cadence(api: KubeApi, node: str, per_node: float | None) -> Cadence:
    """This node's state and, when scaling is asked for, the node count; what cannot be read is left out."""
    paused: str | None = None
    with contextlib.suppress(KubeError):  # no right to read it (counted and logged by the client): probe as usual
        paused = node_pause_reason(await api.get_json("get node", f"/api/v1/nodes/{node}"))
    nodes: int | None = None
    if per_node is not None:
        try:
            nodes = await _count_nodes(api)
        except KubeError:
            nodes = None
    return Cadence(nodes=nodes, paused=paused)


async def _count_nodes(api: KubeApi) -> int:
    """The number of nodes, without reading them all: one Node and the API server's `remainingItemCount`. Every
    agent asks once a minute, so reading every Node would load the API server with N agents x N nodes. Where the
    count is not given (an API server may leave it out), the rest is paged through."""
    count, token, limit = 0, "", 1
    while True:
        query = [("limit", str(limit))] + ([("continue", token)] if token else [])
        document = await api.get_json("list nodes", "/api/v1/nodes", query)
        metadata = document.get("metadata") or {}
        count += len(document.get("items") or ())
        remaining = metadata.get("remainingItemCount")
        if isinstance(remaining, int):
            return count + remaining
        token = str(metadata.get("continue") or "")
        if not token:
            return count
        limit = PAGE


async def cadence_forever(
    api: KubeApi,
    node: str,
    per_node: float | None,
    on_change: Callable[[Cadence], None],
    stopping: asyncio.Event,
    *,
    every: float | None = None,
) -> None:
    """Read the cadence every `every` seconds (default CHECK_EVERY) and report each change (the first reading too)."""
    current: Cadence | None = None
    while True:
        cadence = await read_cadence(api, node, per_node)
        if cadence != current:
            if current is None or cadence.paused != current.paused:
                fields = {"node": node, "reason": cadence.paused or "", "nodes": cadence.nodes}
                (log.warning if cadence.paused else log.info)(
                    "agent probing " + ("paused" if cadence.paused else "on"), extra=fields
                )
            current = cadence
            on_change(cadence)
        if await wait_or_stop(stopping, every or CHECK_EVERY):
            return
