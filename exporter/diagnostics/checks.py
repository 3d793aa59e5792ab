"""The guide's troubleshooting list as code: one function per step, each returning a `CheckResult`.

A check is `async def check(context) -> CheckResult`; `CHECKS` is the list, in the order an operator walks it. The
exporter's periodic diagnostics, the `check` command and the page all run and render these same results. Facts
several checks need (the Service, its EndpointSlices, one probe) are fetched once per run through the context.
A check that needs the Kubernetes API says `skipped` without access and `unknown` when RBAC forbids it: never
`fail` for something it could not see.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from exporter.config import Target, TLSSettings
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.config.nats_url import NatsUrl
from exporter.kube.client import KubeApi, KubeError
from exporter.kube.names import ServiceName, service_name
from exporter.kube.netpol import PodRef, check_dns_egress, check_traffic
from exporter.kube.pods import pod_info
from exporter.probe.phases import run_probe
from exporter.probe.result import Phase, ProbeResult


class CheckState(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # could not tell: the Kubernetes API refused or failed
    SKIPPED = "skipped"  # does not apply (no Kubernetes access, not a service name)


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    state: CheckState
    summary: str  # one line: what was found
    evidence: tuple[str, ...] = ()  # what it was found from: addresses, counts, the blocking policy
    fix: str = ""  # one sentence, when it failed


@dataclass(frozen=True, slots=True)
class EndpointProbe:
    pod: str
    address: str
    result: ProbeResult


@dataclass
class CheckContext:
    """One diagnosis run for one target: its inputs and what the checks fetched, shared between them."""

    target: Target
    settings: DiagnosticsSettings
    api: KubeApi | None
    service: ServiceName | None = None
    port: int = 4222
    endpoints: list[EndpointProbe] = field(default_factory=list)
    ready_endpoints: int | None = None
    not_ready_endpoints: int | None = None
    latest: ProbeResult | None = None  # the exporter's own latest probe of the target, reused instead of probing
    _cache: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        server = self.target.servers[0]
        self.service = service_name(server.host, self.settings.cluster_domain)
        self.port = server.port

    @property
    def namespace(self) -> str:
        assert self.service is not None
        return self.service.namespace or self.settings.namespace

    async def once(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = await fetch()
            except KubeError as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, KubeError):
            raise value
        return value

    async def service_object(self) -> dict[str, Any]:
        assert self.api is not None
        assert self.service is not None
        path = f"/api/v1/namespaces/{self.namespace}/services/{self.service.name}"
        api = self.api
        return dict(await self.once("service", lambda: api.get_json("get service", path)))

    async def endpoint_slices(self) -> list[dict[str, Any]]:
        assert self.api is not None
        assert self.service is not None
        path = f"/apis/discovery.k8s.io/v1/namespaces/{self.namespace}/endpointslices"
        query = [("labelSelector", f"kubernetes.io/service-name={self.service.name}")]
        api = self.api
        document = await self.once("slices", lambda: api.get_json("list endpointslices", path, query))
        return list(document.get("items") or [])

    async def probe(self) -> ProbeResult:
        """The exporter's latest probe when it has one (the page then tells one story), else a probe of our own
        (the `check` command)."""
        if self.latest is not None:
            return self.latest
        return await self.once("probe", lambda: run_probe(self.target))  # type: ignore[no-any-return]


Check = Callable[[CheckContext], Awaitable[CheckResult]]


def _kube_needed(name: str, context: CheckContext) -> CheckResult | None:
    if context.service is None:
        return CheckResult(name, CheckState.SKIPPED, "the URL's host is not a Kubernetes service name")
    if context.api is None:
        return CheckResult(name, CheckState.SKIPPED, "no Kubernetes access (no in-cluster config or kubeconfig)")
    return None


def _api_trouble(name: str, exc: KubeError, permission: str) -> CheckResult:
    if exc.code == "403":
        return CheckResult(
            name,
            CheckState.UNKNOWN,
            f"the Kubernetes API refused: {exc.message}",
            fix=f"grant the exporter's service account `{permission}` (see the README's RBAC table)",
        )
    return CheckResult(name, CheckState.UNKNOWN, f"the Kubernetes API failed ({exc.code}): {exc.message}")


async def service_exists(context: CheckContext) -> CheckResult:
    name = "service_exists"
    if (skipped := _kube_needed(name, context)) is not None:
        return skipped
    assert context.service is not None
    try:
        service = await context.service_object()
    except KubeError as exc:
        if exc.code == "404":
            return CheckResult(
                name,
                CheckState.FAIL,
                f"Service {context.namespace}/{context.service.name} does not exist",
                (f"kubectl get svc -n {context.namespace} {context.service.name}: NotFound",),
                fix="create the Service or use the right name and namespace (kubectl get svc -A | grep nats)",
            )
        return _api_trouble(name, exc, "get services")
    spec = service.get("spec") or {}
    ports = ", ".join(f"{p.get('port')}→{p.get('targetPort', p.get('port'))}" for p in spec.get("ports") or [])
    evidence = (f"type {spec.get('type', 'ClusterIP')}, clusterIP {spec.get('clusterIP', '?')}", f"ports {ports}")
    if not any(p.get("port") == context.port for p in spec.get("ports") or []):
        return CheckResult(
            name,
            CheckState.FAIL,
            f"Service {context.namespace}/{context.service.name} exists but has no port {context.port}",
            evidence,
            fix=f"use one of the Service's ports in the URL ({ports}) or add port {context.port} to the Service",
        )
    return CheckResult(name, CheckState.PASS, f"Service {context.namespace}/{context.service.name} exists", evidence)


async def endpoints_ready(context: CheckContext) -> CheckResult:
    name = "endpoints_ready"
    slices = await _slices_for(name, context)
    if isinstance(slices, CheckResult):
        return slices
    assert context.service is not None
    ready: list[str] = []
    not_ready: list[str] = []
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            target = (endpoint.get("targetRef") or {}).get("name") or ",".join(endpoint.get("addresses") or [])
            is_ready = (endpoint.get("conditions") or {}).get("ready") is not False  # absent means ready
            (ready if is_ready else not_ready).append(target)
    context.ready_endpoints, context.not_ready_endpoints = len(ready), len(not_ready)
    evidence = (f"ready: {', '.join(ready) or 'none'}", f"not ready: {', '.join(not_ready) or 'none'}")
    if not ready:
        return CheckResult(
            name,
            CheckState.FAIL,
            f"Service {context.namespace}/{context.service.name} has no ready endpoints",
            evidence,
            fix=f"check the NATS pods: kubectl get pods -n {context.namespace} -l <the Service's selector>; "
            "are they running and passing their readiness probe?",
        )
    return CheckResult(name, CheckState.PASS, f"{len(ready)} ready, {len(not_ready)} not ready", evidence)


async def _slices_for(name: str, context: CheckContext) -> list[dict[str, Any]] | CheckResult:
    """The Service's EndpointSlices, or the result that says why `name` cannot look at them."""
    if (skipped := _kube_needed(name, context)) is not None:
        return skipped
    try:
        return await context.endpoint_slices()
    except KubeError as exc:
        return _api_trouble(name, exc, "list endpointslices.discovery.k8s.io")


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _dns_check(name: str, context: CheckContext, host: str, fix: str) -> CheckResult:
    try:
        async with asyncio.timeout(context.target.timeout):
            addresses = await _resolve(host, context.port)
    except (OSError, TimeoutError) as exc:
        return CheckResult(name, CheckState.FAIL, f"{host} does not resolve", (f"{type(exc).__name__}: {exc}",), fix)
    return CheckResult(name, CheckState.PASS, f"{host} resolves", (f"addresses: {', '.join(addresses)}",))


