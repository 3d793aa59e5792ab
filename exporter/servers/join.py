"""The join: which pod each connection belongs to, or why it belongs to none. A pure function of its inputs.

In order, for each connection:
1. Its client name equals a pod's `namespace/name`, or a pod's name (if several pods of that name exist in
   different namespaces, the one with the connection's address; otherwise the name is ambiguous and step 2 decides).
2. Its address is the IP of exactly the pods listed with that IP (not on the host network); of those, the newest
   that started no later than the connection. A pod IP whose pods all started after the connection was reused:
   the connection is a previous pod's (`before_pod_start`), never the new one's.
3. Otherwise it is unmatched: the address of a host-network pod is a node's (`host_network`); a loopback address
   (a sidecar proxy beside the server, e.g. Istio's 127.0.0.6) or an address with `shared_min` or more unmatched
   connections (SNAT, an egress gateway) is `shared_address`; anything else is `unknown_address` (outside the
   cluster, or a workload outside the selection).
A name match is also refused when the connection is older than the pod (a StatefulSet pod restarted under the same
name). A connection is attributed to at most one pod; a pod may have any number of connections.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from exporter.config.server_view import SHARED_MIN
from exporter.servers.model import Connection, ExpectedPod, JoinResult, PodKey, Unmatched, UnmatchedKind


@dataclass(slots=True)
class PodIndex:
    """The pods by the keys the join looks up; built once per poll, O(pods). Names and addresses held by one pod
    (the usual case) map to it directly; the rare ones held by several go to the `*_shared` lists."""

    qualified: dict[str, ExpectedPod] = field(default_factory=dict)
    by_name: dict[str, ExpectedPod] = field(default_factory=dict)
    names_shared: dict[str, list[ExpectedPod]] = field(default_factory=dict)
    by_ip: dict[str, ExpectedPod] = field(default_factory=dict)
    ips_shared: dict[str, list[ExpectedPod]] = field(default_factory=dict)
    host_ips: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, pods: Iterable[ExpectedPod]) -> PodIndex:
        index = cls()
        qualified, by_name, by_ip = index.qualified, index.by_name, index.by_ip
        for pod in pods:
            name, ip = pod.name, pod.ip
            qualified[pod.namespace + "/" + name] = pod
            other = by_name.setdefault(name, pod)
            if other is not pod:
                index.names_shared.setdefault(name, [other]).append(pod)
            if not ip:
                continue
            if pod.host_network:
                index.host_ips.add(ip)
                continue
            other = by_ip.setdefault(ip, pod)
            if other is not pod:
                index.ips_shared.setdefault(ip, [other]).append(pod)
        return index


def _by_name(index: PodIndex, connection: Connection) -> ExpectedPod | UnmatchedKind | None:
    name = connection.name
    if not name:
        return None
    pod = index.qualified.get(name)
    if pod is None:
        pod = index.by_name.get(name)
        if pod is None:
            return None
        shared = index.names_shared.get(name)
        if shared is not None:
            same_ip = [p for p in shared if p.ip == connection.ip and not p.host_network]
            if len(same_ip) != 1:
                return UnmatchedKind.AMBIGUOUS_NAME
            pod = same_ip[0]
    start = pod.start_time
    return pod if start is None or connection.start >= start else UnmatchedKind.BEFORE_POD_START


def _by_ip(index: PodIndex, connection: Connection) -> ExpectedPod | UnmatchedKind | None:
    ip = connection.ip
    if ip in index.host_ips:
        return UnmatchedKind.HOST_NETWORK
    pod = index.by_ip.get(ip)
    if pod is None:
        return None
    shared = index.ips_shared.get(ip)
    if shared is None:
        start = pod.start_time
        return pod if start is None or connection.start >= start else UnmatchedKind.BEFORE_POD_START
    eligible = [p for p in shared if p.start_time is None or connection.start >= p.start_time]
    if not eligible:
        return UnmatchedKind.BEFORE_POD_START
    return max(eligible, key=lambda p: (p.start_time or 0.0, p.namespace, p.name))  # ties: deterministic


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def attribute(
    connections: Sequence[Connection], index: PodIndex, *, shared_min: int = SHARED_MIN
) -> tuple[dict[PodKey, list[Connection]], list[Unmatched]]:
    """Each connection to one pod, or to the unmatched list with its kind."""
    matched: dict[PodKey, list[Connection]] = {}
    unmatched: list[Unmatched] = []
    strangers: list[Connection] = []
    for connection in connections:
        found = _by_name(index, connection)
        if found is None or found is UnmatchedKind.AMBIGUOUS_NAME:
            by_ip = _by_ip(index, connection)
            if by_ip is not None:
                found = by_ip
        if isinstance(found, ExpectedPod):
            matched.setdefault(found.key, []).append(connection)
        elif found is not None:
            unmatched.append(Unmatched(connection, found))
        else:
            strangers.append(connection)
    per_address = Counter(c.ip for c in strangers)
    for connection in strangers:
        shared = _is_loopback(connection.ip) or per_address[connection.ip] >= shared_min
        kind = UnmatchedKind.SHARED_ADDRESS if shared else UnmatchedKind.UNKNOWN_ADDRESS
        unmatched.append(Unmatched(connection, kind))
    return matched, unmatched


def join(
    pods: Sequence[ExpectedPod],
    connections: Sequence[Connection],
    closed: Sequence[Connection] = (),
    *,
    shared_min: int = SHARED_MIN,
) -> JoinResult:
    """Open and closed connections attributed to pods (closed ones only to report close reasons)."""
    index = PodIndex.build(pods)
    matched, unmatched = attribute(connections, index, shared_min=shared_min)
    closed_matched, _ = attribute(closed, index, shared_min=shared_min)
    return JoinResult(
        by_pod={key: tuple(found) for key, found in matched.items()},
        closed_by_pod={key: tuple(found) for key, found in closed_matched.items()},
        unmatched=tuple(unmatched),
    )
