"""The HTTP face of the fake: Kubernetes REST paths, Status errors, watch and log streams, request accounting."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import fnmatch
import json
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import discovery
from .auth import Policy, review_access
from .cluster import Cluster
from .errors import (
    ApiError,
    bad_request,
    expired,
    method_not_allowed,
    no_such_path,
    not_acceptable,
    status_object,
)
from .logquery import choose_container, no_previous_error, parse_bool, parse_int, parse_log_options, waiting_error
from .patch import apply_patch
from .protobuf import PROTOBUF, access_review
from .request_info import RequestInfo, resolve
from .resources import ACCESS_REVIEW, POD, ResourceType, by_path
from .selectors import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from .store import Obj
from .streams import LogStream, Stream, WatchStream, send_error_event
from .tables import to_table, wants_table

log = logging.getLogger(__name__)
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz")
Handler = Callable[[web.Request, RequestInfo, ResourceType], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class RequestRecord:
    """One request as the server saw it; `status` is filled in when known (200 as soon as a stream starts)."""

    method: str
    path: str
    query: dict[str, str]
    verb: str
    resource: str  # "pods", "pods/log", "" for non-resource paths
    namespace: str
    name: str
    user_agent: str
    time: float = field(default_factory=time.time)
    status: int = 0


RECORD = web.RequestKey("record", RequestRecord)


@dataclass(slots=True)
class Throttle:
    """The next `remaining` requests whose path matches the glob `pattern` (and `verb`, if given) get 429."""

    pattern: str
    remaining: int
    retry_after: int
    verb: str | None = None

    def take(self, path: str, verb: str) -> bool:
        if self.remaining <= 0 or not fnmatch.fnmatchcase(path, self.pattern):
            return False
        if self.verb is not None and self.verb != verb:
            return False
        self.remaining -= 1
        return True


def too_many_requests(retry_after: int) -> web.Response:
    """What max-in-flight and priority-and-fairness answer when overloaded: 429, `Retry-After`, a Status."""
    body = status_object(
        429, "TooManyRequests", "Too many requests, please try again later.", {"retryAfterSeconds": retry_after}
    )
    response = json_response(body, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


def too_large_resource_version(rv: int, current: int) -> ApiError:
    """The watch cache's answer to a resourceVersion it has not reached (after waiting up to 3 s for it)."""
    details: Obj = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    return ApiError(504, "Timeout", f"Too large resource version: {rv}, current: {current}", details)


def json_response(obj: Obj, status: int = 200, *, pretty: bool = False) -> web.Response:
    text = json.dumps(obj, indent=2) + "\n" if pretty else json.dumps(obj, separators=(",", ":"))
    return web.Response(body=text.encode(), status=status, content_type="application/json")


def _stamp(response: web.StreamResponse) -> None:
    """Headers every API server response carries."""
    response.headers["Audit-Id"] = str(uuid.uuid4())
    response.headers["Cache-Control"] = "no-cache, private"