async def dns_fqdn(context: CheckContext) -> CheckResult:
    if context.service is None:
        return CheckResult("dns_fqdn", CheckState.SKIPPED, "the URL's host is not a Kubernetes service name")
    host = context.service.fqdn(context.namespace, context.settings.cluster_domain)
    return await _dns_check(
        "dns_fqdn", context, host, "check that the Service exists and that cluster DNS (CoreDNS) is running"
    )


async def dns_short(context: CheckContext) -> CheckResult:
    if context.service is None:
        return CheckResult("dns_short", CheckState.SKIPPED, "the URL's host is not a Kubernetes service name")
    fix = (
        f"a short name resolves only from namespace {context.namespace}; "
        f"use the full name {context.service.fqdn(context.namespace, context.settings.cluster_domain)}"
    )
    return await _dns_check("dns_short", context, context.service.name, fix)


async def tcp_connect(context: CheckContext) -> CheckResult:
    result = await context.probe()
    reached = Phase.TCP in result.phases
    if reached:
        return CheckResult(
            "tcp_connect",
            CheckState.PASS,
            f"{result.server_url} accepts TCP connections",
            (f"connect took {result.phases[Phase.TCP] * 1000:.2f} ms", f"addresses: {', '.join(result.addresses)}"),
        )
    return _probe_failure("tcp_connect", f"cannot open a TCP connection: {result.reason}", result)


