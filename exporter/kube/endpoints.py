"""The pods behind a Service, from its EndpointSlices: each address with its readiness and pod name."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.config import Target
from exporter.kube.client import KubeApi, KubeError
from exporter.kube.names import service_name
from exporter.runtime.waiting import wait_or_stop


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    address: str
    ready: bool
    pod: str  # the targetRef's name, or the address when there is none


def parse_endpoint_slices(slices: Sequence[Mapping[str, Any]]) -> list[ServiceEndpoint]:
    """Every endpoint address once, ready or not (`conditions.ready` absent means ready, as the API documents)."""
    found: dict[str, ServiceEndpoint] = {}
    for item in slices:
        for endpoint in item.get("endpoints") or ():
            if not isinstance(endpoint, dict):
                continue
            ready = (endpoint.get("conditions") or {}).get("ready") is not False
            pod = str((endpoint.get("targetRef") or {}).get("name") or "")
            for address in endpoint.get("addresses") or ():
                found.setdefault(str(address), ServiceEndpoint(str(address), ready, pod or str(address)))
    return list(found.values())


async def service_endpoints(api: KubeApi, namespace: str, service: str) -> list[ServiceEndpoint]:
    """The endpoints of one Service (raises KubeError when they cannot be read)."""
    path = f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
    document = await api.get_json(
        "list endpointslices", path, [("labelSelector", f"kubernetes.io/service-name={service}")]
    )
    return parse_endpoint_slices([item for item in document.get("items") or () if isinstance(item, dict)])


class ServiceEndpointCache:
    """The endpoints of a target's NATS Service, refreshed every interval: what the servers' view reads to know
    how many servers should answer and where their monitoring ports are."""

    def __init__(self, api: KubeApi, target: Target, default_namespace: str, cluster_domain: str) -> None:
        self._api = api
        self._service = service_name(target.servers[0].host, cluster_domain)
        self._namespace = default_namespace
        self.latest: list[ServiceEndpoint] = []
        self._refreshed_at = -math.inf  # monotonic time of the last successful read

    async def refresh(self) -> None:
        service = self._service
        if service is None:
            return  # an IP address or a name outside the cluster: no Service to read
        # A failure is counted and logged by the client; the last known endpoints stay.
        with contextlib.suppress(KubeError):
            self.latest = await service_endpoints(self._api, service.namespace or self._namespace, service.name)
            self._refreshed_at = time.monotonic()

    async def current(self, max_age: float) -> list[ServiceEndpoint]:
        """The endpoints, read again only when the last reading is older than `max_age`: the features that need
        them (the servers' view, the cluster probes) share one reading."""
        if time.monotonic() - self._refreshed_at > max_age:
            await self.refresh()
        return self.latest

    async def refresh_forever(self, interval: float, stopping: asyncio.Event) -> None:
        while True:
            await self.refresh()
            if await wait_or_stop(stopping, interval):
                return
