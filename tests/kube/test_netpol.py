"""NetworkPolicy semantics, case by case: does Kubernetes let the applications reach NATS, and DNS?

Each case is one rule of https://kubernetes.io/docs/concepts/services-networking/network-policies/, allowed and
denied, asserted on what the `network_policy` check reports: the verdict, the policies named, the explanation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from exporter.kube.netpol import DEFAULT_DNS, EGRESS, INGRESS, PodRef, Verdict, check_dns_egress, check_traffic
from tests.guide import guide_example

Policy = dict[str, Any]

APP = PodRef("petrosa-apps", {"app": "binance-data-extractor"}, ip="10.1.0.7")
NATS = PodRef(
    "nats", {"app": "nats", "tier": "messaging"}, ip="10.2.0.5", ports={"client": 4222, "monitor": 8222}, name="nats-0"
)
# A pod whose port named `client` is UDP: a name resolves only with its protocol.
NATS_CLIENT_UDP = PodRef(
    "nats", {"app": "nats"}, ip="10.2.0.5", ports={"client": 4222}, protocols={"client": "UDP"}, name="nats-0"
)
# As a fresh cluster has them: neither namespace carries a `name` label, only the automatic metadata.name one.
NAMESPACES: dict[str, dict[str, str]] = {"petrosa-apps": {"team": "trading"}, "nats": {}}

# The "Network Policies" example of nats-kubernetes-best-practices.md, verbatim.
GUIDE_POLICY: Policy = guide_example("networkpolicy-allow-nats")


def policy(name: str, namespace: str = "petrosa-apps", selector: Policy | None = None, **spec: Any) -> Policy:
    """A NetworkPolicy as the API returns it; `spec` keys use the API's names (policyTypes, egress, ingress)."""
    body = {"podSelector": {} if selector is None else selector, **spec}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def egress(*peers: Policy, ports: list[Policy] | None = None, name: str = "allow-nats") -> Policy:
    """An Egress policy for the application pod with one rule: `to` the peers, on `ports` (TCP 4222 by default)."""
    rule = {"to": list(peers), "ports": [{"protocol": "TCP", "port": 4222}] if ports is None else ports}
    return policy(
        name, selector={"matchLabels": {"app": "binance-data-extractor"}}, policyTypes=["Egress"], egress=[rule]
    )


def ns(name: str) -> Policy:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def expr(key: str, operator: str, *values: str) -> Policy:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


DENY_EGRESS = policy("default-deny-egress", policyTypes=["Egress"])
DENY_INGRESS = policy("default-deny-ingress", "nats", policyTypes=["Ingress"])
FROM_APPS = policy(
    "allow-apps",
    "nats",
    {"matchLabels": {"app": "nats"}},
    policyTypes=["Ingress"],
    ingress=[{"from": [ns("petrosa-apps")], "ports": [{"port": "client"}]}],
)


@dataclass(frozen=True)
class Case:
    policies: list[Policy]
    allowed: bool
    isolated: bool
    words: tuple[str, ...] = ()
    allowed_by: str | None = None
    selecting: tuple[str, ...] | None = None  # None: allowed_by, or nothing when not isolated
    direction: str = EGRESS
    port: int | str = 4222
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: NAMESPACES)
    nats: PodRef = NATS


def case(id: str, *policies: Policy, **expected: Any) -> Any:
    return pytest.param(Case(list(policies), **expected), id=id)