async def nats_handshake(context: CheckContext) -> CheckResult:
    result = await context.probe()
    if Phase.TCP not in result.phases:
        return CheckResult("nats_handshake", CheckState.SKIPPED, "no TCP connection to shake hands on")
    if result.ok:
        server = result.server
        version = f"nats-server {server.version} ({server.server_name or server.server_id})" if server else ""
        rtt = result.phases.get(Phase.RTT, 0.0) * 1000
        return CheckResult(
            "nats_handshake", CheckState.PASS, f"NATS answers: {version}", (f"rtt {rtt:.2f} ms", "publish/subscribe ok")
        )
    return _probe_failure("nats_handshake", f"{result.failed_phase} failed: {result.reason}", result)


def _probe_failure(name: str, summary: str, result: ProbeResult) -> CheckResult:
    fix = _FIXES.get(str(result.reason), "see the failure reason table in the README")
    return CheckResult(name, CheckState.FAIL, summary, (result.detail,), fix=fix)


async def endpoint_probe(context: CheckContext) -> CheckResult:
    """Connect to each NATS pod behind the Service directly: one bad replica hides behind a healthy Service."""
    name = "endpoint_probe"
    slices = await _slices_for(name, context)
    if isinstance(slices, CheckResult):
        return slices
    assert context.service is not None
    targets = list(_endpoint_targets(slices, context.port))
    if not targets:
        return CheckResult(name, CheckState.SKIPPED, "no ready endpoints to probe")
    fqdn = context.service.fqdn(context.namespace, context.settings.cluster_domain)
    results = await asyncio.gather(*(_probe_endpoint(context.target, fqdn, pod, ip, port) for pod, ip, port in targets))
    context.endpoints = list(results)
    failed = [probe for probe in results if not probe.result.ok]
    evidence = tuple(f"{probe.pod} ({probe.address}): {_endpoint_outcome(probe)}" for probe in results)
    if failed:
        pods = ", ".join(probe.pod for probe in failed)
        return CheckResult(
            name,
            CheckState.FAIL,
            f"{len(failed)} of {len(results)} NATS pods fail when probed directly: {pods}",
            evidence,
            fix=f"look at those pods: kubectl logs -n {context.namespace} <pod>, "
            f"kubectl describe pod -n {context.namespace} <pod>",
        )
    return CheckResult(name, CheckState.PASS, f"all {len(results)} NATS pods answer directly", evidence)


def _endpoint_outcome(probe: EndpointProbe) -> str:
    if probe.result.ok:
        return f"ok, rtt {probe.result.phases.get(Phase.RTT, 0) * 1000:.2f} ms"
    return f"{probe.result.reason}: {probe.result.detail}"


def _endpoint_targets(slices: list[dict[str, Any]], service_port: int) -> list[tuple[str, str, int]]:
    found = []
    for item in slices:
        ports = [p.get("port") for p in item.get("ports") or [] if p.get("port")]
        port = int(ports[0]) if len(ports) == 1 else service_port
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            pod = (endpoint.get("targetRef") or {}).get("name") or ""
            for address in endpoint.get("addresses") or []:
                found.append((pod or address, str(address), port))
    return found


async def _probe_endpoint(target: Target, fqdn: str, pod: str, address: str, port: int) -> EndpointProbe:
    scheme = target.servers[0].scheme
    server = NatsUrl(scheme=scheme, host=address, port=port, username=target.servers[0].username,
                     password=target.servers[0].password)  # fmt: skip
    # The pod's certificate is issued for the Service's name, not for its IP: verify against that name.
    tls = replace(target.tls, server_name=target.tls.server_name or fqdn) if target.uses_tls else TLSSettings()
    endpoint_target = replace(target, name=f"{target.name}/{pod}", servers=(server,), tls=tls, session=False)
    return EndpointProbe(pod=pod, address=f"{address}:{port}", result=await run_probe(endpoint_target))


