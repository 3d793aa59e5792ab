"""`FakeKube`: start/stop the fake API server in the current event loop and drive it from a test.

Every method is synchronous and must be called from the loop the server runs in (the test's own loop).
Streams react when the test next awaits, so a test can append lines and cut streams in the same step
to make the cut land in the middle of those lines.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import secrets
import socket
import ssl
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from . import objects
from .auth import DenyRule, Policy
from .cluster import Cluster
from .control_http import add_control_routes
from .errors import ApiError
from .generator import LogGenerator
from .kubeconfig import write_kubeconfig
from .logs import LogKey, WrittenLine, split_lines
from .patch import merge_patch
from .resources import POD, ResourceType, by_kind
from .selectors import parse_label_selector
from .server import ApiServer, RequestRecord, Throttle
from .streams import LogStream
from .timeutil import parse_offset, parse_rfc3339
from .tls import generate as generate_certificates
from .tls import server_context

Obj = dict[str, Any]
Timestamp = int | str | datetime.datetime


def to_ns(value: Timestamp) -> int:
    """Nanoseconds since the epoch from ns, an RFC 3339 string (nanoseconds kept) or an aware datetime."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_rfc3339(value)
    delta = value - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _resource(api_version: str, kind: str) -> ResourceType:
    resource = by_kind(api_version, kind)
    if resource is None:
        raise ValueError(f"fake_kube does not serve {kind} in {api_version}")
    return resource