def _strip_type(obj: Obj) -> Obj:
    """List items come without kind/apiVersion from a real server; clients must not depend on them."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def _accepts_json(accept: str) -> bool:
    if not accept.strip():
        return True
    media = [m.split(";", 1)[0].strip() for m in accept.split(",")]
    return any(m in ("*/*", "application/*", "application/json") for m in media)


def _encode_continue(rv: int, namespace: str, name: str) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}\x00"})
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = str(data["start"]).rstrip("\x00").partition("/")
        return int(data["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from None


class ApiServer:
    def __init__(
        self,
        cluster: Cluster,
        policy: Policy,
        *,
        bookmark_interval: float,
        too_large_wait: float = 3.0,
        graceful_deletion: bool = False,
    ) -> None:
        self.cluster = cluster
        self.policy = policy
        self.bookmark_interval = bookmark_interval  # applies to watches started after a change
        self.too_large_wait = too_large_wait  # how long a watch from a future resourceVersion waits before 504
        self.lists_ahead: list[int] = []  # [lists left] that report a resourceVersion ahead of the watch cache
        self.lists_ahead_by = 0
        # DELETE of a pod without gracePeriodSeconds: the pod's terminationGracePeriodSeconds (True, as the real
        # server) or at once (False, so kubectl delete in tests does not wait 30 s). An explicit value always counts.
        self.graceful_deletion = graceful_deletion
        self.throttles: list[Throttle] = []
        self.streams: set[Stream] = set()
        self.requests: deque[RequestRecord] = deque(maxlen=200_000)
        self.request_counts: Counter[tuple[str, str]] = Counter()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self.handle)

    # --- entry point -----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Authenticate, authorize, dispatch, and turn any ApiError into a Status response."""
        query = dict(request.query)
        info = resolve(request.method, request.path, query)
        record = RequestRecord(
            method=request.method,
            path=request.path,
            query=query,
            verb=info.verb,
            resource=info.full_resource,
            namespace=info.namespace,
            name=info.name,
            user_agent=request.headers.get("User-Agent", ""),
        )
        self.requests.append(record)
        self.request_counts[(info.verb, info.full_resource or request.path)] += 1
        request[RECORD] = record
        try:
            if request.path not in PUBLIC_PATHS:
                self.policy.authenticate(request.headers.get("Authorization"))
                throttle = next((t for t in self.throttles if t.take(request.path, info.verb)), None)
                if throttle is not None:
                    self.throttles = [t for t in self.throttles if t.remaining > 0]
                    throttled = too_many_requests(throttle.retry_after)
                    _stamp(throttled)
                    record.status = 429
                    return throttled
                self.policy.authorize(info)
            response = await self._dispatch(request, info)
        except ApiError as err:
            response = json_response(err.status(), err.code)
        except Exception as err:  # a bug in the fake: answer as the API server does, and say where
            log.exception("fake_kube failed on %s %s", request.method, request.path_qs)
            response = json_response(status_object(500, "InternalError", f"fake_kube: {err!r}"), 500)
        if not response.prepared:
            _stamp(response)
        record.status = response.status
        return response

    async def _dispatch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        pretty = parse_bool(request.query, "pretty")
        if path in PUBLIC_PATHS:
            return web.Response(text="ok")
        if not info.is_resource_request:
            document = self._discovery(request, path)
            if document is None:
                raise no_such_path()
            if request.method != "GET":
                raise method_not_allowed(request.method)
            return json_response(document, pretty=pretty)
        resource = by_path(info.group, info.version, info.resource)
        if resource is None or (info.namespace and not resource.namespaced and resource.plural != "namespaces"):
            raise no_such_path()
        if resource.namespaced and info.name and not info.namespace:
            raise no_such_path()
        if info.subresource:
            return await self._subresource(request, info, resource)
        if info.verb not in resource.verbs:
            raise method_not_allowed(request.method)
        if resource is ACCESS_REVIEW:
            if request.content_type == PROTOBUF:
                review = access_review(await request.read())
            else:
                review = await self._body(request)
            return json_response(review_access(self.policy, review if isinstance(review, dict) else {}), 201)
        handler: Handler | None = {
            "get": self._get,
            "list": self._list,
            "watch": self._watch,
            "create": self._create,
            "update": self._update,
            "patch": self._patch,
            "delete": self._delete,
            "deletecollection": self._delete_collection,
        }.get(info.verb)
        if handler is None:
            raise method_not_allowed(request.method)
        return await handler(request, info, resource)

    def _discovery(self, request: web.Request, path: str) -> Obj | None:
        if path == "/version":
            return discovery.VERSION
        if path == "/api":
            host = request.host or "127.0.0.1"
            return discovery.api_versions(host)
        if path == "/apis":
            return discovery.api_group_list()
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return discovery.api_resource_list("", parts[1])
        if parts[0] == "apis" and len(parts) == 2:
            return discovery.api_group(parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return discovery.api_resource_list(parts[1], parts[2])
        return None

    # --- reading -----------------------------------------------------------------------------------------------

    def _selectors(self, request: web.Request, resource: ResourceType) -> tuple[LabelSelector, FieldSelector]:
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), resource.fields)
        return labels, fields

    def _render(self, request: web.Request, resource: ResourceType, items: list[Obj], list_meta: Obj) -> Obj | None:
        """A Table if the client asked for one in Accept, else None."""
        table_version = wants_table(request.headers.get("Accept", ""))
        if table_version is None:
            if not _accepts_json(request.headers.get("Accept", "")):
                raise not_acceptable(request.headers.get("Accept", ""))
            return None
        include = request.query.get("includeObject") or "Metadata"
        return to_table(resource, items, api_version=table_version, list_meta=list_meta, include_object=include)

    async def _get(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        obj = self.cluster.store.require(resource, info.namespace, info.name)
        table = self._render(request, resource, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]})
        return json_response(table or obj, pretty=parse_bool(request.query, "pretty"))

    async def _list(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        """List with selectors and limit/continue paging; the list's resourceVersion is the store's current one."""
        store = self.cluster.store
        labels, fields = self._selectors(request, resource)
        self._check_resource_version(request.query.get("resourceVersion"))
        rv = store.resource_version
        start: tuple[str, str] | None = None
        token = request.query.get("continue")
        if token:
            rv, start = _decode_continue(token)
            if rv < store.oldest_resource_version:
                raise expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a "
                    "new list without the continue parameter."
                )
        namespace = info.namespace or None
        items = [
            o
            for o in store.list(resource, namespace)
            if labels.matches(o["metadata"].get("labels")) and fields.matches(o)
        ]
        if start is not None:
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > start]
        if self.lists_ahead and not token:
            # Served by an API server whose etcd read is ahead of the watch cache another one will serve the watch
            # from: a watch from this version waits, then gets "Too large resource version" (504).
            self.lists_ahead[0] -= 1
            rv += self.lists_ahead_by
            if self.lists_ahead[0] <= 0:
                self.lists_ahead.clear()
        list_meta: Obj = {"resourceVersion": str(rv)}
        limit = parse_int(request.query, "limit")
        if limit is not None and 0 < limit < len(items):
            last = items[limit - 1]["metadata"]
            list_meta["continue"] = _encode_continue(rv, last.get("namespace", ""), last["name"])
            if not labels.requirements and not fields.terms:
                list_meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        table = self._render(request, resource, items, list_meta)
        body = table or {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": list_meta,
            "items": [_strip_type(o) for o in items],
        }
        return json_response(body, pretty=parse_bool(request.query, "pretty"))

    def _check_resource_version(self, value: str | None) -> None:
        if not value:
            return
        try:
            rv = int(value)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid resource version: {value!r}") from None
        current = self.cluster.store.resource_version
        if rv > current:
            # The real server waits up to 3 s for the store to catch up before answering this.
            raise too_large_resource_version(rv, current)

    async def _watch(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        """Chunked JSON lines; from a resourceVersion, replay the changes after it, or 410 if compacted away."""
        store = self.cluster.store
        labels, fields = self._selectors(request, resource)
        raw_rv = request.query.get("resourceVersion") or ""
        initial = parse_bool(request.query, "sendInitialEvents")
        if raw_rv and raw_rv != "0":
            try:
                since: int | None = int(raw_rv)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resource version: {raw_rv!r}") from None
        else:
            since = None
        if initial:
            since = None
        timeout = parse_int(request.query, "timeoutSeconds")
        bookmarks = parse_bool(request.query, "allowWatchBookmarks")
        table_version = wants_table(request.headers.get("Accept", ""))
        if table_version is None and not _accepts_json(request.headers.get("Accept", "")):
            raise not_acceptable(request.headers.get("Accept", ""))
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            if since is not None and since > store.resource_version:
                await self._wait_for_resource_version(since)
            watcher = store.watch(resource, info.namespace or None, labels, fields, since=since)
        except ApiError as err:
            _stamp(response)
            await response.prepare(request)
            await send_error_event(response, err)
            await response.write_eof()
            return response
        if initial:
            end = {
                "kind": resource.kind,
                "apiVersion": resource.api_version,
                "metadata": {
                    "resourceVersion": str(store.resource_version),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            watcher.push("BOOKMARK", end)

        def transform(obj: Obj) -> Obj:
            assert table_version is not None
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return to_table(resource, [obj], api_version=table_version, list_meta=meta)

        stream = WatchStream(
            request,
            response,
            store,
            watcher,
            timeout=float(timeout) if timeout else None,
            bookmark_interval=self.bookmark_interval if bookmarks else None,
            transform=transform if table_version else None,
        )
        return await self._run_stream(request, stream)

    async def _wait_for_resource_version(self, rv: int) -> None:
        """The watch cache blocks a watch from a future resourceVersion until it catches up, or answers 504."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.too_large_wait
        while self.cluster.store.resource_version < rv:
            if loop.time() >= deadline:
                raise too_large_resource_version(rv, self.cluster.store.resource_version)
            await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))

    async def _run_stream(self, request: web.Request, stream: LogStream | WatchStream) -> web.StreamResponse:
        try:
            _stamp(stream.response)
            await stream.response.prepare(request)
            request[RECORD].status = 200
            self.streams.add(stream)
            await stream.run()
            if not stream.cut_done:
                await stream.response.write_eof()
        except ConnectionError:
            pass  # the client went away; nothing to tell it
        finally:
            self.streams.discard(stream)
            if isinstance(stream, WatchStream):
                self.cluster.store.unwatch(stream.watcher)
        return stream.response

    # --- subresources: pods/log, pods/status --------------------------------------------------------------------

    async def _subresource(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        if resource is POD and info.subresource == "log" and request.method == "GET":
            return await self._log(request, info)
        if info.subresource == "status" and request.method == "GET" and "status" in dict(resource.subresources):
            return await self._get(request, info, resource)
        raise no_such_path()

    async def _log(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        options = parse_log_options(request.query, info.name)
        pod = self.cluster.store.require(POD, info.namespace, info.name)
        container = choose_container(pod, options.container)
        options = dataclasses.replace(options, container=container)
        if not pod.get("spec", {}).get("nodeName"):
            return web.Response(body=b"", content_type="text/plain")  # not scheduled: the server answers empty
        logs = self.cluster.logs.get(info.namespace, info.name, container)
        if options.previous:
            instance = logs.previous if logs is not None else None
            if instance is None:
                raise no_previous_error(container, info.name)
        else:
            instance = logs.current if logs is not None else None
            if instance is None:
                raise waiting_error(container, info.name, "ContainerCreating")
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        return await self._run_stream(request, LogStream(request, response, instance, options))

    # --- writing -----------------------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        try:
            return json.loads(await request.read() or b"null")
        except ValueError as err:
            raise bad_request(f"the body of the request is not valid JSON: {err}") from None

    async def _create(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        obj = await self._body(request)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be an object")
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != info.namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = info.namespace
        created = self.cluster.create(resource, obj)
        return json_response(created, 201)

    async def _update(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        obj = await self._body(request)
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be an object")
        meta = obj.setdefault("metadata", {})
        if meta.get("name") != info.name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({info.name})"
            )
        if resource.namespaced:
            meta["namespace"] = info.namespace
        return json_response(self.cluster.replace(resource, obj))

    async def _patch(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        current = self.cluster.store.require(resource, info.namespace, info.name)
        patched = apply_patch(request.headers.get("Content-Type", ""), current, await self._body(request))
        return json_response(self.cluster.replace(resource, patched))

    async def _delete(self, request: web.Request, info: RequestInfo, resource: ResourceType) -> web.StreamResponse:
        """Pods are deleted gracefully when asked (gracePeriodSeconds in the query or DeleteOptions body) or when
        `graceful_deletion` is on; everything else at once."""
        if resource is not POD:
            return json_response(self.cluster.delete(resource, info.namespace, info.name))
        pod = self.cluster.store.require(POD, info.namespace, info.name)
        grace = parse_int(request.query, "gracePeriodSeconds")
        if grace is None and request.can_read_body:
            options = await self._body(request)
            if isinstance(options, dict) and options.get("gracePeriodSeconds") is not None:
                grace = int(options["gracePeriodSeconds"])
        if grace is None:
            grace = int(pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)) if self.graceful_deletion else 0
        return json_response(self.cluster.delete_pod(info.namespace, info.name, grace))

    async def _delete_collection(
        self, request: web.Request, info: RequestInfo, resource: ResourceType
    ) -> web.StreamResponse:
        labels, fields = self._selectors(request, resource)
        gone = [
            self.cluster.delete(resource, info.namespace, o["metadata"]["name"])
            for o in self.cluster.store.list(resource, info.namespace or None)
            if labels.matches(o["metadata"].get("labels")) and fields.matches(o)
        ]
        body = {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": str(self.cluster.store.resource_version)},
            "items": [_strip_type(o) for o in gone],
        }
        return json_response(body)