async def network_policy(context: CheckContext) -> CheckResult:
    """NetworkPolicies of both namespaces, judged like Kubernetes would: app egress, NATS ingress, DNS egress."""
    name = "network_policy"
    if (skipped := _kube_needed(name, context)) is not None:
        return skipped
    selector = context.settings.app_selector
    if not selector:
        return CheckResult(
            name, CheckState.SKIPPED, "no application selector: set --diagnostics.app-selector or --logs.selector"
        )
    api = context.api
    assert api is not None
    try:
        service = await context.service_object()
        nats_pods = await _pods(api, context.namespace, _selector_text((service.get("spec") or {}).get("selector")))
        # Within the applications' namespaces when they are known: per-namespace Roles then suffice.
        scopes = context.settings.app_namespaces or (None,)
        app_pods = [pod for scope in scopes for pod in await _pods(api, scope, selector)]
    except KubeError as exc:
        return _api_trouble(name, exc, "get services; list pods")
    if not nats_pods or not app_pods:
        missing = "NATS pods behind the Service" if not nats_pods else f"application pods ({selector})"
        return CheckResult(name, CheckState.SKIPPED, f"no {missing} to judge the traffic between")
    namespaces = {pod.namespace for pod in app_pods} | {context.namespace}
    try:
        policies = [policy for ns in sorted(namespaces) for policy in await _policies(api, ns)]
        labels = {ns: await _namespace_labels(api, ns) for ns in sorted(namespaces)}
    except KubeError as exc:
        return _api_trouble(name, exc, "list networkpolicies.networking.k8s.io; get namespaces")
    target_port = _target_port(service, context.port)
    nats = nats_pods[0]
    blocked: list[str] = []
    allowed: list[str] = []
    for app in _distinct(app_pods):
        egress, ingress = check_traffic(app, nats, target_port, policies, labels)
        dns = check_dns_egress(app, policies, labels)
        for verdict in (egress, ingress, dns):
            (allowed if verdict.allowed else blocked).append(verdict.explanation)
    if blocked:
        return CheckResult(
            name,
            CheckState.FAIL,
            f"NetworkPolicies block {len(blocked)} of {len(blocked) + len(allowed)} paths",
            tuple(blocked),
            fix="add the rule each explanation names (kubectl get networkpolicy -A; kubectl describe networkpolicy)",
        )
    evidence = tuple(dict.fromkeys(allowed))
    return CheckResult(name, CheckState.PASS, "NetworkPolicies allow application → NATS and DNS", evidence)


async def _pods(api: KubeApi, namespace: str | None, selector: str) -> list[PodRef]:
    path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
    document = await api.get_json("list pods", path, [("labelSelector", selector)])
    pods = (pod_info(item, ()) for item in document.get("items") or [] if isinstance(item, dict))
    return [
        PodRef(
            namespace=pod.namespace,
            labels=dict(pod.labels),
            ip=pod.ip or None,
            ports={port.name: port.port for port in pod.ports},
            protocols={port.name: port.protocol for port in pod.ports},
            name=pod.name,
        )
        for pod in pods
    ]


def _distinct(pods: list[PodRef]) -> list[PodRef]:
    """One pod per namespace and label set: replicas of an app are judged once."""
    seen: dict[tuple[str, frozenset[tuple[str, str]]], PodRef] = {}
    for pod in pods:
        seen.setdefault((pod.namespace, frozenset(pod.labels.items())), pod)
    return list(seen.values())


async def _policies(api: KubeApi, namespace: str) -> list[dict[str, Any]]:
    path = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
    document = await api.get_json("list networkpolicies", path)
    return list(document.get("items") or [])


async def _namespace_labels(api: KubeApi, namespace: str) -> dict[str, str]:
    try:
        document = await api.get_json("get namespace", f"/api/v1/namespaces/{namespace}")
    except KubeError as exc:
        if exc.code in ("403", "404"):
            return {}  # the automatic kubernetes.io/metadata.name label is still known
        raise
    return dict((document.get("metadata") or {}).get("labels") or {})


def _selector_text(selector: Any) -> str:
    return ",".join(f"{key}={value}" for key, value in (selector or {}).items())


def _target_port(service: dict[str, Any], port: int) -> int | str:
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("port") == port:
            return entry.get("targetPort", port)  # type: ignore[no-any-return]
    return port


_FIXES = {
    "dns_error": "the name does not resolve: check the Service exists and use its full DNS name",
    "connection_refused": "nothing listens on that port: check the NATS pods are running and the Service's targetPort",
    "timeout": "packets are dropped: check NetworkPolicies (kubectl get networkpolicy -A) and NATS's load",
    "network_error": "the network path is broken: check the CNI and any proxy between the application and NATS",
    "tls_error": "TLS does not match: set tls.ca_file / tls.server_name, or use tls:// when the server requires TLS",
    "auth_error": "the server refused the credentials: check the user, password, token, nkey or creds file",
    "protocol_error": "the port does not speak NATS: check the port in the URL (4222 for clients)",
    "pubsub_error": "publish or subscribe is not permitted: grant the probe's subject prefix (_nce.probe.>)",
}


CHECKS: tuple[Check, ...] = (
    service_exists,
    endpoints_ready,
    dns_fqdn,
    dns_short,
    tcp_connect,
    nats_handshake,
    network_policy,
    endpoint_probe,
)