class FakeKube:
    """A Kubernetes API server for tests. `await start()` returns the base URL (HTTPS unless `tls=False`)."""

    def __init__(
        self,
        *,
        token: str = "fake-token",
        tls: bool = True,
        http: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        http_port: int = 0,
        bookmark_interval: float = 60.0,
        history_limit: int = 100_000,
        user: str = "system:serviceaccount:monitoring:nats-connectivity-exporter",
        log_offset: str = "Z",
        status_lag: float = 0.0,
        too_large_rv_wait: float = 3.0,
        graceful_deletion: bool = False,
    ) -> None:
        """`bookmark_interval`: seconds between BOOKMARKs on an idle watch (the watch cache: about a minute).
        `log_offset`: the zone offset ("Z", "+01:00", "-05:30") log timestamps of containers are written in.
        `status_lag`: seconds before a container's restart, crash or termination shows in the pod's status.
        `too_large_rv_wait`: how long a watch from a future resourceVersion waits for it before its 504 ERROR.
        `graceful_deletion`: an HTTP DELETE of a pod without gracePeriodSeconds uses the pod's
        terminationGracePeriodSeconds (30 s) as the real server does; off by default so kubectl delete is quick.
        """
        self.cluster = Cluster(history_limit=history_limit, log_offset=parse_offset(log_offset), status_lag=status_lag)
        self.policy = Policy(token, user)
        self.server = ApiServer(
            self.cluster,
            self.policy,
            bookmark_interval=bookmark_interval,
            too_large_wait=too_large_rv_wait,
            graceful_deletion=graceful_deletion,
        )
        self.certificates = generate_certificates() if tls else None
        self._host, self._port, self._http_port, self._want_http = host, port, http_port, http or not tls
        self._runner: web.AppRunner | None = None
        self._generators: dict[str, LogGenerator] = {}
        self.url = ""  # the HTTPS URL (or the HTTP one without TLS) once started
        self.http_url: str | None = None
        self.cluster.ensure_namespace("default")
        self.cluster.ensure_namespace("kube-system")

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        add_control_routes(app, self)
        self.server.add_routes(app)
        # handler_cancellation: a client that disconnects ends its stream at once, not at its next write.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        if self.certificates is not None:
            port = await self._listen(self._port, server_context(self.certificates))
            self.url = f"https://{self._netloc(port)}"
        if self._want_http:
            port = await self._listen(self._http_port if self.certificates else self._port, None)
            self.http_url = f"http://{self._netloc(port)}"
            self.url = self.url or self.http_url
        return self.url

    async def _listen(self, port: int, ssl_context: ssl.SSLContext | None) -> int:
        assert self._runner is not None
        sock = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, port))
        site = web.SockSite(self._runner, sock, ssl_context=ssl_context)
        await site.start()
        return int(sock.getsockname()[1])

    def _netloc(self, port: int) -> str:
        return f"[{self._host}]:{port}" if ":" in self._host else f"{self._host}:{port}"

    async def stop(self) -> None:
        """End every stream cleanly, then close the listeners."""
        for generator in tuple(self._generators.values()):
            generator.stop()
        self.cluster.cancel_timers()
        for stream in tuple(self.server.streams):
            stream.end()
        if self._runner is not None:
            server = self._runner.server
            transports = [h.transport for h in server.connections if h.transport] if server else []
            await self._runner.cleanup()
            self._runner = None
            # A closed TLS connection waits for the peer's close_notify (up to 30 s) before its socket closes;
            # a test's loop ends sooner, so drop what is left rather than leak sockets.
            for transport in transports:
                transport.abort()
            await asyncio.sleep(0)

    async def __aenter__(self) -> FakeKube:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- credentials -----------------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.policy.token

    @property
    def ca_pem(self) -> bytes | None:
        return self.certificates.ca_pem if self.certificates else None

    def write_kubeconfig(self, path: str | Path, *, namespace: str = "default", server: str | None = None) -> Path:
        """A kubeconfig for the official client and kubectl: server URL, CA, token, context with `namespace`."""
        return write_kubeconfig(path, server or self.url, token=self.token, ca_pem=self.ca_pem, namespace=namespace)

    def rotate_token(self, new: str | None = None) -> str:
        """Accept only `new` (random if None) from now on; the old token gets 401 on its next request."""
        self.policy.token = new or secrets.token_urlsafe(24)
        return self.policy.token

    # --- objects ---------------------------------------------------------------------------------------------

    def add_namespace(self, name: str) -> None:
        self.cluster.ensure_namespace(name)

    def add_pod(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        containers: Sequence[str] = ("app",),
        node_name: str = "node-1",
        phase: str = "Running",
        annotations: Mapping[str, str] | None = None,
        image: str = "registry.example/app:1.0",
        log_offset: str | None = None,
    ) -> Obj:
        """A pod (namespace created if needed); Running pods have a running instance of every container.

        `log_offset` ("+01:00") is the zone offset of its containers' log timestamps (default: the fake's).
        """
        if log_offset is not None:
            for container in containers:
                self.set_log_offset(namespace, name, log_offset, container=container)
        pod = objects.make_pod(
            namespace,
            name,
            labels=labels,
            containers=containers,
            node_name=node_name,
            phase=phase,
            annotations=annotations,
            image=image,
        )
        return self.cluster.create(POD, pod, create_namespace=True)

    def add_object(self, obj: Mapping[str, Any]) -> Obj:
        """Any served object given as a dict with apiVersion and kind (namespace created if needed)."""
        resource = _resource(obj.get("apiVersion", ""), obj.get("kind", ""))
        return self.cluster.create(resource, dict(obj), create_namespace=True)

    def get_object(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        found = self.cluster.store.get(_resource(api_version, kind), namespace, name)
        return copy.deepcopy(found) if found is not None else None

    def pod(self, namespace: str, name: str) -> Obj:
        return copy.deepcopy(self.cluster.store.require(POD, namespace, name))

    def patch_object(self, api_version: str, kind: str, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        """JSON merge patch (None deletes a key); one MODIFIED event."""
        resource = _resource(api_version, kind)
        current = self.cluster.store.require(resource, namespace, name)
        return self.cluster.replace(resource, merge_patch(current, dict(patch)))

    def set_labels(
        self, namespace: str, name: str, labels: Mapping[str, str], *, api_version: str = "v1", kind: str = "Pod"
    ) -> Obj:
        """Replace the object's labels (MODIFIED; selector-filtered watches may see ADDED/DELETED instead)."""
        resource = _resource(api_version, kind)

        def edit(obj: Obj) -> None:
            obj["metadata"]["labels"] = dict(labels)

        return self.cluster.store.modify(resource, namespace, name, edit)

    def delete_object(self, api_version: str, kind: str, namespace: str, name: str) -> Obj:
        return self.cluster.delete(_resource(api_version, kind), namespace, name)

    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period: int = 0,
        stop_containers: bool = True,
        exit_code: int = 0,
    ) -> Obj:
        """Delete a pod. `grace_period=0`: at once, one DELETED event, its log streams end.

        `grace_period > 0`: Terminating as in a real cluster. MODIFIED with `metadata.deletionTimestamp` (now +
        grace) and `deletionGracePeriodSeconds`; then (unless `stop_containers=False`, in which case call
        `terminate_containers` yourself, e.g. after appending shutdown lines) every running container exits with
        `exit_code` (follow streams end; status `state.terminated`, `lastState` empty unless it had restarted;
        MODIFIED after the status lag). Logs stay served (previous lines included) until the grace period ends
        (or `finish_deletion`), then DELETED and 404.
        """
        if grace_period <= 0:
            return self.cluster.delete(POD, namespace, name)
        return self.cluster.delete_pod(
            namespace, name, grace_period, stop_containers=stop_containers, exit_code=exit_code
        )

    def terminate_containers(
        self, namespace: str, pod: str, *, exit_code: int = 0, status_lag: float | None = None
    ) -> list[str]:
        """Every running container of the pod exits for good (`state.terminated`); returns their container IDs."""
        ended = self.cluster.terminate_containers(namespace, pod, exit_code=exit_code, status_lag=status_lag)
        return [instance.container_id for instance in ended]

    def finish_deletion(self, namespace: str, name: str) -> Obj:
        """End a Terminating pod's grace period now (DELETED)."""
        return self.cluster.finish_deletion(namespace, name)

    def set_pod_phase(self, namespace: str, name: str, phase: str) -> Obj:
        return self.cluster.set_pod_phase(namespace, name, phase)

    # --- logs ------------------------------------------------------------------------------------------------

    def append_lines(
        self,
        namespace: str,
        pod: str,
        lines: Iterable[str | bytes],
        *,
        container: str | None = None,
        timestamps: Sequence[Timestamp] | None = None,
        stream: str = "stdout",
    ) -> str:
        """Append lines (str, or bytes that may be invalid UTF-8; any length) to the running container instance.

        Each item is one line (embedded newlines split it). Timestamps default to now, one per line; explicit
        ones (ns, RFC 3339 in any offset, aware datetime) may repeat or go backwards, as stdout and stderr lines
        of one container do. `stream` ("stdout"/"stderr") is recorded in the ground truth.
        Returns the container ID the lines went to.
        """
        data = split_lines(lines)
        stamps = [to_ns(t) for t in timestamps] if timestamps is not None else None
        return self.cluster.append_log(namespace, pod, container, data, stamps, stream).container_id

    def set_log_offset(self, namespace: str, pod: str, offset: str, *, container: str | None = None) -> None:
        """Log timestamps of this container (all of the pod's if None) are written in the zone `offset` ("Z",
        "+01:00", "-05:30"): its future instances and its running one, whose earlier lines are then served in the
        new offset too (set it before writing). With `container` given the pod need not exist yet.
        sinceTime compares instants whatever the offset."""
        seconds = parse_offset(offset)
        names = self.cluster.pod_container_names(namespace, pod) if container is None else [container]
        for name in names:
            log = self.cluster.logs.container(namespace, pod, name)
            log.offset = seconds
            if log.current is not None:
                log.current.offset = seconds

    def restart_container(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        exit_code: int = 1,
        status_lag: float | None = None,
    ) -> str:
        """New instance and container ID (follow streams of the old instance end at once; a follow request by
        container name gets the new one); the pod's status (containerID, restartCount+1, state, lastState) is
        updated after `status_lag` seconds (the fake's `status_lag` if None), one MODIFIED. Returns the new ID."""
        return self.cluster.restart_container(
            namespace, pod, container, exit_code=exit_code, status_lag=status_lag
        ).container_id

    def crash_container(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        exit_code: int = 1,
        status_lag: float | None = None,
    ) -> str:
        """The running instance exits and kubelet backs off: `state.waiting.reason=CrashLoopBackOff`,
        `lastState.terminated` (exitCode, containerID) the crashed instance, which is what both a plain and a
        `previous=true` log request serve. `restart_container` later starts the next instance. Returns the
        crashed instance's container ID."""
        return self.cluster.crash_container(
            namespace, pod, container, exit_code=exit_code, status_lag=status_lag
        ).container_id

    def set_status_lag(self, seconds: float) -> None:
        """Seconds before container restarts, crashes and terminations show in pod statuses (0 = at once)."""
        self.cluster.status_lag = seconds

    def rotate_logs(self, namespace: str, pod: str, container: str | None = None, *, stall: bool = False) -> int:
        """kubelet rotates the running instance's log file: the API serves only lines written after this (for
        sinceTime and tailLines alike); the ground truth keeps them. `stall=True`: follow streams open on the
        instance stop sending without closing, as before Kubernetes 1.29. Returns the number of lines moved away."""
        instance, moved = self.cluster.rotate_logs(namespace, pod, container)
        if stall:
            for stream in self.server.streams:
                if isinstance(stream, LogStream) and stream.instance is instance:
                    stream.stall()
        return moved

    def container_id(self, namespace: str, pod: str, container: str | None = None) -> str:
        names = self.cluster.pod_container_names(namespace, pod)
        name = container or names[0]
        log = self.cluster.logs.get(namespace, pod, name)
        if log is None or log.current is None:
            raise ValueError(f"container {name} of {namespace}/{pod} never started")
        return log.current.container_id

    def start_log_generator(
        self,
        lines: Sequence[str],
        *,
        lines_per_second: float,
        namespace: str | None = None,
        label_selector: str = "",
        duration: float | None = None,
    ) -> LogGenerator:
        """Append `lines` (cycled; `{n}`, `{pod}`, `{namespace}` filled in) to every running container of the
        matching pods at the given rate each, from inside the server's loop, for load tests."""
        generator = LogGenerator(
            self.cluster,
            lines,
            lines_per_second=lines_per_second,
            namespace=namespace,
            selector=parse_label_selector(label_selector),
            duration=duration,
        )
        self._generators[generator.id] = generator
        generator.start(on_done=lambda g: self._generators.pop(g.id, None))
        return generator

    def stop_log_generator(self, generator_id: str) -> None:
        generator = self._generators.get(generator_id)
        if generator is not None:
            generator.stop()

    # --- faults ----------------------------------------------------------------------------------------------

    def cut_streams(self, *, immediate: bool = False, kind: str | None = None) -> int:
        """Drop every open stream's connection in the middle of a line (or watch event), without a clean end.

        A stream with unsent lines sends them, the last one only half, and is dropped. A stream that is caught up
        is cut that way when its next lines come, or at once (between lines) with `immediate=True`.
        `kind` limits it to "log" or "watch" streams. Returns the number of streams affected.
        """
        chosen = [s for s in self.server.streams if kind in (None, s.kind)]
        for stream in chosen:
            stream.cut(immediate=immediate)
        return len(chosen)

    def stall_streams(self, *, kind: str | None = None) -> int:
        """Open streams stop sending (connection kept open, no error), like follow streams that stall after
        kubelet log rotation; new streams are unaffected. Returns the number of streams stalled."""
        chosen = [s for s in self.server.streams if kind in (None, s.kind)]
        for stream in chosen:
            stream.stall()
        return len(chosen)

    def list_ahead_of_watch_cache(self, versions: int, count: int = 1) -> None:
        """The next `count` lists report a resourceVersion `versions` ahead of what watches can serve, as when
        the list was answered from etcd by one API server and the watch goes to another whose cache lags: a watch
        from that version waits `too_large_rv_wait`, then gets the 504 "Too large resource version"."""
        self.server.lists_ahead, self.server.lists_ahead_by = [count], versions

    def set_bookmark_interval(self, seconds: float) -> None:
        """Seconds between BOOKMARK events of watches started from now on (those that ask for bookmarks)."""
        self.server.bookmark_interval = seconds

    def throttle(self, pattern: str, count: int = 1, *, retry_after: int = 1, verb: str | None = None) -> None:
        """The next `count` requests whose path matches the glob `pattern` (e.g. "/api/v1/namespaces/*/pods/*/log",
        "/api/v1/pods") and `verb` ("list", "watch", "get"...; any if None) get 429 Too Many Requests with
        `Retry-After: <retry_after>` and a Status (reason TooManyRequests, details.retryAfterSeconds)."""
        self.server.throttles.append(Throttle(pattern, count, retry_after, verb))

    def compact(self) -> int:
        """Forget the watch history: a watch or continue token from an older resourceVersion now gets 410."""
        return self.cluster.store.compact()

    def forbid(self, resource: str, verb: str = "*", namespace: str | None = None) -> None:
        """403 Forbidden for `verb` on `resource` (e.g. "pods/log", "pods"; "*" = any) until `unforbid`."""
        self.policy.rules.add(DenyRule(resource, verb, namespace))

    def unforbid(self, resource: str, verb: str = "*", namespace: str | None = None) -> None:
        self.policy.rules.discard(DenyRule(resource, verb, namespace))

    # --- ground truth ----------------------------------------------------------------------------------------

    def lines_appended(self) -> dict[LogKey, int]:
        """(namespace, pod, container, containerID) -> lines appended to that instance, deleted pods included."""
        return self.cluster.logs.ground_truth()

    def lines_written(self) -> dict[LogKey, list[WrittenLine]]:
        """(namespace, pod, container, containerID) -> every line that instance wrote, in order, with its
        timestamp (ns and as served, in the container's offset) and stream; rotated and deleted ones included."""
        return self.cluster.logs.lines_written()

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received (oldest first), with its query, so tests can check how a client resumed."""
        return list(self.server.requests)

    def request_counts(self) -> Counter[tuple[str, str]]:
        """(verb, resource) -> count, e.g. ("get", "pods/log"), ("watch", "pods"), ("get", "/version")."""
        return Counter(self.server.request_counts)

    def open_streams(self, kind: str | None = None) -> int:
        return sum(1 for s in self.server.streams if kind in (None, s.kind))

    @property
    def resource_version(self) -> int:
        return self.cluster.store.resource_version


__all__ = ["ApiError", "FakeKube", "LogKey", "RequestRecord", "WrittenLine", "to_ns"]
