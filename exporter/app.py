"""Wiring and lifecycle: the only module that knows every feature.

It builds the state (what the exporter knows, and the doors results enter by), starts each feature's workers
under one supervisor with that state's doors as their callbacks, serves the web views, and applies reloads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial

import aiohttp
from aiohttp import web
from nats.aio.client import Client

from exporter import __version__
from exporter.agent.cadence import Cadence, cadence_forever
from exporter.agent.service import NodeLogs
from exporter.agent.settings import AgentLogSettings
from exporter.audit.runner import audit_forever
from exporter.cluster.runner import cluster_forever
from exporter.cluster.servers import ServerEndpoint, endpoints_from_addresses, endpoints_from_target
from exporter.config import Config, ConfigError, Target
from exporter.config.agent import AgentSettings
from exporter.config.nats_url import NatsUrl
from exporter.config.server_view import Source
from exporter.config.webconfig import WebConfig, load_web_config
from exporter.diagnostics.runner import Incidents, diagnose_forever
from exporter.exposition.scrape import Exposition
from exporter.kube.client import KubeApi, kube_access_configured
from exporter.kube.endpoints import ServiceEndpointCache
from exporter.kube.names import service_name
from exporter.kube.pods import PodIndex, PodSink, watch_pods
from exporter.logwatch.metrics import LogCollector
from exporter.logwatch.service import LogWatch
from exporter.logwatch.tally import LogTally
from exporter.probe.client_options import connect_options, ssl_context
from exporter.probe.nats_client import close_quietly
from exporter.probe.result import ProbeResult
from exporter.probe.scheduler import probe_forever
from exporter.probe.session import Session
from exporter.runtime.process_log import configure, configure_level
from exporter.runtime.supervisor import Supervisor
from exporter.servers.board import ServerViewBoard
from exporter.servers.loop import ServerViewLoop, server_view_forever
from exporter.servers.model import LogEntry, PodKey
from exporter.servers.pods import expected_pod
from exporter.state import ExporterState
from exporter.web.security import WebSecurity
from exporter.web.server import make_app

log = logging.getLogger(__name__)

HTTP_SHUTDOWN_TIMEOUT = 1.0
RESOLVER_THREADS = 64
CLIENT_CLOSE_TIMEOUT = 1.0
SHUTDOWN_GRACE = 3.0  # seconds for in-flight probes to finish after SIGTERM; the whole exit stays under 5 s


class Exporter:
    def __init__(
        self,
        config: Config,
        *,
        reload_source: Callable[[], Config] | None = None,
        environ: Mapping[str, str] | None = None,
        agent: AgentSettings | None = None,
    ) -> None:
        """`reload_source` re-reads the configuration (SIGHUP, POST /-/reload); it raises ConfigError if invalid.

        `agent` makes this a node agent: the same probes, the application logs of this node read from the files
        kubelet writes, and nothing cluster-wide (no diagnostics, audit or servers' view).

        Raises ConfigError when the web config file (TLS, basic auth) is invalid.
        """
        self.config = config
        self.agent = agent
        self._reload_source = reload_source
        environ = os.environ if environ is None else environ
        self._environ = environ  # a reload that changes --kubeconfig builds its client from it too
        self._reload_lock = asyncio.Lock()
        self._supervisor: Supervisor | None = None
        self.state = ExporterState()
        self.board = self.state.probes
        self.metrics = self.state.metrics
        self.web_security = WebSecurity(
            config.web_config_file,
            load_web_config(config.web_config_file) if config.web_config_file else WebConfig(),
            on_reload=self._web_config_reloaded,
        )
        self.exposition = Exposition(self.metrics, self.board)
        self.state.on_change(self.exposition.changed)
        self.kube: KubeApi | None = None
        if kube_access_configured(config.kubeconfig, environ):  # never an implicit ~/.kube/config
            self.kube = KubeApi(
                config.kubeconfig, environ=environ, count_error=self.metrics.count_kubernetes_error, home_config=False
            )
        elif config.logs.follows_pods:
            raise ConfigError(
                "--logs.selector", config.logs.selector, "Kubernetes access: in-cluster, --kubeconfig or KUBECONFIG"
            )
        self._endpoint_caches: dict[tuple[str, tuple[NatsUrl, ...]], ServiceEndpointCache] = {}
        self.cadence = Cadence()  # the agent's probing cadence (see agent/cadence.py); a server's never changes
        self.logwatch: LogWatch | None = None
        self.node_logs: NodeLogs | None = None
        self.app_pods = PodIndex()  # the application pods, for the servers' view: fed by the one pod watch
        if agent is not None:
            self._prepare_node_logs(agent)
        elif config.logs.enabled:
            self.logwatch = LogWatch(config.logs, self.kube)
            self.state.attach_logs(self.logwatch.tally, self.logwatch.collector)
        self.bound_addresses: list[tuple[str, int]] = []
        self.incidents = Incidents()  # targets whose state changed, for the diagnostics to look at at once
        self._stopping = asyncio.Event()
        self.listening = asyncio.Event()  # set once the HTTP server accepts connections

    @property
    def active_targets(self) -> tuple[Target, ...]:
        return self.config.targets if self.config.probing_enabled else ()

    def _web_config_reloaded(self, accepted: bool) -> None:
        self.metrics.reload_state.web_config_successful = accepted
        self.exposition.invalidate()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Serve until `stop()`; then drain the workers and close every connection."""
        # The system resolver runs in the loop's default thread pool, and a cancelled lookup keeps its thread until
        # the resolver gives up (tens of seconds when cluster DNS is unreachable). A few per target fit here.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=RESOLVER_THREADS, thread_name_prefix="resolver")
        )
        # keepalive_timeout closes idle connections and, since aiohttp arms it when a connection opens and only
        # a complete request disarms it, connections that trickle their headers too (slowloris).
        runner = web.AppRunner(
            make_app(self),
            access_log=None,
            handler_cancellation=True,
            keepalive_timeout=self.config.idle_timeout,
            shutdown_timeout=HTTP_SHUTDOWN_TIMEOUT,  # an in-flight /probe must not hold SIGTERM past 5 s
        )
        await runner.setup()
        host, port = self.config.listen_host_port
        site = web.TCPSite(
            runner, host, port, reuse_address=True, ssl_context=self.web_security.listening_context, backlog=512
        )
        await site.start()
        # Every address the site listens on (":0" in tests picks a port; "" may bind IPv4 and IPv6).
        self.bound_addresses = [
            (str(address[0]), int(address[1])) for address in runner.addresses if isinstance(address, tuple)
        ]
        for address in self.bound_addresses:
            log.info("listening", extra={"address": _format_address(address)})
        self.listening.set()
        if not self.config.probing_enabled:
            log.info("probing disabled (NATS_ENABLED=false); serving metrics only")
        try:
            async with Supervisor() as supervisor:
                self._supervisor = supervisor
                if self.web_security.path:
                    supervisor.start("web-config", lambda: self.web_security.watch(self._stopping))
                if self.logwatch is not None:
                    self.logwatch.start(supervisor, self._stopping, also=self._app_pods_sink())
                if self.node_logs is not None:
                    self._start_node_logs(supervisor, self.node_logs)
                if self.agent is not None:
                    self._start_cadence(supervisor, self.agent)
                if self.agent is None:  # agents look from their node only: nothing cluster-wide
                    self._start_diagnostics(supervisor)
                    self._start_audit(supervisor)
                    self._start_server_view(supervisor)
                for target in self.active_targets:
                    self._start_target(supervisor, target)
                await self._stopping.wait()
                log.info("shutting down")
                await supervisor.close(grace=SHUTDOWN_GRACE)
        finally:
            self._supervisor = None
            if self.node_logs is not None:
                await self.node_logs.close()
            if self.kube is not None:
                await self.kube.close()
            await runner.cleanup()

    async def reload(self) -> tuple[bool, str]:
        """Re-read the configuration; apply it whole, or keep the running one untouched if it is invalid."""
        async with self._reload_lock:
            if self._reload_source is None:
                return False, "reload is not available: the exporter was started without a configuration source"
            try:
                config = self._reload_source()
            except ConfigError as exc:
                return self._reload_failed(str(exc))
            except Exception as exc:  # a reload boundary: a bug in validation must not look like success
                log.exception("configuration reload crashed")
                return self._reload_failed(f"unexpected {type(exc).__name__}")
            refused = self._refusal(config)
            if refused is not None:
                return self._reload_failed(refused)
            previous_config = self.config
            previous = {target.name: target for target in self.active_targets}
            self.config = config
            await self._apply_targets(previous)
            await self._apply_kube_and_logs(previous_config)
            self.metrics.reload_state.successful = True
            self.metrics.reload_state.last_success_at = time.time()
            self.exposition.invalidate()
            if config.log_format != previous_config.log_format:
                configure(config.log_level, config.log_format)
            else:
                configure_level(config.log_level)
            names = ",".join(target.name for target in self.active_targets)
            log.info("configuration reloaded", extra={"targets": names})
            return True, f"configuration reloaded; targets: {names or 'none'}"

    def _refusal(self, config: Config) -> str | None:
        """Why `config` cannot be applied without a restart, naming the setting; None when all of it can."""
        for setting, flag in _RESTART_ONLY:
            if getattr(config, setting) != getattr(self.config, setting):
                return f"{flag} changed, and it applies only at start: restart the exporter to change it"
        if config.logs.follows_pods and not kube_access_configured(config.kubeconfig, self._environ):
            return "--logs.selector needs Kubernetes access: in-cluster, --kubeconfig or KUBECONFIG"
        if self.agent is not None and (config.logs != self.config.logs or config.kubeconfig != self.config.kubeconfig):
            return "an agent reads its node's log files with the logs.* and kubeconfig it started with: restart it"
        return None

    async def _apply_kube_and_logs(self, old: Config) -> None:
        """A new kubeconfig means a new client for every feature that uses it; new log settings a new log watch.

        The workers concerned are stopped and started again with the new settings: their counters start afresh,
        as after a restart, and nothing keeps running on the settings the operator just replaced.
        """
        supervisor, config = self._supervisor, self.config
        kube_changed = config.kubeconfig != old.kubeconfig
        if kube_changed:
            previous_kube = self.kube
            self.kube = None
            if kube_access_configured(config.kubeconfig, self._environ):  # never an implicit ~/.kube/config
                self.kube = KubeApi(
                    config.kubeconfig,
                    environ=self._environ,
                    count_error=self.metrics.count_kubernetes_error,
                    home_config=False,
                )
            self._endpoint_caches.clear()  # they read through the old client
            if supervisor is not None:
                await self._stop_workers(supervisor, ("pods:", "logfile:", "logs:", "audit", "app-pods:", "cluster:"))
                for target in self.active_targets:
                    self._start_cluster(supervisor, target)
            if previous_kube is not None:
                await previous_kube.close()
        if kube_changed or config.logs != old.logs:
            if supervisor is not None:
                await self._stop_workers(supervisor, ("pods:", "logfile:", "logs:"))
            if self.logwatch is not None:
                self.metrics.registry.unregister(self.logwatch.collector)
                self.state.logs = None
            self.logwatch = LogWatch(config.logs, self.kube) if config.logs.enabled else None
            if self.logwatch is not None:
                self.state.attach_logs(self.logwatch.tally, self.logwatch.collector)
                if supervisor is not None:
                    self.logwatch.start(supervisor, self._stopping, also=self._app_pods_sink())
        if supervisor is not None:
            # The audit reads the diagnostics settings and the targets' namespaces, the servers' view the first
            # target, the app selector and the log watch it shares: both start afresh each reload.
            await supervisor.stop("audit")
            self._start_audit(supervisor)
            await self._stop_workers(supervisor, ("server-view", "nats-endpoints:", "app-pods:"))
            self.state.detach_server_view()
            self.app_pods = PodIndex() if self.logwatch is None or self._app_pods_sink() is None else self.app_pods
            self._start_server_view(supervisor)

    @staticmethod
    async def _stop_workers(supervisor: Supervisor, prefixes: tuple[str, ...]) -> None:
        for name in supervisor.names():
            if name.startswith(prefixes):
                await supervisor.stop(name)

    def _reload_failed(self, error: str) -> tuple[bool, str]:
        self.metrics.reload_state.successful = False
        self.exposition.invalidate()
        log.error("configuration reload failed; keeping the running configuration", extra={"error": error})
        return False, f"reload failed, running configuration kept: {error}"

    async def _apply_targets(self, previous: dict[str, Target]) -> None:
        supervisor = self._supervisor
        if supervisor is None:
            return
        wanted = {target.name: target for target in self.active_targets}
        for name, old in previous.items():
            if wanted.get(name) != old:
                await supervisor.stop(f"probe:{name}")
                await supervisor.stop(f"session:{name}")
                await supervisor.stop(f"cluster:{name}")
                if name not in wanted:
                    self.state.remove_target(name)
        for name, target in wanted.items():
            if previous.get(name) != target:
                self._start_target(supervisor, target)
        await supervisor.stop("diagnostics")
        self._start_diagnostics(supervisor)

    def _start_audit(self, supervisor: Supervisor) -> None:
        kube, settings, record = self.kube, self.config.diagnostics, self.state.record_audit
        if kube is None:
            return
        namespaces: tuple[str, ...] = ()
        if settings.app_namespaces:
            # The applications' namespaces and the NATS Services' (their Services must be seen, or every URL
            # would look like an unknown service).
            services = (service_name(t.servers[0].host, settings.cluster_domain) for t in self.active_targets)
            nats = tuple(service.namespace or settings.namespace for service in services if service is not None)
            namespaces = tuple(dict.fromkeys((*settings.app_namespaces, *nats)))
        supervisor.start("audit", lambda: audit_forever(kube, settings, record, self._stopping, namespaces))

    def _start_diagnostics(self, supervisor: Supervisor) -> None:
        targets, settings, kube, record = (
            self.active_targets,
            self.config.diagnostics,
            self.kube,
            self.state.record_diagnosis,
        )
        if targets:
            supervisor.start(
                "diagnostics",
                lambda: diagnose_forever(
                    targets, settings, kube, record, self._stopping, latest=self._latest_probe, incidents=self.incidents
                ),
            )

    def _latest_probe(self, name: str) -> ProbeResult | None:
        status = self.board.get(name)
        return status.last if status is not None else None

    def _record_probe(self, result: ProbeResult) -> None:
        """The state's door for probe results, plus: a target that changed state has its diagnostics run at once."""
        transition = self.state.record_probe(result)
        if transition is not None and transition.current is not transition.previous:
            self.incidents.changed(result.target)

    def _prepare_node_logs(self, agent: AgentSettings) -> None:
        """The node agent's log reading: this node's application pods, from kubelet's files."""
        selector, kube = self.config.logs.selector, self.kube
        if selector is None or kube is None:
            return
        tally = LogTally(per_pod=self.config.logs.per_pod)
        app_labels = self.config.logs.app_labels

        async def this_nodes_pods(sink: PodSink, stopping: asyncio.Event) -> None:
            field_selector = f"spec.nodeName={agent.node}"
            await watch_pods(kube, None, selector, app_labels, sink, stopping, field_selector=field_selector)

        settings = AgentLogSettings.from_log_settings(
            self.config.logs, log_dir=agent.log_dir, state_dir=agent.state_dir
        )
        self.node_logs = NodeLogs(settings, tally, this_nodes_pods)
        self.state.attach_logs(tally, LogCollector(tally))
        self.state.attach_collector(self.node_logs.collector())

    def _start_cadence(self, supervisor: Supervisor, agent: AgentSettings) -> None:
        """Agents scale their probe interval with √nodes where asked, and pause probing on a NotReady or cordoned
        node; without the right to read Nodes they probe at their interval."""
        kube = self.kube
        if kube is None:
            return
        applying: set[asyncio.Task[None]] = set()

        def changed(cadence: Cadence) -> None:
            task = asyncio.get_running_loop().create_task(self._apply_cadence(supervisor, cadence))
            applying.add(task)  # keep a reference until it is done
            task.add_done_callback(applying.discard)

        supervisor.start(
            "node-cadence",
            lambda: cadence_forever(kube, agent.node, agent.interval_per_node, changed, self._stopping),
        )

    async def _apply_cadence(self, supervisor: Supervisor, cadence: Cadence) -> None:
        async with self._reload_lock:  # a reload restarts probes too: one at a time
            self.cadence = cadence
            for target in self.active_targets:
                await supervisor.stop(f"probe:{target.name}")
                self._start_probe(supervisor, target)

    def _start_probe(self, supervisor: Supervisor, target: Target) -> None:
        """The one way a probe worker starts: on an agent, at the cadence its node allows (none while paused)."""
        if self.cadence.paused is not None:
            return
        per_node = self.agent.interval_per_node if self.agent is not None else None
        interval = self.cadence.interval(target.interval, per_node)
        if interval != target.interval:
            target = replace(target, interval=interval, timeout=min(target.timeout, interval))
        supervisor.start(f"probe:{target.name}", lambda: probe_forever(target, self._record_probe, self._stopping))

    def _start_node_logs(self, supervisor: Supervisor, node_logs: NodeLogs) -> None:
        supervisor.start("agent-logs", lambda: node_logs.run(self._stopping))

    def _app_pods_sink(self) -> PodSink | None:
        """The log watch also feeds the servers' view, when both look at the same pods (never list them twice)."""
        view, logs = self.config.server_view, self.config.logs
        if view.source is Source.OFF or view.selector is None:
            return None
        if (view.selector, view.namespaces) == (logs.selector, logs.namespaces):
            return self.app_pods
        return None

    def _start_server_view(self, supervisor: Supervisor) -> None:
        """Which application pods the NATS servers see: CONNZ joined with the pods, for the first target."""
        settings, kube = self.config.server_view, self.kube
        if settings.source is Source.OFF or settings.selector is None or kube is None or not self.active_targets:
            return
        if self.config.logs.shard != 0:
            return  # one view of the whole cluster is enough: shard 0 runs it, other replicas would duplicate it
        target = self.active_targets[0]
        board = ServerViewBoard(target.name, per_pod=self.config.logs.per_pod)
        self.state.attach_server_view(board)
        if self.logwatch is None or self._app_pods_sink() is None:  # no log watch of the same pods to share
            selector, app_labels, index = settings.selector, self.config.logs.app_labels, self.app_pods
            for namespace in settings.namespaces or (None,):
                watch = partial(watch_pods, kube, namespace, selector, app_labels, index, self._stopping)
                supervisor.start(f"app-pods:{namespace or '*'}", watch)
        endpoints = self._endpoints_of(target, kube)
        supervisor.start(
            f"nats-endpoints:{target.name}", lambda: endpoints.refresh_forever(settings.interval, self._stopping)
        )

        async def connect() -> Client:
            async def ignore(_: Exception) -> None:
                return None

            options = connect_options(target, target.servers, error_cb=ignore, name="nats-connectivity-server-view",
                                      context=ssl_context(target))  # fmt: skip
            client = Client()
            try:
                await client.connect(**options, allow_reconnect=False, max_reconnect_attempts=1)
            except BaseException:
                await close_quietly(client, CLIENT_CLOSE_TIMEOUT)  # nats-py leaves a failed connect's socket open
                raise
            return client

        def log_view() -> dict[PodKey, LogEntry]:
            tally = self.state.logs
            if tally is None:
                return {}
            return {
                (key[0], key[2]): LogEntry(state.value, tally.pod_event_at.get(key), tally.pod_lost_at.get(key))
                for key, state in tally.pod_states.items()
                if key[2]
            }

        loop = ServerViewLoop(
            settings,
            board,
            pods=lambda: [expected_pod(pod) for pod in self.app_pods.pods()],
            logs=log_view,
            connect=connect,
            monitor_urls=lambda: [f"http://{e.address}:{settings.monitor_port}" for e in endpoints.latest],
            expected_servers=lambda: sum(1 for e in endpoints.latest if e.ready),
        )
        supervisor.start("server-view", lambda: server_view_forever(loop, self._stopping))

    def _start_cluster(self, supervisor: Supervisor, target: Target) -> None:
        """Each server, each route and the JetStream canary of one target, when its config asks for them. An agent
        probes each NATS server from its node whatever the config says (a node that cannot reach one NATS pod shows
        there), and leaves routes and JetStream, the cluster's own business, to `serve`."""
        settings = target.cluster
        if self.agent is not None:
            if self.kube is None:
                return
            jetstream_off = replace(settings.jetstream, enabled=False)
            settings = replace(settings, enabled=True, max_route_pairs=0, jetstream=jetstream_off)
        if not (settings.enabled or settings.jetstream.enabled):
            return
        kube = self.kube
        service = service_name(target.servers[0].host, self.config.diagnostics.cluster_domain)
        cache = self._endpoints_of(target, kube) if kube is not None and service is not None else None

        async def endpoints() -> tuple[ServerEndpoint, ...]:
            found = await cache.current(max_age=target.interval) if cache is not None else []
            if not found:  # outside Kubernetes, or the EndpointSlices cannot be read: the target's own URLs
                return endpoints_from_target(target)
            return endpoints_from_addresses(target, [(e.address, e.ready, e.pod) for e in found])

        board = self.state.cluster

        async def probe_cluster() -> None:
            # /healthz is asked over HTTP when a monitoring port is set: one session for the loop's whole life.
            if not settings.monitor_port:
                await cluster_forever(target, settings, endpoints, board, stop=self._stopping)
                return
            async with aiohttp.ClientSession() as http:
                await cluster_forever(target, settings, endpoints, board, http=http, stop=self._stopping)

        supervisor.start(f"cluster:{target.name}", probe_cluster)

    def _endpoints_of(self, target: Target, kube: KubeApi) -> ServiceEndpointCache:
        """One reading of a target's NATS Service endpoints, shared by every feature that needs it."""
        key = (target.name, target.servers)
        cache = self._endpoint_caches.get(key)
        if cache is None:
            diagnostics = self.config.diagnostics
            cache = ServiceEndpointCache(kube, target, diagnostics.namespace, diagnostics.cluster_domain)
            self._endpoint_caches[key] = cache
        return cache

    def _start_target(self, supervisor: Supervisor, target: Target) -> None:
        self.state.add_target(target)
        self._start_probe(supervisor, target)
        if target.session:
            session = Session(target, self.state.session_recorder(target.name))
            supervisor.start(f"session:{target.name}", lambda: session.run(self._stopping))
        self._start_cluster(supervisor, target)


async def run_until_signalled(exporter: Exporter) -> None:
    """Run the exporter until SIGTERM or SIGINT, then let it drain; SIGHUP reloads the configuration."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, exporter.stop)
    reloads: set[asyncio.Task[tuple[bool, str]]] = set()

    def reload() -> None:
        task = loop.create_task(exporter.reload())
        reloads.add(task)  # keep a reference until it is done
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    log.info(
        "starting",
        extra={"version": __version__, "targets": ",".join(t.name for t in exporter.active_targets)},
    )
    await exporter.run()
    log.info("stopped")


# Settings read once, when the listening socket and the HTTP server are set up: a reload that changes one is refused.
_RESTART_ONLY = (
    ("listen_address", "--web.listen-address"),
    ("web_config_file", "--web.config.file"),
    ("idle_timeout", "web.idle_timeout"),
)


def _format_address(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
