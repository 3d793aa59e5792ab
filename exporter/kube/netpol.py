"""NetworkPolicy analysis: would Kubernetes let the applications reach NATS, and reach DNS at all?

Pure on purpose: it takes the policies, pods and namespace labels as the API returns them (plain dicts) and does no
I/O, so the `network_policy` check, the `check` report and the tests all judge with the same code, and a table of
cases can pin the Kubernetes semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/).

Traffic passes only if both ends agree: EGRESS from the application pod (policies of its namespace) and INGRESS to
the NATS pod (policies of the NATS namespace). Malformed content never raises: a bad selector, peer, port or rule
matches nothing (as the API server would have refused it) and the explanation says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
EGRESS = "egress"
INGRESS = "ingress"
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class PodRef:
    """One end of the traffic: what policy matching needs to know about a pod.

    `ports` maps container port names to numbers and `protocols` names to their protocol (absent: TCP, the
    containerPort default): a named port in a rule (and a named Service targetPort) resolves against the
    destination pod, and only to a port of the rule's protocol, as Kubernetes matches name and protocol together.
    Without `ip`, ipBlock peers cannot match the pod.
    """

    namespace: str
    labels: Mapping[str, str]
    ip: str | None = None
    ports: Mapping[str, int] = field(default_factory=dict)
    name: str = ""
    protocols: Mapping[str, str] = field(default_factory=dict)

    def named_port(self, name: str, protocol: str) -> int | None:
        """The number of the container port called `name` if it speaks `protocol`, else None."""
        number = self.ports.get(name)
        if number is None or self.protocols.get(name, "TCP") != protocol:
            return None
        return number


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one direction of policy lets the traffic through, with the evidence a person needs to fix it."""

    allowed: bool
    direction: str  # "egress" or "ingress"
    isolated: bool  # some policy selects the pod for this direction
    policies: tuple[str, ...]  # ns/name of the policies selecting the pod for this direction
    allowed_by: str | None  # ns/name of the first policy with a rule that allows the traffic
    explanation: str


# CoreDNS as kubeadm, kind and most distributions deploy it; its container ports carry these names.
DEFAULT_DNS = PodRef(
    namespace="kube-system",
    labels={"k8s-app": "kube-dns"},
    ports={"dns": 53, "dns-tcp": 53, "metrics": 9153},
    protocols={"dns": "UDP", "dns-tcp": "TCP", "metrics": "TCP"},
)