TRAFFIC = [
    # isolation
    case("no-policies", allowed=True, isolated=False, words=("no NetworkPolicy selects the application pod",)),
    case(
        "default-deny-egress",
        DENY_EGRESS,
        allowed=False,
        isolated=True,
        selecting=("petrosa-apps/default-deny-egress",),
        words=("is blocked", "has no egress rules, so it denies all egress", "nats/nats-0 on TCP 4222"),
    ),
    case(
        "default-deny-egress-empty-list",
        policy("deny", policyTypes=["Egress"], egress=[]),
        allowed=False,
        isolated=True,
        selecting=("petrosa-apps/deny",),
    ),
    case(
        "policy-selecting-other-pods-only",
        policy("deny-others", selector={"matchLabels": {"app": "other"}}, policyTypes=["Egress"]),
        allowed=True,
        isolated=False,
    ),
    case(
        "ingress-only-policy-does-not-isolate-egress",
        policy("ingress-only", policyTypes=["Ingress"]),
        allowed=True,
        isolated=False,
    ),
    case(
        "policy-types-absent-with-egress-isolates-egress",
        policy("implicit", egress=[{"to": [ns("other")]}]),
        allowed=False,
        isolated=True,
        selecting=("petrosa-apps/implicit",),
        words=("does not match namespace nats",),
    ),
    case(
        "policy-types-absent-with-empty-egress-is-ingress-only",
        policy("implicit", egress=[]),
        allowed=True,
        isolated=False,
    ),
    case(
        "rules-are-additive-across-policies",
        DENY_EGRESS,
        egress(ns("nats")),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
        selecting=("petrosa-apps/default-deny-egress", "petrosa-apps/allow-nats"),
    ),
    # the guide's own policy
    case(
        "guide-policy-needs-a-name-label-on-the-nats-namespace",
        GUIDE_POLICY,
        allowed=False,
        isolated=True,
        selecting=("petrosa-apps/allow-nats",),
        words=(
            "namespaceSelector {name=nats} does not match namespace nats {kubernetes.io/metadata.name=nats}",
            "egress rule to namespaceSelector {kubernetes.io/metadata.name=nats} on TCP 4222",
        ),
    ),
    case(
        "guide-policy-with-name-label-allows",
        GUIDE_POLICY,
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
        namespaces={"nats": {"name": "nats"}},
        words=("is allowed by petrosa-apps/allow-nats",),
    ),
    # peers
    case(
        "namespace-selector-metadata-name",
        egress(ns("nats")),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
    ),
    case(
        "namespace-selector-other-namespace",
        egress(ns("nats-prod")),
        allowed=False,
        isolated=True,
        words=("{kubernetes.io/metadata.name=nats-prod}",),
    ),
    case(
        "empty-namespace-selector-is-every-namespace",
        egress({"namespaceSelector": {}}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
    ),
    case(
        "pod-selector-alone-means-the-policys-namespace",
        egress({"podSelector": {"matchLabels": {"app": "nats"}}}),
        allowed=False,
        isolated=True,
        words=("only selects pods in namespace petrosa-apps, not nats",),
    ),
    case(
        "pod-and-namespace-selector-in-one-peer-both-match",
        egress({**ns("nats"), "podSelector": {"matchLabels": {"app": "nats"}}}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
    ),
    case(
        "pod-and-namespace-selector-in-one-peer-is-and",
        egress({**ns("nats"), "podSelector": {"matchLabels": {"app": "other"}}}),
        allowed=False,
        isolated=True,
        words=("podSelector {app=other} does not match pod nats/nats-0",),
    ),
    case(
        "two-separate-peers-are-or",
        egress(ns("nats"), {"podSelector": {"matchLabels": {"app": "other"}}}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
    ),
    case(
        "ip-block-contains-pod-ip",
        egress({"ipBlock": {"cidr": "10.2.0.0/16"}}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
    ),
    case(
        "ip-block-except-contains-pod-ip",
        egress({"ipBlock": {"cidr": "10.2.0.0/16", "except": ["10.2.0.0/24"]}}),
        allowed=False,
        isolated=True,
        words=("pod IP 10.2.0.5 is in the except 10.2.0.0/24 of ipBlock 10.2.0.0/16",),
    ),
    case(
        "ip-block-unknown-pod-ip",
        egress({"ipBlock": {"cidr": "0.0.0.0/0"}}),
        allowed=False,
        isolated=True,
        nats=PodRef("nats", {"app": "nats"}, name="nats-0"),
        words=("the pod's IP is unknown",),
    ),
    case(
        "malformed-cidr-matches-nothing",
        egress({"ipBlock": {"cidr": "10.2.0.0/33"}}),
        allowed=False,
        isolated=True,
        words=("malformed ipBlock", "'10.2.0.0/33'"),
    ),
    case(
        "malformed-cidr-beside-a-good-peer",
        egress({"ipBlock": {"cidr": "not-a-cidr"}}, ns("nats")),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-nats",
    ),
    case("empty-to-list-is-every-peer", egress(), allowed=True, isolated=True, allowed_by="petrosa-apps/allow-nats"),
    case(
        "empty-rule-allows-everything",
        policy("allow-all", policyTypes=["Egress"], egress=[{}]),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-all",
    ),
    # label selector expressions
    case(
        "match-expressions-in",
        egress({"namespaceSelector": expr("kubernetes.io/metadata.name", "In", "nats", "nats-prod")}),
        allowed=True,
        isolated=True,
    ),
    case(
        "match-expressions-notin",
        egress({**ns("nats"), "podSelector": expr("app", "NotIn", "nats")}),
        allowed=False,
        isolated=True,
        words=("podSelector {app notin (nats)}",),
    ),
    case(
        "match-expressions-notin-missing-label-matches",
        egress({**ns("nats"), "podSelector": expr("zone", "NotIn", "a")}),
        allowed=True,
        isolated=True,
    ),
    case(
        "match-expressions-exists",
        egress({**ns("nats"), "podSelector": expr("tier", "Exists")}),
        allowed=True,
        isolated=True,
    ),
    case(
        "match-expressions-does-not-exist",
        egress({**ns("nats"), "podSelector": expr("tier", "DoesNotExist")}),
        allowed=False,
        isolated=True,
        words=("podSelector {!tier}",),
    ),
    case(
        "match-labels-and-expressions-are-and",
        egress({**ns("nats"), "podSelector": {"matchLabels": {"app": "nats"}, **expr("tier", "In", "cache")}}),
        allowed=False,
        isolated=True,
    ),
    case(
        "unknown-operator-matches-nothing",
        egress({**ns("nats"), "podSelector": expr("tier", "Near", "x")}),
        allowed=False,
        isolated=True,
        words=("malformed podSelector: unknown operator 'Near'",),
    ),
    # ports
    case("absent-ports-is-every-port", egress(ns("nats"), ports=[]), allowed=True, isolated=True, port=8222),
    case(
        "named-port-resolves-on-the-nats-pod",
        egress(ns("nats"), ports=[{"port": "client"}]),
        allowed=True,
        isolated=True,
    ),
    case(
        "named-port-unknown-on-the-nats-pod",
        egress(ns("nats"), ports=[{"port": "nats"}]),
        allowed=False,
        isolated=True,
        words=("'nats' (not a container port name of nats/nats-0)",),
    ),
    case(
        "named-service-target-port",
        egress(ns("nats")),
        allowed=True,
        isolated=True,
        port="client",
        words=("TCP 4222 (client)",),
    ),
    case(
        "unknown-service-target-port-only-matches-any-port",
        egress(ns("nats")),
        allowed=False,
        isolated=True,
        port="cluster",
        words=("port 'cluster' (not a container port name of nats/nats-0)", "fix the Service's targetPort"),
    ),
    case(
        "end-port-range-covers",
        egress(ns("nats"), ports=[{"port": 4000, "endPort": 4300}]),
        allowed=True,
        isolated=True,
    ),
    case(
        "end-port-range-misses",
        egress(ns("nats"), ports=[{"port": 4223, "endPort": 4300}]),
        allowed=False,
        isolated=True,
        words=("port TCP 4223-4300 does not allow TCP 4222",),
    ),
    case(
        "end-port-with-named-port-is-malformed",
        egress(ns("nats"), ports=[{"port": "client", "endPort": 4300}]),
        allowed=False,
        isolated=True,
        words=("malformed port: endPort with the named port 'client'",),
    ),
    case(
        "named-port-of-another-protocol-matches-nothing",
        egress(ns("nats"), ports=[{"protocol": "UDP", "port": "client"}]),
        allowed=False,
        isolated=True,
        words=("port UDP 'client' (a TCP port of nats/nats-0, not UDP) does not allow TCP 4222",),
    ),
    case(
        "named-port-matches-name-and-protocol",
        egress(ns("nats"), ports=[{"protocol": "UDP", "port": "client"}, {"protocol": "TCP", "port": "client"}]),
        allowed=True,
        isolated=True,
    ),
    case(
        "service-target-port-naming-a-udp-port",
        egress(ns("nats")),
        allowed=False,
        isolated=True,
        port="client",
        nats=NATS_CLIENT_UDP,
        words=("port 'client' (a UDP port of nats/nats-0, not TCP)", "has no TCP port of that name"),
    ),
    case(
        "udp-rule-does-not-allow-tcp",
        egress(ns("nats"), ports=[{"protocol": "UDP", "port": 4222}]),
        allowed=False,
        isolated=True,
        words=("port UDP 4222 does not allow TCP 4222",),
    ),
    # ingress to the NATS pod
    case(
        "ingress-no-policies",
        allowed=True,
        isolated=False,
        direction=INGRESS,
        words=("no NetworkPolicy selects the NATS pod nats/nats-0",),
    ),
    case(
        "ingress-default-deny-in-nats-namespace",
        DENY_INGRESS,
        allowed=False,
        isolated=True,
        direction=INGRESS,
        selecting=("nats/default-deny-ingress",),
        words=(
            "ingress to nats/nats-0 from petrosa-apps/app=binance-data-extractor",
            "has no ingress rules",
            "ingress rule from namespaceSelector {kubernetes.io/metadata.name=petrosa-apps}",
        ),
    ),
    case(
        "ingress-from-app-namespace-on-named-port",
        DENY_INGRESS,
        FROM_APPS,
        allowed=True,
        isolated=True,
        direction=INGRESS,
        allowed_by="nats/allow-apps",
        selecting=("nats/default-deny-ingress", "nats/allow-apps"),
    ),
    case(
        "ingress-pod-selector-alone-means-the-nats-namespace",
        policy(
            "from-app",
            "nats",
            policyTypes=["Ingress"],
            ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "binance-data-extractor"}}}]}],
        ),
        allowed=False,
        isolated=True,
        direction=INGRESS,
        words=("only selects pods in namespace nats, not petrosa-apps",),
    ),
    case(
        "ingress-namespace-selector-on-custom-label",
        policy(
            "from-trading",
            "nats",
            policyTypes=["Ingress"],
            ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "trading"}}}]}],
        ),
        allowed=True,
        isolated=True,
        direction=INGRESS,
        allowed_by="nats/from-trading",
    ),
    case(
        "ingress-ignores-policies-of-the-app-namespace",
        policy("deny-in", policyTypes=["Ingress"]),
        allowed=True,
        isolated=False,
        direction=INGRESS,
    ),
]


