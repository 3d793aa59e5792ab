"""The guide's checklist as rules over the NATS URLs the objects hold, and `audit_objects`, which runs them.

Rules look only where a URL is written (a ConfigMap value, a literal env value), so each problem is reported once,
where it is fixed; env references to ConfigMaps only feed the inventory. Every rule has one signature; a new rule
is a new function in `REFERENCE_RULES`.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from exporter.audit.collect import UrlReference, collect
from exporter.audit.model import (
    DEFAULT_OPTIONS,
    AuditOptions,
    AuditResult,
    Finding,
    InputError,
    InventoryEntry,
    ObjectRef,
    Origin,
    Rule,
    count_violations,
)
from exporter.audit.objects import KubeObject
from exporter.audit.services import Resolution, ServiceIndex, ServiceRef, Status, resolve
from exporter.config.nats_url import HostKind, NatsUrl, UrlError, parse_url

PLACEHOLDER_SERVICE = ServiceRef("<service>", "<namespace>")
Usage = dict[ServiceRef, set[ObjectRef]]  # which objects mean each Service


@dataclass(frozen=True, slots=True)
class Server:
    """One server of a URL list, parsed and resolved. `url` is None when it does not parse (`error` says why)."""

    url: NatsUrl | None
    error: str
    resolution: Resolution

    @property
    def shown(self) -> str:
        return self.url.redacted() if self.url is not None else "<invalid URL>"  # never the raw text: credentials


@dataclass(frozen=True, slots=True)
class Use:
    """A reference and its servers: what every rule looks at."""

    ref: UrlReference
    servers: tuple[Server, ...]

    @property
    def shown(self) -> str:
        return ",".join(server.shown for server in self.servers)

    @property
    def written_here(self) -> bool:
        return self.ref.origin is not Origin.CONFIGMAP_REF

    def finding(self, rule: Rule, url: str, message: str, fix: str) -> Finding:
        ref = self.ref
        return Finding(rule, ref.obj.namespace, ref.obj, ref.container, ref.key, url, ref.source, message, fix)


@dataclass(frozen=True, slots=True)
class Context:
    options: AuditOptions
    services: ServiceIndex
    configmap_keys: Mapping[str, tuple[tuple[str, str], ...]]
    usage: Mapping[str, Usage]  # namespace -> which objects mean which Service (valid names only)

    def suggest(self, namespace: str, ip: str | None = None) -> ServiceRef | None:
        """The NATS Service a fix should name: the one with that ClusterIP, else the one most used in the
        namespace, else in the whole input, else the only known Service with `nats` in its name."""
        if ip is not None and ip in self.services.by_cluster_ip:
            return self.services.by_cluster_ip[ip]
        overall: Usage = defaultdict(set)
        for usage in self.usage.values():
            for service, users in usage.items():
                overall[service] |= users
        for usage in (self.usage.get(namespace, {}), overall):
            if usage:
                return _norm(self.services, usage)
        named = [ref for ref in self.services.services if "nats" in ref.name]
        return named[0] if len(named) == 1 else None

    def url_for(self, url: NatsUrl | None, service: ServiceRef | None) -> str:
        """`url` (redacted) pointing at `service`'s full DNS name; placeholders where the Service is not known."""
        base = url or NatsUrl("nats", "host", 4222)
        host = (service or PLACEHOLDER_SERVICE).fqdn(self.options.cluster_domain)
        return dataclasses.replace(base, host=host).redacted()


ReferenceRule = Callable[[Context, Use], Iterable[Finding]]


def invalid_url(ctx: Context, use: Use) -> Iterator[Finding]:
    for server in use.servers:
        if server.url is None:
            example = ctx.url_for(None, ctx.suggest(use.ref.obj.namespace))
            message = f"{use.ref.key} is not a URL a NATS client accepts: {server.error}"
            yield use.finding(Rule.INVALID_URL, server.shown, message, f"write it as {example}")


def ip_address(ctx: Context, use: Use) -> Iterator[Finding]:
    for server in use.servers:
        if server.url is None or server.url.host_kind is not HostKind.IP:
            continue
        host = server.url.host
        service = ctx.suggest(use.ref.obj.namespace, host)
        message = f"{use.ref.key} uses the IP address {host}, which breaks when NATS moves; a Service name follows it"
        if host in ctx.services.by_cluster_ip:
            message += f" ({host} is the ClusterIP of Service {service})"
        fix = f"use the Service name: {ctx.url_for(server.url, service)}"
        yield use.finding(Rule.IP_ADDRESS, server.shown, message, fix)