@dataclass(frozen=True, slots=True)
class _Flow:
    """The traffic being judged, seen from the pod whose policies decide (`subject`)."""

    direction: str
    subject: PodRef
    role: str  # how to call the subject in a sentence: "the application pod", "the NATS pod"
    peer: PodRef  # the other end: destination for egress, source for ingress
    peer_namespace_labels: Mapping[str, str]
    target: PodRef  # the destination pod, whose container ports give named ports their number
    protocol: str
    port: int | None  # None when a named port did not resolve on the destination pod
    port_text: str

    def describe(self) -> str:
        subject, peer = _describe_pod(self.subject), _describe_pod(self.peer)
        where = f"from {subject} to {peer}" if self.direction == EGRESS else f"to {subject} from {peer}"
        return f"{self.direction} {where} on {self.protocol} {self.port_text}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    """The evaluation of one flow, before it is put into words."""

    selecting: tuple[str, ...]
    allowed_by: str | None
    reasons: tuple[str, ...]  # why each selecting policy does not allow the flow
    notes: tuple[str, ...]  # malformed policies skipped while looking for the selecting ones

    @property
    def isolated(self) -> bool:
        return bool(self.selecting)

    @property
    def allowed(self) -> bool:
        return not self.selecting or self.allowed_by is not None


def check_traffic(
    app: PodRef,
    nats: PodRef,
    port: int | str,
    policies: Sequence[Mapping[str, Any]],
    namespaces: Mapping[str, Mapping[str, str]],
) -> tuple[Verdict, Verdict]:
    """Judge TCP from `app` to `nats` on `port` (a number or a container port name): (egress, ingress) verdicts."""
    number, port_text = _resolve_port(port, nats)
    egress = _Flow(
        direction=EGRESS,
        subject=app,
        role="the application pod",
        peer=nats,
        peer_namespace_labels=namespace_labels(nats.namespace, namespaces),
        target=nats,
        protocol="TCP",
        port=number,
        port_text=port_text,
    )
    ingress = replace(
        egress,
        direction=INGRESS,
        subject=nats,
        role="the NATS pod",
        peer=app,
        peer_namespace_labels=namespace_labels(app.namespace, namespaces),
    )
    return _traffic_verdict(egress, policies), _traffic_verdict(ingress, policies)


def check_dns_egress(
    app: PodRef,
    policies: Sequence[Mapping[str, Any]],
    namespaces: Mapping[str, Mapping[str, str]],
    dns: PodRef = DEFAULT_DNS,
) -> Verdict:
    """Judge egress from `app` to the cluster DNS: allowed iff UDP 53 or TCP 53 is allowed."""
    udp = _Flow(
        direction=EGRESS,
        subject=app,
        role="the application pod",
        peer=dns,
        peer_namespace_labels=namespace_labels(dns.namespace, namespaces),
        target=dns,
        protocol="UDP",
        port=53,
        port_text="53",
    )
    by_protocol = {"UDP": _evaluate(udp, policies), "TCP": _evaluate(replace(udp, protocol="TCP"), policies)}
    return _dns_verdict(udp, by_protocol)


def namespace_labels(name: str, namespaces: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """A namespace's labels, with the `kubernetes.io/metadata.name` label the API server always sets."""
    labels = dict(namespaces.get(name) or {})
    labels.setdefault(NAMESPACE_NAME_LABEL, name)
    return labels


# --- evaluation -----------------------------------------------------------------------------------------------


def _evaluate(flow: _Flow, policies: Sequence[Mapping[str, Any]]) -> _Outcome:
    """Rules of all selecting policies are a union: the first rule that allows the flow decides."""
    selecting, notes = _selecting_policies(policies, flow.subject, flow.direction)
    reasons: list[str] = []
    for name, spec in selecting:
        miss = _policy_miss(spec, flow)
        if miss is None:
            return _Outcome(tuple(n for n, _ in selecting), name, (), tuple(notes))
        reasons.append(f"{name} {miss}")
    return _Outcome(tuple(n for n, _ in selecting), None, tuple(reasons), tuple(notes))


def _selecting_policies(
    policies: Sequence[Mapping[str, Any]], pod: PodRef, direction: str
) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
    """The (name, spec) of the policies in the pod's namespace that isolate it for `direction`, and skipped ones."""
    selecting: list[tuple[str, Mapping[str, Any]]] = []
    notes: list[str] = []
    for policy in policies:
        name, namespace, spec = _policy_parts(policy)
        if not isinstance(namespace, str):
            notes.append(f"{name}: no metadata.namespace")
            continue
        if namespace != pod.namespace:
            continue
        if spec is None:
            notes.append(f"{name}: spec is not an object")
            continue
        if direction.capitalize() not in _policy_types(spec):
            continue
        miss = _selector_miss(spec.get("podSelector") or {}, pod.labels, "podSelector", "pod")
        if miss is not None and miss.startswith("malformed"):
            notes.append(f"{name}: {miss}")
        elif miss is None:
            selecting.append((name, spec))
    return selecting, notes


def _policy_parts(policy: Any) -> tuple[str, str | None, Mapping[str, Any] | None]:
    """ns/name, namespace and spec of a policy dict; None where the dict does not have them."""
    if not isinstance(policy, Mapping):
        return f"<{type(policy).__name__}>", None, None
    metadata = policy.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    spec = policy.get("spec")
    return f"{namespace}/{name}", namespace, spec if isinstance(spec, Mapping) else None


