"""The HTTP surface (aiohttp): /metrics, /probe, the status and config pages, health, readiness and reload."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Protocol

import yaml
from aiohttp import web

from exporter import __version__
from exporter.config import Config
from exporter.config.view import redacted_config
from exporter.exposition.scrape import Exposition
from exporter.servers.apps_view import apps_document
from exporter.state import ExporterState
from exporter.web.page import render
from exporter.web.probe_endpoint import UnknownTarget, deadline, debug_trace, exposition, probe_now, resolve_target
from exporter.web.security import WebSecurity


class Served(Protocol):
    """What the views read and the one action they may take (reload): `exporter.app.Exporter` provides it."""

    config: Config
    state: ExporterState
    exposition: Exposition
    web_security: WebSecurity

    async def reload(self) -> tuple[bool, str]: ...


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(exporter: Served) -> web.Application:
    @web.middleware
    async def web_security(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The web config's rules before any handler: rate limit (429), client SANs (403), basic auth (401)."""
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        refusal = await exporter.web_security.refusal(request.headers.get("Authorization"), peercert)
        if refusal is HTTPStatus.UNAUTHORIZED:
            return web.Response(
                status=401,
                text="Unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="nats-connectivity-exporter", charset="UTF-8"'},
            )
        if refusal is not None:
            return web.Response(status=refusal, text=f"{refusal.phrase}\n")
        return await handler(request)

    async def configured_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(exporter.web_security.config.headers)

    async def metrics(request: web.Request) -> web.Response:
        gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        body, content_type = exporter.exposition.response(request.headers.get("Accept", ""), gzipped=gzipped)
        headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"}
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def probe(request: web.Request) -> web.Response:
        requested = request.query.get("target", "")
        if not requested:
            return web.Response(status=400, text="the target parameter is missing: /probe?target=NAME\n")
        try:
            target = resolve_target(exporter.config, requested)
        except UnknownTarget as exc:
            return web.Response(status=400, text=f"{exc}\n")
        timeout = deadline(target, request.headers.get("X-Prometheus-Scrape-Timeout-Seconds"))
        result = await probe_now(target, timeout)
        if request.query.get("debug", "").lower() in ("true", "1"):
            body, _ = exposition(target, result, "")
            return web.Response(text=debug_trace(target, result, timeout) + "\nMetrics:\n" + body.decode())
        body, content_type = exposition(target, result, request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def landing_page(request: web.Request) -> web.Response:
        state = exporter.state
        page = render(
            state.probes,
            version=__version__,
            tally=state.logs,
            diagnoses=list(state.diagnostics.latest.values()),
            server_view=state.server_view,
            cluster=state.cluster,
        )
        return web.Response(text=page, content_type="text/html")

    async def config_page(request: web.Request) -> web.Response:
        document = redacted_config(exporter.config, exporter.web_security.config)
        return web.Response(text=yaml.safe_dump(document, sort_keys=False), content_type="text/plain")

    async def apps(request: web.Request) -> web.Response:
        board = exporter.state.server_view
        if board is None:
            document: dict[str, Any] = {
                "enabled": False,
                "why": "the servers' view is off: it needs --apps.selector (or --logs.selector), Kubernetes access "
                "and --server-view.source other than off",
                "pods": [],
            }
        else:
            document = {"enabled": True, **apps_document(board)}
        return web.json_response(document, dumps=lambda value: json.dumps(value, indent=2, sort_keys=True))

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Healthy\n")

    async def ready(request: web.Request) -> web.Response:
        if exporter.state.ready:
            return web.Response(text="Ready\n")
        return web.Response(status=503, text="Not ready: waiting for the first probe of every target\n")

    async def reload(request: web.Request) -> web.Response:
        ok, message = await exporter.reload()
        return web.Response(status=200 if ok else 500, text=message + "\n")

    app = web.Application(middlewares=[web_security])
    app.on_response_prepare.append(configured_headers)
    app.router.add_get("/", landing_page)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/probe", probe)
    app.router.add_get("/config", config_page)
    app.router.add_get("/apps", apps)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_post("/-/reload", reload)  # aiohttp answers 405 to every other method
    return app


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether `Accept-Encoding` admits gzip (RFC 9110 12.5.3): named or `*` with a non-zero q, `gzip;q=0` refuses."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, text = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(text)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding.lower()] = weight
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0
