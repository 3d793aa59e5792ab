"""How requests reach the API server: in-cluster with the pod's service account, or through the official client.

In a pod (`serve`'s Deployment, the agent's DaemonSet), a request needs three things the kubelet mounts: the API
server's address (env `KUBERNETES_SERVICE_HOST`/`_PORT`), its CA and a bearer token that rotates (bound service
account tokens last about an hour; the file is re-read every minute and after a 401). That is a plain aiohttp GET,
and it keeps the official client's generated models (23 MB resident, a third of an idle exporter) out of the
process. Everything a kubeconfig can hold (exec plugins, OIDC, client certificates, contexts) is the official
client's job: `OfficialTransport` imports it only when a kubeconfig is used.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import aiohttp

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_REREAD = 60.0  # seconds; kubelet rotates the token file well before it expires


class ConfigProblem(Exception):
    """The credentials or the address cannot be read: the caller counts it as a `config` error."""


class Transport(Protocol):
    async def get(
        self, path: str, query: Sequence[tuple[str, str]], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        """Send a GET; the response is returned unread, whatever its status."""
        ...

    async def close(self) -> None: ...


class InClusterTransport:
    """The pod's own service account: token file, CA file and the Service address from the environment."""

    def __init__(self, environ: Mapping[str, str], directory: Path | None = None) -> None:
        directory = directory or SERVICE_ACCOUNT_DIR
        host, port = environ.get("KUBERNETES_SERVICE_HOST", ""), environ.get("KUBERNETES_SERVICE_PORT", "443")
        if not host:
            raise ConfigProblem("KUBERNETES_SERVICE_HOST is not set")
        self.base_url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        self._token_file = directory / "token"
        try:
            self._context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigProblem(f"the service account's CA cannot be read: {exc}") from None
        self._token, self._read_at = self._read_token(), time.monotonic()
        # No pool limit: one connection per followed log stream (the default of 100 would starve the 101st).
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=self._context))

    def _read_token(self) -> str:
        try:
            return self._token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigProblem(f"the service account token cannot be read: {exc.strerror}") from None

    def _current_token(self) -> str:
        if time.monotonic() - self._read_at >= TOKEN_REREAD:
            self._token, self._read_at = self._read_token(), time.monotonic()
        return self._token

    async def get(
        self, path: str, query: Sequence[tuple[str, str]], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {self._current_token()}", "Accept": "application/json, */*"}
        return await self._session.get(self.base_url + path, params=list(query), headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self._session.close()


class OfficialTransport:
    """A kubeconfig through the official client (`kubernetes.aio`), imported here only."""

    def __init__(self, api_client: Any) -> None:
        self._client = api_client
        # One connection per followed log stream: the REST client copied the pool limit when it was built, so the
        # limit is lifted on it (its pool opens lazily).
        api_client.rest_client.maxsize = 0

    @classmethod
    async def from_kubeconfig(cls, config_file: str | None) -> OfficialTransport:
        official = _official_config()  # heavy: imported only when a kubeconfig is used
        try:
            return cls(await official.new_client_from_config(config_file=config_file))
        except (official.ConfigException, OSError, ValueError) as exc:
            raise ConfigProblem(str(exc)) from None

    async def get(
        self, path: str, query: Sequence[tuple[str, str]], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        params = await self._client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query),
            header_params={"Accept": "application/json, */*"},
            auth_settings=["BearerToken"],
        )
        result = await self._client.call_api(*params, _request_timeout=timeout, _preload_content=False)
        response: aiohttp.ClientResponse = result.response
        return response

    async def close(self) -> None:
        await self._client.close()


def kubeconfig_context(config_file: str | None) -> str:
    """The name of the kubeconfig's current context ("" if it cannot be read), for the log line."""
    official = _official_config()
    try:
        _contexts, active = official.list_kube_config_contexts(config_file=config_file)
    except (official.ConfigException, OSError, ValueError, TypeError):
        return ""
    return str((active or {}).get("name", ""))


def _official_config() -> Any:
    """`kubernetes.aio.config`, imported on first use: it loads the whole generated client. The package leaves these
    functions unannotated; this one typed seam keeps mypy strict everywhere else."""
    from kubernetes.aio import config

    return config