def _policy_types(spec: Mapping[str, Any]) -> frozenset[str]:
    """As the API server defaults them: Ingress always, Egress only when the egress list is non-empty."""
    types = spec.get("policyTypes")
    if isinstance(types, list) and types:
        return frozenset(t for t in types if isinstance(t, str))
    return frozenset(("Ingress", "Egress") if spec.get("egress") else ("Ingress",))


def _policy_miss(spec: Mapping[str, Any], flow: _Flow) -> str | None:
    """None if some rule of the policy allows the flow, else why none does."""
    rules = spec.get(flow.direction)
    if rules is None or rules == []:
        return f"has no {flow.direction} rules, so it denies all {flow.direction}"
    if not isinstance(rules, list):
        return f"has a malformed {flow.direction} (not a list), so it denies all {flow.direction}"
    misses: list[str] = []
    for index, rule in enumerate(rules, 1):
        miss = _rule_miss(rule, flow.subject.namespace, flow)  # selecting policies live in the subject's namespace
        if miss is None:
            return None
        misses.append(f"rule {index}: {miss}")
    return "; ".join(misses)


def _rule_miss(rule: Any, policy_namespace: str, flow: _Flow) -> str | None:
    """A rule allows the flow when one of its peers AND one of its ports match; absent or empty lists match all."""
    if not isinstance(rule, Mapping):
        return "malformed rule: not an object"
    peers_key = "to" if flow.direction == EGRESS else "from"
    peers, ports = rule.get(peers_key), rule.get("ports")
    if not isinstance(peers, list | None) or not isinstance(ports, list | None):
        return f"malformed rule: {peers_key!r} and 'ports' must be lists"
    peer_misses = [_peer_miss(peer, policy_namespace, flow) for peer in peers or []]
    port_misses = [_port_miss(port, flow) for port in ports or []]
    misses = [m for m in (_all_miss(peer_misses), _all_miss(port_misses)) if m is not None]
    return "; ".join(misses) if misses else None


def _all_miss(misses: list[str | None]) -> str | None:
    """An OR list (peers, ports) misses only if it is non-empty and every entry misses."""
    if not misses or None in misses:
        return None
    return "; ".join(m for m in misses if m is not None)


def _peer_miss(peer: Any, policy_namespace: str, flow: _Flow) -> str | None:
    """None if the peer selects `flow.peer`: podSelector alone means the policy's namespace, both fields AND."""
    if not isinstance(peer, Mapping):
        return "malformed peer: not an object"
    pod_selector, ns_selector, block = peer.get("podSelector"), peer.get("namespaceSelector"), peer.get("ipBlock")
    if block is not None:
        if pod_selector is not None or ns_selector is not None:
            return "malformed peer: ipBlock cannot be combined with selectors"
        return _ip_block_miss(block, flow.peer.ip)
    if pod_selector is None and ns_selector is None:
        return "malformed peer: none of podSelector, namespaceSelector, ipBlock is set"
    if ns_selector is None and flow.peer.namespace != policy_namespace:
        return (
            f"podSelector {_show_selector(pod_selector)} without namespaceSelector only selects pods in namespace "
            f"{policy_namespace}, not {flow.peer.namespace}"
        )
    if ns_selector is not None:
        ns_subject = f"namespace {flow.peer.namespace}"
        miss = _selector_miss(ns_selector, flow.peer_namespace_labels, "namespaceSelector", ns_subject)
        if miss is not None:
            return miss
    if pod_selector is not None:
        return _selector_miss(pod_selector, flow.peer.labels, "podSelector", f"pod {_describe_pod(flow.peer)}")
    return None