def hardcoded_in_workload(ctx: Context, use: Use) -> Iterator[Finding]:
    if use.ref.origin is not Origin.ENV_VALUE:
        return
    existing = ctx.configmap_keys.get(use.ref.obj.namespace, ())
    if existing:
        name, key = existing[0]
        fix = f"take it from the ConfigMap: valueFrom.configMapKeyRef {{name: {name}, key: {key}}}"
    else:
        fix = "move the URL into a ConfigMap (key NATS_URL) and take it from there with valueFrom.configMapKeyRef"
    message = f"env {use.ref.key} of container {use.ref.container} is a NATS URL written into the workload"
    yield use.finding(Rule.HARDCODED_IN_WORKLOAD, use.shown, message, fix)


def short_name_cross_namespace(ctx: Context, use: Use) -> Iterator[Finding]:
    for server in use.servers:
        resolution = server.resolution
        if resolution.status is not Status.CROSS_NAMESPACE or server.url is None:
            continue
        namespace, name = use.ref.obj.namespace, server.url.host
        where = ", ".join(ref.namespace for ref in resolution.candidates)
        message = f"the short name {name} resolves only inside namespace {namespace}; Service {name} is in {where}"
        urls = " or ".join(ctx.url_for(server.url, ref) for ref in resolution.candidates)
        yield use.finding(Rule.SHORT_NAME_CROSS_NAMESPACE, server.shown, message, f"use the full DNS name: {urls}")


def unknown_service(ctx: Context, use: Use) -> Iterator[Finding]:
    for server in use.servers:
        resolution, meant = server.resolution, server.resolution.meant
        if resolution.status is not Status.UNKNOWN or meant is None:
            continue
        message = f"there is no Service {meant.name} in namespace {meant.namespace}"
        if resolution.candidates:
            fix = f"use the existing Service: {ctx.url_for(server.url, resolution.candidates[0])}"
        elif (suggestion := ctx.suggest(use.ref.obj.namespace)) is not None:
            fix = f"use an existing NATS Service, e.g. {ctx.url_for(server.url, suggestion)}"
        else:
            fix = f"name the Service NATS runs behind, or create Service {meant.name} in namespace {meant.namespace}"
        yield use.finding(Rule.UNKNOWN_SERVICE, server.shown, message, fix)


REFERENCE_RULES: tuple[ReferenceRule, ...] = (
    invalid_url,
    ip_address,
    short_name_cross_namespace,
    unknown_service,
    hardcoded_in_workload,
)


def inconsistent_service(ctx: Context, uses: Sequence[Use]) -> Iterator[Finding]:
    """In each namespace, the Service most objects mean is the norm; a URL meaning another one is a finding when
    some other object uses the norm. Several definitions of one object (overlays, alternatives) are not
    different applications, so they never disagree with each other."""
    for namespace, usage in sorted(ctx.usage.items()):
        if len(usage) < 2:
            continue
        norm = _norm(ctx.services, usage)
        users = len(set().union(*usage.values()))
        for use in uses:
            if use.ref.obj.namespace != namespace or not usage[norm] - {use.ref.obj}:
                continue
            for server in use.servers:
                meant = _counted(server.resolution)
                if server.url is None or meant is None or meant == norm:
                    continue
                message = (
                    f"{use.ref.key} means Service {meant} while {namespace} mostly uses {norm} "
                    f"({len(usage[norm])} of {users} objects)"
                )
                fix = f"use the same Service as the other applications: {ctx.url_for(server.url, norm)}"
                yield use.finding(Rule.INCONSISTENT_SERVICE, server.shown, message, fix)


def _norm(services: ServiceIndex, usage: Usage) -> ServiceRef:
    """The Service a namespace should use: one that exists, then the most used, then by name for stability."""
    return min(usage, key=lambda ref: (services.known and not services.exists(ref), -len(usage[ref]), str(ref)))


