"""The Kubernetes API: plain GETs whose JSON stays plain dicts, errors counted, credentials reloaded.

The generated operations of the official client lack `sinceTime` for pod logs, and building model objects for
thousands of pods and watch events would cost more than everything else the exporter does; requests go through a
`Transport` (`transport.py`): the pod's service account in-cluster, the official client for a kubeconfig. Every
error is counted in `kubernetes_errors_total{operation,code}` and logged once per change, never fatal.

Credentials: in-cluster (the transport re-reads the rotating service-account token), else `--kubeconfig`, else
`KUBECONFIG`; `~/.kube/config` only where a command may default like kubectl (`check`, `audit --cluster`): a server
process (`serve`, `demo`) must never pick up whatever context a laptop points at. The source and context in use
are logged. A 401 reloads the configuration, so a rotated token in a kubeconfig is picked up. A 429 carries its
`Retry-After` in the error, for the caller to wait that long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from exporter.kube.transport import ConfigProblem, InClusterTransport, OfficialTransport, Transport, kubeconfig_context

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
RETIRE_AFTER = 60.0  # seconds a replaced client stays open for the requests still using it
PARSE_ON_LOOP_BYTES = 256 * 1024  # larger JSON answers are parsed in a thread
MAX_RETRY_AFTER = 300.0  # a Retry-After beyond this is read as this


def kube_access_configured(kubeconfig: str | None, environ: Mapping[str, str], *, home_config: bool = False) -> bool:
    """Whether cluster access was asked for: in-cluster, --kubeconfig or KUBECONFIG; with `home_config` (commands
    that default like kubectl) also an existing ~/.kube/config."""
    if kubeconfig or environ.get("KUBECONFIG") or "KUBERNETES_SERVICE_HOST" in environ:
        return True
    return home_config and os.path.exists(os.path.expanduser("~/.kube/config"))


class KubeError(Exception):
    """An API call failed: `code` is the HTTP status, or `network` / `timeout` / `config`. `retry_after`: seconds
    the server asked to wait (429 or 503 with `Retry-After`), else 0."""

    def __init__(self, operation: str, code: str, message: str, *, retry_after: float = 0.0) -> None:
        self.operation, self.code, self.message, self.retry_after = operation, code, message, retry_after
        super().__init__(f"{operation}: {code}: {message}")


ErrorCounter = Callable[[str, str], None]


class KubeApi:
    def __init__(
        self,
        kubeconfig: str | None,
        *,
        environ: Mapping[str, str] | None = None,
        count_error: ErrorCounter | None = None,
        home_config: bool = True,
    ) -> None:
        """`home_config=False` (serve, demo): without in-cluster, --kubeconfig or KUBECONFIG there is no access,
        and `~/.kube/config` is never read."""
        self._home_config = home_config
        self.service_account_dir: Path | None = None  # None: where kubelet mounts it (tests point elsewhere)
        self._kubeconfig = kubeconfig
        self._environ = os.environ if environ is None else environ
        self._count_error = count_error
        self._client: Transport | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._last_logged: dict[str, str] = {}  # operation -> code last logged, to log once per change

    async def _transport(self) -> Transport:
        async with self._lock:
            if self._client is None:
                self._client = await self._new_transport()
            return self._client

    async def _new_transport(self) -> Transport:
        in_cluster = "KUBERNETES_SERVICE_HOST" in self._environ and not self._kubeconfig
        try:
            transport: Transport
            if in_cluster:
                transport = InClusterTransport(self._environ, self.service_account_dir)
            else:
                config_file = self._kubeconfig or self._environ.get("KUBECONFIG")
                if config_file is None and not self._home_config:
                    raise ConfigProblem("no cluster access configured (in-cluster, --kubeconfig or KUBECONFIG)")
                transport = await OfficialTransport.from_kubeconfig(config_file)
        except ConfigProblem as exc:
            raise self._failed("config", "config", str(exc)) from None
        self._log_access(in_cluster)
        return transport

    def _log_access(self, in_cluster: bool) -> None:
        """Say which cluster the exporter talks to, once per client: a surprise context is then visible."""
        if in_cluster:
            log.info("Kubernetes access", extra={"source": "in-cluster"})
            return
        source = "--kubeconfig" if self._kubeconfig else "KUBECONFIG" if self._environ.get("KUBECONFIG") else "~/.kube"
        config_file = self._kubeconfig or self._environ.get("KUBECONFIG")
        context = kubeconfig_context(config_file)
        log.info("Kubernetes access", extra={"source": source, "kubeconfig": config_file or "", "context": context})

    async def reload(self, rejected: Transport) -> None:
        """After a 401 from `rejected`: the next call reads the credentials again (a rotated token). A burst of
        401s from one client replaces it once. Streams opened with the old client go on until it is retired;
        then they fail and resume, exactly, with the new one."""
        async with self._lock:
            if self._client is not rejected or rejected is None:
                return
            old, self._client = self._client, None
        task = asyncio.get_running_loop().create_task(self._retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, old: Transport) -> None:
        try:
            await asyncio.sleep(RETIRE_AFTER)
        finally:
            await old.close()

    async def close(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        async with self._lock:
            current, self._client = self._client, None
        if current is not None:
            await current.close()

    async def get_json(
        self, operation: str, path: str, query: Sequence[tuple[str, str]] = (), *, timeout: float = REQUEST_TIMEOUT
    ) -> dict[str, Any]:
        async with self.stream(operation, path, query, timeout=timeout) as response:
            try:
                async with asyncio.timeout(timeout):
                    body = await response.read()
                # A big list (a cluster's pods, deployments) takes tens of milliseconds to parse: off the loop.
                document = (
                    json.loads(body) if len(body) < PARSE_ON_LOOP_BYTES else await asyncio.to_thread(json.loads, body)
                )
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                raise self._failed(operation, "network", f"reading the answer: {type(exc).__name__}") from None
        if not isinstance(document, dict):
            raise self._failed(operation, "invalid", "the answer is not a JSON object")
        return document

    @asynccontextmanager
    async def stream(
        self, operation: str, path: str, query: Sequence[tuple[str, str]] = (), *, timeout: float = REQUEST_TIMEOUT
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """An open response with status 200 (raises KubeError otherwise); its body is read by the caller."""
        transport = await self._transport()
        # Connecting is bounded here; reading is bounded by the caller (a watch or a log stream reads for long).
        request_timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, connect=timeout)
        try:
            # Until the status line arrives, `timeout` bounds the request: an API server that accepts and never
            # answers must not hang a watcher, a follower or the `check` command.
            async with asyncio.timeout(timeout):
                response = await transport.get(path, query, request_timeout)
        except ConfigProblem as exc:  # a token file unreadable in the middle of its rotation
            raise self._failed(operation, "config", str(exc)) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._failed(operation, "network", type(exc).__name__) from None
        try:
            if response.status != 200:
                message = await _status_message(response)
                if response.status == 401:
                    await self.reload(transport)
                retry_after = _retry_after(response) if response.status in (429, 503) else 0.0
                raise self._failed(operation, str(response.status), message, retry_after=retry_after)
            self._recovered(operation)
            yield response
        finally:
            response.release()

    def _failed(self, operation: str, code: str, message: str, *, retry_after: float = 0.0) -> KubeError:
        if self._count_error is not None:
            self._count_error(operation, code)
        if self._last_logged.get(operation) != code:
            self._last_logged[operation] = code
            log.warning("Kubernetes API error", extra={"operation": operation, "code": code, "error": message})
        return KubeError(operation, code, message, retry_after=retry_after)

    def _recovered(self, operation: str) -> None:
        if self._last_logged.pop(operation, None) is not None:
            log.info("Kubernetes API call works again", extra={"operation": operation})


async def _status_message(response: aiohttp.ClientResponse) -> str:
    """The `message` of a Kubernetes Status object, else the start of the body."""
    try:
        async with asyncio.timeout(5):
            body = await response.read()
    except (TimeoutError, aiohttp.ClientError):
        return f"HTTP {response.status}"
    try:
        status = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace")
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return str(status["message"])
    return f"HTTP {response.status}"


def _retry_after(response: aiohttp.ClientResponse) -> float:
    """The `Retry-After` seconds of an answer (the API server sends whole seconds), bounded; 0 if none."""
    try:
        seconds = float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
