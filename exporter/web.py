"""The HTTP surface: /metrics, the landing page and the health endpoints (aiohttp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from . import __version__
from .page import render

if TYPE_CHECKING:
    from .app import Exporter


def make_app(exporter: Exporter) -> web.Application:
    app = web.Application()
    metrics_handler = make_aiohttp_handler(exporter.metrics.registry)

    async def landing_page(request: web.Request) -> web.Response:
        return web.Response(text=render(exporter.board, version=__version__), content_type="text/html")

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Healthy\n")

    async def ready(request: web.Request) -> web.Response:
        if exporter.board.ready:
            return web.Response(text="Ready\n")
        return web.Response(status=503, text="Not ready: waiting for the first probe of every target\n")

    app.router.add_get("/", landing_page)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    return app