def audit_objects(
    objects: Sequence[KubeObject],
    options: AuditOptions = DEFAULT_OPTIONS,
    *,
    services_known: bool | None = None,
    configmaps_known: bool = True,
    errors: Sequence[InputError] = (),
    notes: Sequence[str] = (),
) -> AuditResult:
    """Audit the objects of one input (manifests or a cluster). `services_known=None`: known if the objects
    include any Service; `errors` and `notes` from reading the input are carried into the result."""
    services = ServiceIndex.from_objects(objects, known=services_known)
    collected = collect(objects, options, configmaps_known=configmaps_known)
    uses = [_use(ref, services, options) for ref in collected.references]
    written = [use for use in uses if use.written_here]
    ctx = Context(options, services, collected.configmap_keys, _usage(written))
    findings = [finding for use in written for rule in REFERENCE_RULES for finding in rule(ctx, use)]
    findings.extend(inconsistent_service(ctx, written))
    ordered = tuple(sorted(findings, key=_finding_order))
    rule_notes = _rule_notes(services, services_known, ordered) if uses else ()
    all_notes = [*notes, *collected.notes, *rule_notes]
    return AuditResult(
        findings=ordered,
        inventory=tuple(_inventory(uses)),
        violations=count_violations(ordered),
        errors=tuple(errors),
        notes=tuple(dict.fromkeys(all_notes)),
        objects=len(objects),
        services_known=services.known,
    )


def _use(ref: UrlReference, services: ServiceIndex, options: AuditOptions) -> Use:
    servers = []
    for item in (part.strip() for part in ref.raw.split(",")):
        if not item:
            continue
        try:
            url = parse_url(item)
        except UrlError as exc:
            servers.append(Server(None, str(exc), Resolution(None, Status.OUTSIDE)))
            continue
        resolution = resolve(url.host, ref.obj.namespace, services, options.cluster_domain)
        servers.append(Server(url, "", resolution))
    return Use(ref, tuple(servers))


def _usage(uses: Iterable[Use]) -> dict[str, Usage]:
    """Per namespace, the objects meaning each Service."""
    usage: dict[str, Usage] = defaultdict(lambda: defaultdict(set))
    for use in uses:
        for server in use.servers:
            if (meant := _counted(server.resolution)) is not None:
                usage[use.ref.obj.namespace][meant].add(use.ref.obj)
    return dict(usage)


def _counted(resolution: Resolution) -> ServiceRef | None:
    """The Service a URL counts for when comparing applications: names that work (or could: Services not known),
    and a cross-namespace short name for the one Service it was meant to name. Unknown names are reported as
    unknown_service and not compared again."""
    if resolution.status in (Status.OK, Status.UNCHECKED):
        return resolution.meant
    if resolution.status is Status.CROSS_NAMESPACE and len(resolution.candidates) == 1:
        return resolution.candidates[0]
    return None


def _inventory(uses: Iterable[Use]) -> Iterator[InventoryEntry]:
    for use in uses:
        ref = use.ref
        for server in use.servers:
            meant = server.resolution.meant
            yield InventoryEntry(
                namespace=ref.obj.namespace,
                kind=ref.obj.kind,
                name=ref.obj.name,
                container=ref.container,
                key=ref.key,
                origin=ref.origin,
                host_kind=server.url.host_kind if server.url is not None else None,
                service=str(meant) if meant is not None else "",
                url=server.shown,
                source=ref.source,
            )


def _rule_notes(services: ServiceIndex, services_known: bool | None, findings: Sequence[Finding]) -> Iterator[str]:
    """Which rules could not run, said once; only when there are URLs to judge at all."""
    if services_known is not None:
        return  # the caller (the cluster reader) explains what it could not read
    if not services.known:
        yield (
            "no Services in the input: unknown_service and short_name_cross_namespace were not checked "
            "(include the NATS Service's manifest, or audit the live cluster with --cluster)"
        )
    elif any(finding.rule is Rule.UNKNOWN_SERVICE for finding in findings):
        yield (
            f"only the Services in the input ({len(services.services)}) are known: a NATS Service defined "
            "elsewhere is reported as unknown_service"
        )


_RULE_ORDER = {rule: index for index, rule in enumerate(Rule)}


def _finding_order(finding: Finding) -> tuple[str, int, str, str, int]:
    """File by file and line by line; live objects (no file) namespace by namespace, object by object."""
    source = finding.source
    group = source.path if source.in_file else finding.namespace
    return (group, source.line or 0, str(finding.object), finding.key, _RULE_ORDER[finding.rule])