def _ip_block_miss(block: Any, ip: str | None) -> str | None:
    """None if the pod IP is inside the cidr and outside every except; an unknown IP matches no ipBlock."""
    try:
        network, excepts = _parse_ip_block(block)
    except ValueError as exc:
        return f"malformed ipBlock: {exc}"
    if ip is None:
        return f"ipBlock {network} cannot match: the pod's IP is unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return f"ipBlock {network} cannot match: the pod's IP {ip!r} is not an IP address"
    if address not in network:
        return f"pod IP {ip} is outside ipBlock {network}"
    for excluded in excepts:
        if address in excluded:
            return f"pod IP {ip} is in the except {excluded} of ipBlock {network}"
    return None


def _parse_ip_block(block: Any) -> tuple[_IpNetwork, list[_IpNetwork]]:
    """The cidr and except networks, validated as the API server does (excepts must lie inside the cidr)."""
    if not isinstance(block, Mapping):
        raise ValueError("not an object")
    network = _parse_cidr(block.get("cidr"))
    excepts_raw = block.get("except") or []
    if not isinstance(excepts_raw, list):
        raise ValueError("except is not a list")
    excepts = [_parse_cidr(raw) for raw in excepts_raw]
    for excluded in excepts:
        if excluded.network_address not in network or excluded.prefixlen < network.prefixlen:
            raise ValueError(f"except {excluded} is not inside cidr {network}")
    return network, excepts


def _parse_cidr(raw: Any) -> _IpNetwork:
    if not isinstance(raw, str) or "/" not in raw:
        raise ValueError(f"cidr {raw!r} is not a CIDR")
    try:
        return ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise ValueError(f"cidr {raw!r} is not a CIDR") from None


def _port_miss(spec: Any, flow: _Flow) -> str | None:
    """None if the port entry covers the flow: protocol (default TCP), then all ports, a number, name or range."""
    if not isinstance(spec, Mapping):
        return "malformed port: not an object"
    protocol = spec.get("protocol") or "TCP"
    if protocol not in _PROTOCOLS:
        return f"malformed port: unknown protocol {protocol!r}"
    try:
        covered = _port_range(spec, protocol, flow.target)
    except ValueError as exc:
        return f"malformed port: {exc}"
    if protocol == flow.protocol and (covered is None or (flow.port is not None and flow.port in covered)):
        return None
    shown = _show_port(spec, protocol, covered, flow.target)
    return f"port {shown} does not allow {flow.protocol} {flow.port_text}"


def _port_range(spec: Mapping[str, Any], protocol: str, target: PodRef) -> range | None:
    """The ports an entry covers (None: all of them); a name the destination pod lacks for `protocol` covers none."""
    port, end = spec.get("port"), spec.get("endPort")
    if port is None:
        if end is not None:
            raise ValueError("endPort without port")
        return None
    if isinstance(port, str) and not port.isdigit():
        if end is not None:
            raise ValueError(f"endPort with the named port {port!r}")
        number = target.named_port(port, protocol)
        return range(0) if number is None else range(number, number + 1)
    low = _port_number(port, "port")
    high = low if end is None else _port_number(end, "endPort")
    if high < low:
        raise ValueError(f"endPort {high} is below port {low}")
    return range(low, high + 1)


def _show_port(spec: Mapping[str, Any], protocol: str, covered: range | None, target: PodRef) -> str:
    port = spec.get("port")
    if covered is None:
        return f"{protocol} (all ports)"
    if isinstance(port, str) and not port.isdigit():
        if not covered:
            if port in target.ports:
                other = target.protocols.get(port, "TCP")
                return f"{protocol} {port!r} (a {other} port of {_describe_pod(target)}, not {protocol})"
            return f"{protocol} {port!r} (not a container port name of {_describe_pod(target)})"
        return f"{protocol} {port} (= {covered.start} on {_describe_pod(target)})"
    if len(covered) == 1:
        return f"{protocol} {covered.start}"
    return f"{protocol} {covered.start}-{covered.stop - 1}"


def _port_number(raw: Any, what: str) -> int:
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 65535:
        raise ValueError(f"{what} {raw!r} is not a port number")
    return raw


