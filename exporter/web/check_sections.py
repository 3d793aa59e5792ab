"""`check`'s sections for the servers' view and the cluster probes: each run once, rendered as text and JSON.

The `check` command lives in `exporter.diagnostics`, which may not import the other features (the layers keep
features independent); the command line hands it `feature_sections`, which runs each feature the configuration
enables exactly once, through the features' own one-shot functions (`run_cluster_probe`, `ServerViewLoop.poll`),
and turns their results into report sections. A view of results like the status page, hence its place here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from nats.aio.client import Client

from exporter.cluster.result import ClusterResult
from exporter.cluster.runner import interval_budget, route_names, run_cluster_probe
from exporter.cluster.servers import ServerEndpoint, endpoints_from_addresses, endpoints_from_target
from exporter.config import Config, Target
from exporter.diagnostics.report import Section
from exporter.kube.client import KubeApi, KubeError
from exporter.kube.endpoints import ServiceEndpointCache, service_endpoints
from exporter.kube.names import service_name
from exporter.kube.pods import pod_info
from exporter.probe.client_options import connect_options, ssl_context
from exporter.servers.apps_view import apps_document
from exporter.servers.board import ServerViewBoard
from exporter.servers.loop import ServerViewLoop
from exporter.servers.model import ExpectedPod, Verdict
from exporter.servers.pods import expected_pod

GLOBAL_ACCOUNT_CAVEAT = (
    "close reasons are not visible: through the NATS port the servers list closed connections only for named "
    "accounts, not for the default account $G (use --server-view.source system or monitor to see them)"
)


async def feature_sections(config: Config, api: KubeApi | None) -> list[Section]:
    """Each target's cluster probes (when its config turns them on), then the servers' view (when it can run)."""
    sections: list[Section] = []
    for target in config.targets:
        settings = target.cluster
        if settings.enabled or settings.jetstream.enabled:
            sections.append(cluster_section(await cluster_once(config, target, api)))
    view = config.server_view
    if view.enabled and view.selector and api is not None and config.targets:
        sections.append(await server_view_section(config, config.targets[0], api))
    return sections


# --- the cluster: each server, each route, JetStream -------------------------------------------------------------


async def cluster_once(config: Config, target: Target, api: KubeApi | None) -> ClusterResult:
    """One interval of the target's cluster probes, against its Service's endpoints when they can be read."""
    settings = target.cluster
    endpoints = await _cluster_endpoints(config, target, api)
    budget = interval_budget(target, settings)
    if not settings.monitor_port:
        async with asyncio.timeout(budget):
            return await run_cluster_probe(target, settings, endpoints)
    async with aiohttp.ClientSession() as http, asyncio.timeout(budget):
        return await run_cluster_probe(target, settings, endpoints, http=http)


async def _cluster_endpoints(config: Config, target: Target, api: KubeApi | None) -> tuple[ServerEndpoint, ...]:
    service = service_name(target.servers[0].host, config.diagnostics.cluster_domain)
    if api is None or service is None:
        return endpoints_from_target(target)
    try:
        found = await service_endpoints(api, service.namespace or config.diagnostics.namespace, service.name)
    except KubeError:
        return endpoints_from_target(target)
    return endpoints_from_addresses(target, [(e.address, e.ready) for e in found]) or endpoints_from_target(target)


def cluster_section(result: ClusterResult) -> Section:
    lines: list[str] = []
    servers: list[dict[str, Any]] = []
    for server, name in zip(result.servers, route_names(result.servers), strict=True):
        healthz = {mode.value: ok for mode, ok in server.healthz.items()}
        state = "up" if server.ok else "down"
        why = "" if server.ok else f": {server.probe.reason or 'not verified'} {server.probe.detail}".rstrip()
        health = ", ".join(f"healthz {m}={'ok' if ok else 'failing'}" for m, ok in healthz.items())
        ready = {True: "ready", False: "not ready", None: ""}[server.ready]
        extra = " · ".join(part for part in (ready, health) if part)
        label = name if name == server.address else f"{name} ({server.address})"  # unnamed when it never answered
        lines.append(f"server {label}: {state}{why}" + (f" · {extra}" if extra else ""))
        if server.ready_but_unhealthy:
            lines.append(f"  fix: {name} is a ready endpoint but its /healthz fails: clients are sent to it")
        servers.append(
            {
                "server": name,
                "address": server.address,
                "ok": server.ok,
                "reason": None if server.ok else (server.probe.reason or "not_verified"),
                "detail": server.probe.detail,
                "ready": server.ready,
                "healthz": healthz,
            }
        )
    routes: list[dict[str, Any]] = []
    for probe in result.routes:
        timing = f" in {probe.delivery_seconds * 1000:.1f} ms" if probe.delivery_seconds is not None else ""
        account = "" if probe.account == "default" else f" (account {probe.account})"
        text = f"route {probe.from_server} -> {probe.to_server}{account}: {probe.result.value}{timing}"
        lines.append(text + (f" · {probe.detail}" if probe.detail and not probe.ok else ""))
        routes.append(
            {
                "from_server": probe.from_server,
                "to_server": probe.to_server,
                "account": probe.account,
                "result": probe.result.value,
                "delivery_seconds": probe.delivery_seconds,
                "detail": probe.detail,
            }
        )
    if len(result.routes) < result.pairs_total:
        lines.append(f"({len(result.routes)} of {result.pairs_total} route pairs probed in this round)")
    jetstream: dict[str, Any] | None = None
    js = result.jetstream
    if js is not None:
        if js.ok:
            replicas = ", ".join(f"{n} {state.value}" for state, n in js.replicas.items())
            lines.append(f"JetStream: ok (leader {js.leader or '?'}" + (f"; replicas {replicas})" if replicas else ")"))
        else:
            phase = f" at {js.failed_phase.value}" if js.failed_phase else ""
            lines.append(f"JetStream: failed{phase}: {js.reason.value if js.reason else ''} {js.detail}".rstrip())
        jetstream = {
            "ok": js.ok,
            "reason": js.reason.value if js.reason else None,
            "failed_phase": js.failed_phase.value if js.failed_phase else None,
            "detail": js.detail,
            "leader": js.leader,
            "replicas": {state.value: n for state, n in js.replicas.items()},
        }
    ok = bool(result.servers) and all(s.ok for s in result.servers) and all(r.ok for r in result.routes)
    ok = ok and (js is None or js.ok)
    if not result.servers:
        lines.append("no server to probe")
    return Section(
        name="cluster",
        title="Each server, each route, JetStream",
        ok=ok,
        target=result.target,
        lines=tuple(lines),
        document={"servers": servers, "routes": routes, "pairs_total": result.pairs_total, "jetstream": jetstream},
    )


# --- the servers' view: application pods not connected ----------------------------------------------------------


async def server_view_section(config: Config, target: Target, api: KubeApi) -> Section:
    """Poll the servers once and join with the application pods listed once; the pods that are not connected."""
    title = "Application pods not connected (as the NATS servers see them)"
    try:
        pods = await _list_app_pods(config, api)
    except KubeError as exc:
        lines = (f"cannot list the application pods: {exc}",)
        return Section("application_pods", title, False, target.name, lines, {"error": str(exc)})
    settings = config.server_view
    endpoints = ServiceEndpointCache(api, target, config.diagnostics.namespace, config.diagnostics.cluster_domain)
    await endpoints.refresh()

    async def connect() -> Client:
        async def ignore(_: Exception) -> None:
            return None

        options = connect_options(
            target, target.servers, error_cb=ignore, name="nats-connectivity-server-view", context=ssl_context(target)
        )
        client = Client()
        await client.connect(**options, allow_reconnect=False, max_reconnect_attempts=1)
        return client

    board = ServerViewBoard(target.name, per_pod=config.logs.per_pod)
    loop = ServerViewLoop(
        settings,
        board,
        pods=lambda: pods,
        logs=dict,
        connect=connect,
        monitor_urls=lambda: [f"http://{e.address}:{settings.monitor_port}" for e in endpoints.latest],
        expected_servers=lambda: sum(1 for e in endpoints.latest if e.ready),
    )
    try:
        await loop.poll()
    finally:
        await loop.close()
    return render_server_view(board, title)


async def _list_app_pods(config: Config, api: KubeApi) -> list[ExpectedPod]:
    settings = config.server_view
    selector = settings.selector or ""
    found: dict[tuple[str, str], ExpectedPod] = {}
    for namespace in settings.namespaces or (None,):
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
        listed = await api.get_json("list pods", path, [("labelSelector", selector)])
        for item in listed.get("items") or ():
            if isinstance(item, dict):
                pod = expected_pod(pod_info(item, config.logs.app_labels))
                found[pod.key] = pod
    return list(found.values())


def render_server_view(board: ServerViewBoard, title: str) -> Section:
    """The section from the board's snapshot: `/apps`'s document, and the lines a person reads."""
    document = apps_document(board)
    view = document["view"]
    lines: list[str] = []
    if view is None:
        return Section("application_pods", title, False, board.target, ("the servers were not asked",), document)
    if not view["ok"]:
        lines.append(f"no view: {view['failure']} {view['detail']}".rstrip())
    elif not view["complete"]:
        expected = view["servers_expected"] or "?"
        lines.append(f"partial view: {view['servers_answered']} of {expected} servers answered")
    else:
        lines.append(f"{view['servers_answered']} server(s) answered: {', '.join(view['servers'])}")
    if not view["closed_connections_visible"]:
        lines.append(f"note: {GLOBAL_ACCOUNT_CAVEAT}")
    for app in document["apps"]:
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(app["verdicts"].items()) if n)
        lines.append(
            f"app {app['namespace']}/{app['app']}: {app['connected']} of {app['expected']} pods connected"
            + (f" ({verdicts})" if verdicts else "")
        )
    bad = [pod for pod in document["pods"] if pod["verdict"] not in (None, Verdict.CONNECTED.value)]
    for pod in bad:
        lines.append(
            f"pod {pod['namespace']}/{pod['pod']} ({pod['ip'] or 'no IP'}): {pod['verdict']} · {pod['detail']}"
        )
    if not document["pods"]:
        lines.append("no application pod matched the selector")
    ok = bool(view["ok"]) and not bad
    return Section("application_pods", title, ok, board.target, tuple(lines), {**document, "not_connected": bad})
