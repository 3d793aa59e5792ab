"""The control API over HTTP under /_control, for a fake running in another process (`python -m tests.fake_kube`).

No authentication: it listens on loopback only and exists for tests and benchmarks. JSON in, JSON out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import ApiError

if TYPE_CHECKING:
    from .control import FakeKube

Obj = dict[str, Any]
Action = Callable[["FakeKube", Obj], Any]


def _append(fake: FakeKube, body: Obj) -> Any:
    lines: list[str | bytes] = list(body.get("lines", []))
    lines += [base64.b64decode(b) for b in body.get("linesBase64", [])]
    container_id = fake.append_lines(
        body["namespace"],
        body["pod"],
        lines,
        container=body.get("container"),
        timestamps=body.get("timestamps"),
        stream=body.get("stream", "stdout"),
    )
    return {"containerID": container_id}


def _generate(fake: FakeKube, body: Obj) -> Any:
    generator = fake.start_log_generator(
        body["lines"],
        lines_per_second=float(body["linesPerSecond"]),
        namespace=body.get("namespace"),
        label_selector=body.get("labelSelector", ""),
        duration=body.get("duration"),
    )
    return {"id": generator.id}


def _truth(fake: FakeKube, body: Obj) -> Any:
    """Lines per container instance; with {"lines": true} also every line (timestamp as served, stream, text)."""
    written = fake.lines_written() if body.get("lines") else {}
    out = []
    for k, n in fake.lines_appended().items():
        entry: Obj = {
            "namespace": k.namespace,
            "pod": k.pod,
            "container": k.container,
            "containerID": k.container_id,
            "lines": n,
        }
        if k in written:
            entry["written"] = [
                {"timestamp": w.timestamp, "stream": w.stream, "text": w.text.decode(errors="replace")}
                for w in written[k]
            ]
        out.append(entry)
    return out


def _delete(fake: FakeKube, body: Obj) -> Any:
    if body.get("kind", "Pod") == "Pod" and body.get("apiVersion", "v1") == "v1":
        return fake.delete_pod(
            body["namespace"],
            body["name"],
            grace_period=int(body.get("gracePeriodSeconds", 0)),
            stop_containers=bool(body.get("stopContainers", True)),
            exit_code=int(body.get("exitCode", 0)),
        )
    return fake.delete_object(body.get("apiVersion", "v1"), body.get("kind", "Pod"), body["namespace"], body["name"])


ACTIONS: dict[str, Action] = {
    "pods": lambda f, b: f.add_pod(
        b["namespace"],
        b["name"],
        labels=b.get("labels"),
        containers=b.get("containers", ["app"]),
        node_name=b.get("nodeName", "node-1"),
        phase=b.get("phase", "Running"),
        log_offset=b.get("logOffset"),
    ),
    "objects": lambda f, b: f.add_object(b),
    "logs": _append,
    "restart": lambda f, b: {
        "containerID": f.restart_container(
            b["namespace"], b["pod"], b.get("container"), exit_code=b.get("exitCode", 1), status_lag=b.get("statusLag")
        )
    },
    "crash": lambda f, b: {
        "containerID": f.crash_container(
            b["namespace"], b["pod"], b.get("container"), exit_code=b.get("exitCode", 1), status_lag=b.get("statusLag")
        )
    },
    "offset": lambda f, b: f.set_log_offset(b["namespace"], b["pod"], b["offset"], container=b.get("container")),
    "status-lag": lambda f, b: f.set_status_lag(float(b["seconds"])),
    "rotate": lambda f, b: {
        "rotated": f.rotate_logs(b["namespace"], b["pod"], b.get("container"), stall=bool(b.get("stall")))
    },
    "terminate": lambda f, b: {
        "containerIDs": f.terminate_containers(b["namespace"], b["pod"], exit_code=int(b.get("exitCode", 0)))
    },
    "finish-deletion": lambda f, b: f.finish_deletion(b["namespace"], b["name"]),
    "bookmarks": lambda f, b: f.set_bookmark_interval(float(b["seconds"])),
    "throttle": lambda f, b: f.throttle(
        b["pattern"], int(b.get("count", 1)), retry_after=int(b.get("retryAfter", 1)), verb=b.get("verb")
    ),
    "delete": _delete,
    "labels": lambda f, b: f.set_labels(
        b["namespace"], b["name"], b["labels"], api_version=b.get("apiVersion", "v1"), kind=b.get("kind", "Pod")
    ),
    "phase": lambda f, b: f.set_pod_phase(b["namespace"], b["name"], b["phase"]),
    "cut": lambda f, b: {"cut": f.cut_streams(immediate=bool(b.get("immediate")), kind=b.get("kind"))},
    "stall": lambda f, b: {"stalled": f.stall_streams(kind=b.get("kind"))},
    "compact": lambda f, b: {"resourceVersion": str(f.compact())},
    "forbid": lambda f, b: f.forbid(b["resource"], b.get("verb", "*"), b.get("namespace")),
    "unforbid": lambda f, b: f.unforbid(b["resource"], b.get("verb", "*"), b.get("namespace")),
    "token": lambda f, b: {"token": f.rotate_token(b.get("token"))},
    "generate": _generate,
    "generate/stop": lambda f, b: f.stop_log_generator(b["id"]),
    "truth": _truth,
    "requests": lambda f, b: [
        {"verb": verb, "resource": resource, "count": n} for (verb, resource), n in f.request_counts().items()
    ],
    "streams": lambda f, b: {"log": f.open_streams("log"), "watch": f.open_streams("watch")},
}


def add_control_routes(app: web.Application, fake: FakeKube) -> None:
    def endpoint(action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.json() if request.can_read_body else {}
                result = action(fake, body)
            except ApiError as err:
                return web.json_response(err.status(), status=err.code)
            except (KeyError, ValueError, TypeError) as err:
                return web.json_response({"error": f"{type(err).__name__}: {err}"}, status=400)
            return web.json_response(result if result is not None else {}, dumps=lambda o: json.dumps(o))

        return handle

    for name, action in ACTIONS.items():
        app.router.add_route("*", f"/_control/{name}", endpoint(action))