def _resolve_port(port: int | str, pod: PodRef) -> tuple[int | None, str]:
    """The traffic's port number (a Service targetPort name resolves on the NATS pod, TCP) and how to write it."""
    if isinstance(port, int):
        return port, str(port)
    if port.isdigit():
        return int(port), port
    number = pod.named_port(port, "TCP")
    if number is None:
        if port in pod.ports:
            return None, f"port {port!r} (a {pod.protocols.get(port)} port of {_describe_pod(pod)}, not TCP)"
        return None, f"port {port!r} (not a container port name of {_describe_pod(pod)})"
    return number, f"{number} ({port})"


# --- label selectors ------------------------------------------------------------------------------------------


def _selector_miss(selector: Any, labels: Mapping[str, str], field_name: str, subject: str) -> str | None:
    """None if the LabelSelector matches `labels` (matchLabels AND matchExpressions; `{}` matches all)."""
    problem = _selector_problem(selector)
    if problem is not None:
        return f"malformed {field_name}: {problem}"
    if _selector_matches(selector, labels):
        return None
    return f"{field_name} {_show_selector(selector)} does not match {subject} {_show_labels(labels)}"


def _selector_problem(selector: Any) -> str | None:
    """What the API server would reject in a LabelSelector, or None."""
    if not isinstance(selector, Mapping):
        return "not an object"
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping) or not all(isinstance(v, str) for v in match_labels.values()):
        return "matchLabels must map names to strings"
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return "matchExpressions is not a list"
    for expression in expressions:
        problem = _expression_problem(expression)
        if problem is not None:
            return problem
    return None


def _expression_problem(expression: Any) -> str | None:
    if not isinstance(expression, Mapping) or not isinstance(expression.get("key"), str):
        return f"matchExpressions entry {expression!r} has no key"
    operator, values = expression.get("operator"), expression.get("values") or []
    if operator not in _OPERATORS:
        return f"unknown operator {operator!r} in matchExpressions"
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return f"values of {expression['key']!r} must be a list of strings"
    needs_values = operator in ("In", "NotIn")
    if needs_values != bool(values):
        return f"operator {operator} on {expression['key']!r} needs {'some' if needs_values else 'no'} values"
    return None


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    match_labels: Mapping[str, str] = selector.get("matchLabels") or {}
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """NotIn matches a missing label, as in Kubernetes."""
    key: str = expression["key"]
    operator: str = expression["operator"]
    values: list[str] = expression.get("values") or []
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    return (key in labels) == (operator == "Exists")


# --- words ----------------------------------------------------------------------------------------------------


def _traffic_verdict(flow: _Flow, policies: Sequence[Mapping[str, Any]]) -> Verdict:
    outcome = _evaluate(flow, policies)
    return Verdict(
        allowed=outcome.allowed,
        direction=flow.direction,
        isolated=outcome.isolated,
        policies=outcome.selecting,
        allowed_by=outcome.allowed_by,
        explanation=_explain(flow, outcome, _fix_hint(flow)),
    )


def _explain(flow: _Flow, outcome: _Outcome, fix: str) -> str:
    notes = _notes(outcome)
    if not outcome.isolated:
        subject = _describe_pod(flow.subject)
        return f"no NetworkPolicy selects {flow.role} {subject} for {flow.direction}: allowed{notes}"
    if outcome.allowed_by is not None:
        return f"{flow.describe()} is allowed by {outcome.allowed_by}{notes}"
    return (
        f"{flow.describe()} is blocked: {_policies_select(outcome, flow)} ({'; '.join(outcome.reasons)}); {fix}{notes}"
    )


def _notes(outcome: _Outcome) -> str:
    return f"; ignored malformed policies: {'; '.join(outcome.notes)}" if outcome.notes else ""


