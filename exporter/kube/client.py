"""The Kubernetes API through the official client (`kubernetes.aio`): its configuration, auth and transport.

Requests go through the client's `param_serialize`/`call_api` with `_preload_content=False` and the JSON stays
plain dicts: the generated operations lack `sinceTime` for pod logs, and building model objects for thousands of
pods and watch events would cost more than everything else the exporter does. Every error is counted in
`kubernetes_errors_total{operation,code}` and logged once per change, never fatal.

Credentials: in-cluster (the client re-reads the rotating service-account token), else `--kubeconfig`, else
`KUBECONFIG`/`~/.kube/config`. A 401 reloads the configuration, so a rotated token in a kubeconfig is picked up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from kubernetes.aio import client as _client
from kubernetes.aio import config as _config

log = logging.getLogger(__name__)

# The package ships py.typed but leaves these unannotated; one typed seam keeps mypy strict everywhere else.
_ApiClient: Any = _client.ApiClient
_Configuration: Any = _client.Configuration
_load_incluster_config: Any = _config.load_incluster_config
_new_client_from_config: Any = _config.new_client_from_config
_ConfigException: type[Exception] = _config.ConfigException

CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 30.0
RETIRE_AFTER = 60.0  # seconds a replaced client stays open for the requests still using it


def kube_access_configured(kubeconfig: str | None, environ: Mapping[str, str]) -> bool:
    """Whether there is any way to reach an API server: in-cluster, --kubeconfig, KUBECONFIG or ~/.kube/config."""
    if kubeconfig or environ.get("KUBECONFIG") or "KUBERNETES_SERVICE_HOST" in environ:
        return True
    return os.path.exists(os.path.expanduser("~/.kube/config"))


class KubeError(Exception):
    """An API call failed: `code` is the HTTP status, or `network` / `timeout` / `config`."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        self.operation, self.code, self.message = operation, code, message
        super().__init__(f"{operation}: {code}: {message}")


ErrorCounter = Callable[[str, str], None]


class KubeApi:
    def __init__(
        self,
        kubeconfig: str | None,
        *,
        environ: Mapping[str, str] | None = None,
        count_error: ErrorCounter | None = None,
    ) -> None:
        self._kubeconfig = kubeconfig
        self._environ = os.environ if environ is None else environ
        self._count_error = count_error
        self._client: Any = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._last_logged: dict[str, str] = {}  # operation -> code last logged, to log once per change

    async def _api_client(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._new_client()
            return self._client

    async def _new_client(self) -> Any:
        configuration = _Configuration()
        in_cluster = "KUBERNETES_SERVICE_HOST" in self._environ and not self._kubeconfig
        try:
            if in_cluster:
                _load_incluster_config(client_configuration=configuration)
                api_client = _ApiClient(configuration)
            else:
                config_file = self._kubeconfig or self._environ.get("KUBECONFIG")
                api_client = await _new_client_from_config(config_file=config_file)
        except (_ConfigException, OSError, ValueError) as exc:
            raise self._failed("config", "config", str(exc)) from None
        # One connection per followed log stream: the default pool of 100 would starve the 101st stream. The REST
        # client copied the limit when it was built, so the limit is lifted on it (its pool opens lazily).
        api_client.rest_client.maxsize = 0
        return api_client

    async def reload(self, rejected: Any) -> None:
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

    async def _retire(self, old: Any) -> None:
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
                    document = await response.json(content_type=None)
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
        api_client = await self._api_client()
        params = await api_client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query),
            header_params={"Accept": "application/json, */*"},
            auth_settings=["BearerToken"],
        )
        # Connecting is bounded here; reading is bounded by the caller (a watch or a log stream reads for long).
        request_timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, connect=timeout)
        try:
            # Until the status line arrives, `timeout` bounds the request: an API server that accepts and never
            # answers must not hang a watcher, a follower or the `check` command.
            async with asyncio.timeout(timeout):
                result = await api_client.call_api(*params, _request_timeout=request_timeout, _preload_content=False)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._failed(operation, "network", type(exc).__name__) from None
        response: aiohttp.ClientResponse = result.response
        try:
            if response.status != 200:
                message = await _status_message(response)
                if response.status == 401:
                    await self.reload(api_client)
                raise self._failed(operation, str(response.status), message)
            self._recovered(operation)
            yield response
        finally:
            response.release()

    def _failed(self, operation: str, code: str, message: str) -> KubeError:
        if self._count_error is not None:
            self._count_error(operation, code)
        if self._last_logged.get(operation) != code:
            self._last_logged[operation] = code
            log.warning("Kubernetes API error", extra={"operation": operation, "code": code, "error": message})
        return KubeError(operation, code, message)

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