@pytest.mark.parametrize("c", TRAFFIC)
def test_traffic(c: Case) -> None:
    verdicts = check_traffic(APP, c.nats, c.port, c.policies, c.namespaces)
    assert_verdict(verdicts[0] if c.direction == EGRESS else verdicts[1], c)


def assert_verdict(verdict: Verdict, c: Case) -> None:
    assert verdict.direction == c.direction
    assert (verdict.allowed, verdict.isolated) == (c.allowed, c.isolated), verdict.explanation
    if c.allowed_by is not None:
        assert verdict.allowed_by == c.allowed_by
    else:
        assert (verdict.allowed_by is not None) == (c.allowed and c.isolated)
    if c.selecting is not None:
        assert verdict.policies == c.selecting
    elif c.isolated:  # every policy of the case in the subject's namespace selects the subject
        subject_namespace = APP.namespace if c.direction == EGRESS else c.nats.namespace
        names = [p["metadata"] for p in c.policies if p["metadata"]["namespace"] == subject_namespace]
        assert verdict.policies == tuple(f"{m['namespace']}/{m['name']}" for m in names)
    else:
        assert verdict.policies == ()
    for word in c.words:
        assert word in verdict.explanation


DNS_RULE = {"to": [ns("kube-system")], "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}


def dns_policy(*rules: Policy) -> Policy:
    return policy("allow-dns", policyTypes=["Egress"], egress=list(rules))


DNS = [
    case("dns-no-policies", allowed=True, isolated=False, words=("DNS allowed",)),
    case(
        "dns-guide-policy-has-no-dns-rule",
        GUIDE_POLICY,
        allowed=False,
        isolated=True,
        selecting=("petrosa-apps/allow-nats",),
        words=(
            "blocked on UDP 53 and TCP 53",
            "port TCP 4222 does not allow UDP 53",
            "{kubernetes.io/metadata.name=kube-system} on UDP and TCP 53",
        ),
    ),
    case(
        "dns-kube-system-udp-and-tcp",
        GUIDE_POLICY,
        dns_policy(DNS_RULE),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-dns",
        selecting=("petrosa-apps/allow-nats", "petrosa-apps/allow-dns"),
        words=("allowed on UDP 53 and TCP 53",),
    ),
    case(
        "dns-udp-only",
        dns_policy({"to": [ns("kube-system")], "ports": [{"protocol": "UDP", "port": 53}]}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-dns",
        words=("allowed on UDP 53 only", "TCP 53 is blocked"),
    ),
    case(
        "dns-tcp-only",
        dns_policy({"to": [ns("kube-system")], "ports": [{"port": 53}]}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-dns",
        words=("allowed on TCP 53 only", "UDP 53 is blocked", "on UDP 53 as well"),
    ),
    case(
        "dns-port-53-to-any-peer",
        dns_policy({"ports": [{"protocol": "UDP", "port": 53}]}),
        allowed=True,
        isolated=True,
        allowed_by="petrosa-apps/allow-dns",
    ),
    case(
        "dns-named-port",
        dns_policy({"to": [ns("kube-system")], "ports": [{"protocol": "UDP", "port": "dns"}]}),
        allowed=True,
        isolated=True,
    ),
    case(
        "dns-named-port-tcp-on-the-udp-port-allows-nothing",
        dns_policy({"to": [ns("kube-system")], "ports": [{"protocol": "TCP", "port": "dns"}]}),
        allowed=False,
        isolated=True,
        words=("blocked on UDP 53 and TCP 53", "port TCP 'dns' (a UDP port of kube-system/k8s-app=kube-dns, not TCP)"),
    ),
    case(
        "dns-named-port-default-protocol-is-tcp",
        dns_policy({"to": [ns("kube-system")], "ports": [{"port": "dns"}]}),
        allowed=False,
        isolated=True,
        words=("port TCP 'dns' (a UDP port of",),
    ),
    case(
        "dns-named-port-udp-on-the-tcp-port-allows-nothing",
        dns_policy({"to": [ns("kube-system")], "ports": [{"protocol": "UDP", "port": "dns-tcp"}]}),
        allowed=False,
        isolated=True,
        words=("port UDP 'dns-tcp' (a TCP port of",),
    ),
    case(
        "dns-named-tcp-port-allows-tcp-only",
        dns_policy({"to": [ns("kube-system")], "ports": [{"protocol": "TCP", "port": "dns-tcp"}]}),
        allowed=True,
        isolated=True,
        words=("allowed on TCP 53 only", "UDP 53 is blocked"),
    ),
    case(
        "dns-kube-dns-pods-only",
        dns_policy({"to": [{**ns("kube-system"), "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]}),
        allowed=True,
        isolated=True,
    ),
    case(
        "dns-ip-block-without-dns-pod-ip",
        dns_policy({"to": [{"ipBlock": {"cidr": "10.96.0.10/32"}}]}),
        allowed=False,
        isolated=True,
        words=("the pod's IP is unknown",),
    ),
]


@pytest.mark.parametrize("c", DNS)
def test_dns_egress(c: Case) -> None:
    assert_verdict(check_dns_egress(APP, c.policies, c.namespaces), c)


def test_dns_pod_ip_given_matches_an_ip_block() -> None:
    dns = PodRef("kube-system", {"k8s-app": "kube-dns"}, ip="10.244.0.3")
    rule = {"to": [{"ipBlock": {"cidr": "10.244.0.0/16"}}], "ports": [{"protocol": "UDP", "port": 53}]}
    assert check_dns_egress(APP, [dns_policy(rule)], NAMESPACES, dns).allowed
    assert DEFAULT_DNS.ip is None


@pytest.mark.parametrize(
    ("bad", "isolated", "words"),
    [
        pytest.param(
            "not a policy", False, "ignored malformed policies: <str>: no metadata.namespace", id="not-a-dict"
        ),
        pytest.param(
            {"metadata": {"name": "x", "namespace": "petrosa-apps"}, "spec": []},
            False,
            "ignored malformed policies: petrosa-apps/x: spec is not an object",
            id="spec-not-a-dict",
        ),
        pytest.param(
            policy("bad-selector", selector={"matchLabels": {"app": 1}}, policyTypes=["Egress"]),
            False,
            "petrosa-apps/bad-selector: malformed podSelector: matchLabels must map names to strings",
            id="bad-pod-selector",
        ),
        pytest.param(
            policy("bad-rules", policyTypes=["Egress"], egress={"to": []}),
            True,
            "has a malformed egress (not a list), so it denies all egress",
            id="egress-not-a-list",
        ),
        pytest.param(
            policy("bad-rule", policyTypes=["Egress"], egress=["x", {"to": "y"}, {"ports": [{"protocol": "ICMP"}]}]),
            True,
            "rule 1: malformed rule: not an object; rule 2: malformed rule: 'to' and 'ports' must be lists; "
            "rule 3: malformed port: unknown protocol 'ICMP'",
            id="bad-rules",
        ),
    ],
)
def test_malformed_policies_never_raise_and_are_named(bad: Any, isolated: bool, words: str) -> None:
    verdict, _ = check_traffic(APP, NATS, "client", [bad], NAMESPACES)
    assert (verdict.allowed, verdict.isolated) == (not isolated, isolated)
    assert words in verdict.explanation
