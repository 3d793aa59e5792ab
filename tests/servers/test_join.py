"""The join: each connection to at most one pod, never to a pod younger than it, strangers named for what they are."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.servers.join import join
from exporter.servers.model import Connection, ExpectedPod, UnmatchedKind


def pod(name: str, ip: str, start: float = 100.0, *, namespace: str = "shop", host: bool = False) -> ExpectedPod:
    return ExpectedPod(namespace, name, "orders", ip, start, host_network=host)


def conn(cid: int, ip: str, start: float = 200.0, name: str = "") -> Connection:
    return Connection("nats-0", "S1", cid, ip, 40000 + cid, start, name=name, subscriptions=1)


def kinds(result: object) -> dict[int, UnmatchedKind]:
    return {u.connection.cid: u.kind for u in result.unmatched}  # type: ignore[attr-defined]


def test_by_address_several_connections_per_pod() -> None:
    result = join(
        [pod("a", "10.0.0.1"), pod("b", "10.0.0.2")], [conn(1, "10.0.0.1"), conn(2, "10.0.0.1"), conn(3, "10.0.0.2")]
    )
    assert [c.cid for c in result.by_pod[("shop", "a")]] == [1, 2]
    assert [c.cid for c in result.by_pod[("shop", "b")]] == [3]
    assert result.unmatched == ()


def test_client_name_wins_over_address() -> None:
    pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2")]
    result = join(pods, [conn(1, "10.0.0.1", name="b"), conn(2, "10.9.9.9", name="shop/a")])
    assert [c.cid for c in result.by_pod[("shop", "b")]] == [1]
    assert [c.cid for c in result.by_pod[("shop", "a")]] == [2]


def test_ambiguous_name_is_decided_by_address_or_reported() -> None:
    pods = [pod("web-0", "10.0.0.1", namespace="a"), pod("web-0", "10.0.0.2", namespace="b")]
    result = join(pods, [conn(1, "10.0.0.2", name="web-0"), conn(2, "10.7.7.7", name="web-0")])
    assert [c.cid for c in result.by_pod[("b", "web-0")]] == [1]
    assert kinds(result) == {2: UnmatchedKind.AMBIGUOUS_NAME}


def test_ip_reuse_never_gives_an_older_connection_to_the_new_pod() -> None:
    result = join(
        [pod("new", "10.0.0.1", start=500.0)], [conn(1, "10.0.0.1", start=400.0), conn(2, "10.0.0.1", start=600.0)]
    )
    assert [c.cid for c in result.by_pod[("shop", "new")]] == [2]
    assert kinds(result) == {1: UnmatchedKind.BEFORE_POD_START}


def test_a_restarted_statefulset_pod_does_not_inherit_its_predecessors_connection_by_name() -> None:
    result = join([pod("db-0", "10.0.0.5", start=500.0)], [conn(1, "10.0.0.9", start=400.0, name="db-0")])
    assert kinds(result) == {1: UnmatchedKind.BEFORE_POD_START}


def test_host_network_addresses_are_not_attributed_by_address() -> None:
    pods = [pod("agent", "192.168.1.10", host=True)]
    result = join(pods, [conn(1, "192.168.1.10"), conn(2, "192.168.1.10", name="agent")])
    assert kinds(result) == {1: UnmatchedKind.HOST_NETWORK}
    assert [c.cid for c in result.by_pod[("shop", "agent")]] == [2]  # by name it is fine


def test_sidecar_snat_and_outsiders() -> None:
    pods = [pod("a", "10.0.0.1")]
    connections = [conn(1, "127.0.0.6"), conn(2, "127.0.0.6", name="a")]  # a server-side sidecar; one named
    connections += [conn(10 + i, "172.16.0.1") for i in range(3)]  # SNAT: three from one gateway
    connections += [conn(20, "203.0.113.7")]  # one from outside
    result = join(pods, connections)
    assert [c.cid for c in result.by_pod[("shop", "a")]] == [2]
    assert kinds(result) == {
        1: UnmatchedKind.SHARED_ADDRESS,
        10: UnmatchedKind.SHARED_ADDRESS,
        11: UnmatchedKind.SHARED_ADDRESS,
        12: UnmatchedKind.SHARED_ADDRESS,
        20: UnmatchedKind.UNKNOWN_ADDRESS,
    }


def test_two_pods_listed_with_one_address_the_newest_that_precedes_the_connection() -> None:
    pods = [pod("old", "10.0.0.1", start=100.0), pod("new", "10.0.0.1", start=300.0)]
    result = join(pods, [conn(1, "10.0.0.1", start=200.0), conn(2, "10.0.0.1", start=400.0)])
    assert [c.cid for c in result.by_pod[("shop", "old")]] == [1]
    assert [c.cid for c in result.by_pod[("shop", "new")]] == [2]


IPS = [f"10.0.0.{i}" for i in range(1, 6)]
NAMES = ["a", "b", "c", "shop/a", "other/b", ""]

pods_strategy = st.lists(
    st.builds(
        ExpectedPod,
        namespace=st.sampled_from(["shop", "other"]),
        name=st.sampled_from(["a", "b", "c"]),
        app=st.just("orders"),
        ip=st.sampled_from(IPS),
        start_time=st.one_of(st.none(), st.integers(0, 100).map(float)),
        host_network=st.booleans(),
    ),
    max_size=8,
    unique_by=lambda p: (p.namespace, p.name),
)
connections_strategy = st.lists(
    st.builds(
        Connection,
        server=st.just("nats-0"),
        server_id=st.just("S1"),
        cid=st.integers(0, 10**6),
        ip=st.sampled_from([*IPS, "127.0.0.6", "203.0.113.1"]),
        port=st.just(4222),
        start=st.integers(0, 100).map(float),
        name=st.sampled_from(NAMES),
    ),
    max_size=20,
    unique_by=lambda c: c.cid,
)


@settings(max_examples=300, deadline=None)
@given(pods_strategy, connections_strategy)
def test_each_connection_is_in_exactly_one_place_and_never_with_a_younger_pod(
    pods: list[ExpectedPod], connections: list[Connection]
) -> None:
    result = join(pods, connections)
    by_key = {p.key: p for p in pods}
    placed = [c.cid for found in result.by_pod.values() for c in found] + [u.connection.cid for u in result.unmatched]
    assert sorted(placed) == sorted(c.cid for c in connections)  # none lost, none twice
    for key, found in result.by_pod.items():
        owner = by_key[key]
        for connection in found:
            assert owner.start_time is None or connection.start >= owner.start_time  # IP reuse never matches
            by_name = connection.name in (owner.name, f"{owner.namespace}/{owner.name}")
            assert by_name or (connection.ip == owner.ip and not owner.host_network)  # only for a reason


@settings(max_examples=200, deadline=None)
@given(pods_strategy, connections_strategy, st.randoms())
def test_the_owner_of_a_connection_does_not_depend_on_the_order(
    pods: list[ExpectedPod], connections: list[Connection], rng: random.Random
) -> None:
    def owners(result: object) -> dict[int, tuple[str, str]]:
        return {c.cid: key for key, found in result.by_pod.items() for c in found}  # type: ignore[attr-defined]

    shuffled_pods, shuffled = list(pods), list(connections)
    rng.shuffle(shuffled_pods)
    rng.shuffle(shuffled)
    assert owners(join(pods, connections)) == owners(join(shuffled_pods, shuffled))