def _policies_select(outcome: _Outcome, flow: _Flow) -> str:
    noun = "policy" if len(outcome.selecting) == 1 else "policies"
    verb = "selects" if len(outcome.selecting) == 1 else "select"
    their = "its" if len(outcome.selecting) == 1 else "their"
    names = ", ".join(outcome.selecting)
    return f"{noun} {names} {verb} {flow.role} for {flow.direction.capitalize()} and none of {their} rules allows it"


def _fix_hint(flow: _Flow) -> str:
    """The smallest rule that would let the flow through, naming the peer by its always-present namespace label."""
    if flow.port is None:
        return (
            f"and no rule can: fix the Service's targetPort, {_describe_pod(flow.target)} has no TCP port of that name"
        )
    selector = f"namespaceSelector {{{NAMESPACE_NAME_LABEL}={flow.peer.namespace}}}"
    if flow.peer.namespace == flow.subject.namespace:
        selector = f"podSelector {_show_labels(flow.peer.labels)}"
    to_or_from = "to" if flow.direction == EGRESS else "from"
    return f"allow it with an {flow.direction} rule {to_or_from} {selector} on {flow.protocol} {flow.port}"


def _dns_verdict(flow: _Flow, by_protocol: Mapping[str, _Outcome]) -> Verdict:
    """DNS works when either protocol does; the explanation says which, since lookups try UDP first."""
    udp, tcp = by_protocol["UDP"], by_protocol["TCP"]
    open_protocols = [p for p, o in by_protocol.items() if o.allowed]
    subject, dns = _describe_pod(flow.subject), _describe_pod(flow.peer)
    allowed_by = udp.allowed_by or tcp.allowed_by
    fix = f"allow it with an egress rule to namespaceSelector {{{NAMESPACE_NAME_LABEL}={flow.peer.namespace}}}"
    if not udp.isolated:
        text = f"no NetworkPolicy selects {flow.role} {subject} for egress: DNS allowed"
    elif len(open_protocols) == 2:
        text = f"DNS egress from {subject} to {dns} is allowed on UDP 53 and TCP 53 by {allowed_by}"
    elif open_protocols:
        closed = "TCP" if open_protocols == ["UDP"] else "UDP"
        text = (
            f"DNS egress from {subject} to {dns} is allowed on {open_protocols[0]} 53 only, by {allowed_by}; "
            f"{closed} 53 is blocked ({'; '.join(by_protocol[closed].reasons)}); {fix} on {closed} 53 as well"
        )
    else:
        reasons = "; ".join(udp.reasons)  # TCP's differ only in the protocol named; the fix covers both
        text = (
            f"DNS egress from {subject} to {dns} is blocked on UDP 53 and TCP 53: {_policies_select(udp, flow)} "
            f"({reasons}); {fix} on UDP and TCP 53"
        )
    return Verdict(
        allowed=bool(open_protocols),
        direction=EGRESS,
        isolated=udp.isolated,
        policies=udp.selecting,
        allowed_by=allowed_by,
        explanation=text + _notes(udp),
    )


def _describe_pod(pod: PodRef) -> str:
    if pod.name:
        return f"{pod.namespace}/{pod.name}"
    if pod.labels:
        return f"{pod.namespace}/{','.join(f'{k}={v}' for k, v in sorted(pod.labels.items()))}"
    return f"{pod.namespace}/<pod without labels>"


def _show_labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}"


def _show_selector(selector: Any) -> str:
    """kubectl's way of writing a selector: `{a=b, c in (d,e), f notin (g), h, !i}`; `{}` selects everything."""
    if not isinstance(selector, Mapping):
        return repr(selector)
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    parts += [_show_expression(e) for e in selector.get("matchExpressions") or [] if isinstance(e, Mapping)]
    return "{" + ", ".join(parts) + "}"


def _show_expression(expression: Mapping[str, Any]) -> str:
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
    if operator in ("In", "NotIn"):
        return f"{key} {operator.lower()} ({','.join(map(str, values))})"
    return f"{key}" if operator == "Exists" else f"!{key}"
