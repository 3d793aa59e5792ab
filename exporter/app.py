"""Wiring: the status board, the metrics, the workers under their supervisor, and the HTTP server."""

from __future__ import annotations

import asyncio
import logging
import socket

from aiohttp import web

from .config import Config, Target
from .exposition import Exposition
from .metrics import ExporterMetrics
from .probe.result import ProbeResult
from .probe.scheduler import probe_forever
from .probe.session import Session
from .status import State, StatusBoard
from .supervisor import Supervisor
from .web import make_app

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 3.0  # seconds for in-flight probes to finish after SIGTERM; the whole exit stays under 5 s


class Exporter:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.board = StatusBoard()
        self.metrics = ExporterMetrics(self.board)
        self.exposition = Exposition(self.metrics, self.board)
        self.board.on_change = self.metrics.on_change = self.exposition.changed
        self.bound_addresses: list[tuple[str, int]] = []
        self._stopping = asyncio.Event()
        self.listening = asyncio.Event()  # set once the HTTP server accepts connections

    @property
    def active_targets(self) -> tuple[Target, ...]:
        return self.config.targets if self.config.probing_enabled else ()

    def record(self, result: ProbeResult) -> None:
        """The one place a probe result enters the exporter: board, metrics, and a log line if the state changed."""
        target_metrics = self.metrics.targets.get(result.target)
        if target_metrics is None:
            return  # the target was removed while its probe ran
        target_metrics.record_probe(result)
        transition = self.board.record(result)
        if transition is None:
            return
        fields = {
            "target": result.target,
            "previous": transition.previous.value,
            "state": transition.current.value,
        }
        if transition.current is State.DOWN:
            log.warning("target down", extra={**fields, "reason": transition.reason, "detail": transition.detail})
        else:
            log.info("target up", extra={**fields, "server_url": result.server_url})

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Serve until `stop()`; then drain the workers and close every connection."""
        runner = web.AppRunner(make_app(self), access_log=None, handler_cancellation=True)
        await runner.setup()
        host, port = self.config.listen_host_port
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.bound_addresses = [sock.getsockname()[:2] for sock in sockets if sock.family in _INET]
        for address in self.bound_addresses:
            log.info("listening", extra={"address": _format_address(address)})
        self.listening.set()
        if not self.config.probing_enabled:
            log.info("probing disabled (NATS_ENABLED=false); serving metrics only")
        try:
            async with Supervisor() as supervisor:
                for target in self.active_targets:
                    self._start_target(supervisor, target)
                await self._stopping.wait()
                log.info("shutting down")
                await supervisor.close(grace=SHUTDOWN_GRACE)
        finally:
            await runner.cleanup()

    def _start_target(self, supervisor: Supervisor, target: Target) -> None:
        self.board.add_target(target)
        target_metrics = self.metrics.add_target(target.name)
        supervisor.start(f"probe:{target.name}", lambda: probe_forever(target, self.record, self._stopping))
        if target.session:
            session = Session(target, target_metrics, self.board)
            supervisor.start(f"session:{target.name}", lambda: session.run(self._stopping))


_INET = (socket.AF_INET, socket.AF_INET6)


def _format_address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
