"""Real Prometheus and Alertmanager (the Debian packages) for end-to-end tests, and a webhook standing in for a pager.

Prometheus scrapes and evaluates every second; Alertmanager routes `severity="critical"` to `/pager` and the rest to
`/tickets` of the webhook, with one-second group waits. Every process runs on a free port in the test's temporary
directory, its output in a log file quoted when it fails, and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from exporter.demo.nats_server import free_port
from tests.alerts.rules import tool
from tests.conftest import wait_for

STOP_TIMEOUT = 5.0
Alert = dict[str, Any]


class QueryError(Exception):
    """Prometheus refused a query or an API call: a dashboard would show this error."""


@dataclass
class Notification:
    receiver: str  # the webhook path Alertmanager posted to: "pager" or "tickets"
    status: str  # "firing" or "resolved"
    alert: Alert  # one alert of the notification: labels, annotations, startsAt, endsAt


@dataclass
class Webhook:
    """What Alertmanager sent, as the notifications a pager and a ticket queue would have received."""

    url: str = ""
    notifications: list[Notification] = field(default_factory=list)

    def received(self, alertname: str, status: str, receiver: str | None = None) -> list[Notification]:
        return [
            n
            for n in self.notifications
            if n.alert["labels"].get("alertname") == alertname
            and n.alert["status"] == status
            and receiver in (None, n.receiver)
        ]

    async def _receive(self, request: web.Request) -> web.Response:
        payload = await request.json()
        receiver = request.match_info["receiver"]
        for alert in payload["alerts"]:
            self.notifications.append(Notification(receiver, payload["status"], alert))
        return web.Response(text="ok")


@contextlib.asynccontextmanager
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    app = web.Application()
    app.router.add_post("/{receiver}", hook._receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    hook.url = f"http://127.0.0.1:{port}"
    try:
        yield hook
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def process(args: Sequence[str], *, ready_url: str, log: Path, timeout: float = 30.0) -> AsyncIterator[None]:
    """Run `args` until the block ends; ready once `ready_url` answers 200."""
    with log.open("wb") as output:
        child = await asyncio.create_subprocess_exec(*args, stdout=output, stderr=asyncio.subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:

            async def ready() -> bool:
                if child.returncode is not None:
                    raise AssertionError(f"{args[0]} exited with {child.returncode}:\n{_tail(log)}")
                try:
                    async with http.get(ready_url) as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await wait_for(ready, timeout=timeout, message=f"{Path(args[0]).name} to be ready")
        yield
    finally:
        if child.returncode is None:
            child.terminate()
            try:
                await asyncio.wait_for(child.wait(), STOP_TIMEOUT)
            except TimeoutError:
                child.kill()
                await child.wait()


def _write_yaml(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(document)), encoding="utf-8")
    return path


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


@dataclass
class Prometheus:
    url: str
    http: aiohttp.ClientSession
    log: Path

    async def _get(self, path: str, **params: str) -> Any:
        async with self.http.get(self.url + path, params=params) as response:
            document = await response.json()
        if document.get("status") != "success":
            raise QueryError(f"{path} {params}: {document}")
        return document["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query, as a Grafana panel runs it; QueryError if Prometheus refuses it."""
        data = await self._get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else [data["result"]]
        return result

    async def alerts(self) -> list[Alert]:
        alerts: list[Alert] = (await self._get("/api/v1/alerts"))["alerts"]
        return alerts

    async def firing(self, alertname: str) -> list[Alert]:
        return [a for a in await self.alerts() if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


@contextlib.asynccontextmanager
async def prometheus(
    workdir: Path,
    *,
    scrape: Sequence[str],
    rules: Path,
    alertmanager: str | None = None,
    external_labels: Mapping[str, str] | None = None,
) -> AsyncIterator[Prometheus]:
    """Prometheus scraping `scrape` (host:port) as job nats-connectivity-exporter, evaluating `rules` every second."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "evaluation_interval": "1s",
            "external_labels": dict(external_labels or {}),
        },
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "nats-connectivity-exporter", "static_configs": [{"targets": list(scrape)}]}],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    port = free_port()
    args = [
        tool("prometheus"),
        f"--config.file={_write_yaml(workdir / 'prometheus.yml', config)}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    url = f"http://127.0.0.1:{port}"
    log = workdir / "prometheus.log"
    async with (
        process(args, ready_url=url + "/-/ready", log=log),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
    ):
        yield Prometheus(url, http, log)


@contextlib.asynccontextmanager
async def alertmanager(workdir: Path, *, receiver_url: str) -> AsyncIterator[str]:
    """Alertmanager paging `severity="critical"` to `receiver_url`/pager, the rest to /tickets; yields host:port."""
    quick = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
    config = {
        "route": {
            "receiver": "tickets",
            "group_by": ["alertname", "target"],
            **quick,
            "routes": [{"matchers": ['severity="critical"'], "receiver": "pager"}],
        },
        "receivers": [
            {"name": name, "webhook_configs": [{"url": f"{receiver_url}/{name}", "send_resolved": True}]}
            for name in ("pager", "tickets")
        ],
    }
    port = free_port()
    args = [
        tool("prometheus-alertmanager", "alertmanager"),
        f"--config.file={_write_yaml(workdir / 'alertmanager.yml', config)}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    async with process(args, ready_url=f"http://127.0.0.1:{port}/-/ready", log=workdir / "alertmanager.log"):
        yield f"127.0.0.1:{port}"


async def queries_without_data(prometheus: Prometheus, expressions: Mapping[str, str]) -> dict[str, str]:
    """The expressions (by label) whose instant query returns nothing now; an invalid one raises."""
    return {label: expr for label, expr in expressions.items() if not await prometheus.query(expr)}


async def wait_for_data(prometheus: Prometheus, expressions: Mapping[str, str], *, timeout: float) -> dict[str, str]:
    """Poll until every expression returns data or `timeout` passes; the ones still without data."""
    remaining = dict(expressions)

    async def all_have_data() -> bool:
        still = await queries_without_data(prometheus, remaining)
        remaining.clear()
        remaining.update(still)
        return not remaining

    with contextlib.suppress(AssertionError):  # wait_for's deadline; a query error is a QueryError
        await wait_for(all_have_data, timeout=timeout, message="every query to return data")
    return remaining
