"""Objects as plain dicts, one global resourceVersion counter, and the watch history behind resumable watches.

Every mutation takes the next resourceVersion and appends one `Change` to the history, so a watch from
resourceVersion N replays exactly the changes after N; once history before N is compacted the watch gets 410.
Stored dicts are never mutated in place (mutations store a modified copy), so history entries stay true.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from .errors import already_exists, bad_request, conflict, expired, not_found
from .resources import ResourceType
from .selectors import FieldSelector, LabelSelector
from .timeutil import now_ns, rfc3339

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One mutation as recorded in the history: the object after it and, for MODIFIED, before it."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    resource: ResourceType
    obj: Obj
    old: Obj | None = None


def labels_of(obj: Obj) -> dict[str, str]:
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def with_resource_version(obj: Obj, rv: int) -> Obj:
    return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(rv)}}


class Watcher:
    """One watch's view of the changes: filtered by namespace and selectors, queued until the stream sends them."""

    def __init__(
        self, resource: ResourceType, namespace: str | None, labels: LabelSelector, fields: FieldSelector
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.pending: deque[tuple[str, Obj]] = deque()
        self.wake = asyncio.Event()

    def matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def push(self, event_type: str, obj: Obj) -> None:
        self.pending.append((event_type, obj))
        self.wake.set()

    def offer(self, change: Change) -> None:
        """Translate a change into what this watcher sees, as the watch cache does for selector-filtered watches.

        An object that stops matching is reported DELETED (with its previous content and the new
        resourceVersion); one that starts matching is reported ADDED.
        """
        now = self.matches(change.obj)
        if change.type == "MODIFIED" and change.old is not None:
            before = self.matches(change.old)
            if now:
                self.push("MODIFIED" if before else "ADDED", change.obj)
            elif before:
                self.push("DELETED", with_resource_version(change.old, change.rv))
        elif now:
            self.push(change.type, change.obj)


class ObjectStore:
    def __init__(self, *, history_limit: int = 100_000) -> None:
        self._objects: dict[ResourceType, dict[tuple[str, str], Obj]] = {}
        self._rv = 1
        self._floor = 1  # a watch may start at any resourceVersion >= floor
        self._history: deque[Change] = deque(maxlen=history_limit)
        self._watchers: dict[ResourceType, set[Watcher]] = {}

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_resource_version(self) -> int:
        """The oldest resourceVersion a watch can resume from; older ones get 410 Expired."""
        return self._floor

    def get(self, resource: ResourceType, namespace: str, name: str) -> Obj | None:
        return self._objects.get(resource, {}).get((namespace if resource.namespaced else "", name))

    def require(self, resource: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.get(resource, namespace, name)
        if obj is None:
            raise not_found(resource.group, resource.plural, name)
        return obj

    def list(self, resource: ResourceType, namespace: str | None = None) -> list[Obj]:
        """Objects sorted by namespace then name, the order of etcd keys and so of real lists."""
        objects = self._objects.get(resource, {})
        return [objects[key] for key in sorted(objects) if namespace is None or key[0] == namespace]

    def iter_all(self, resource: ResourceType) -> Iterator[Obj]:
        yield from self._objects.get(resource, {}).values()

    def create(self, resource: ResourceType, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        name = meta.get("name")
        if not name:
            raise bad_request("name or generateName is required")  # the real message is a 422; rare enough
        if resource.namespaced:
            if not meta.get("namespace"):
                raise bad_request("the namespace of the object is required")
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), name)
        objects = self._objects.setdefault(resource, {})
        if key in objects:
            raise already_exists(resource.group, resource.plural, name)
        meta["uid"] = str(uuid.uuid4())
        meta.setdefault("creationTimestamp", rfc3339(now_ns()))
        meta.pop("deletionTimestamp", None)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        objects[key] = obj
        self._record(Change(rv, "ADDED", resource, obj))
        return obj

    def replace(self, resource: ResourceType, obj: Obj, *, check_version: bool = True) -> Obj:
        """Store a new version of an existing object; a stale resourceVersion in `obj` is a 409 Conflict."""
        meta = obj.get("metadata", {})
        name = meta.get("name", "")
        old = self.require(resource, meta.get("namespace", ""), name)
        old_meta = old["metadata"]
        sent = meta.get("resourceVersion")
        if check_version and sent and sent != old_meta["resourceVersion"]:
            raise conflict(resource.group, resource.plural, name)
        new = copy.deepcopy(obj)
        new["apiVersion"], new["kind"] = resource.api_version, resource.kind
        new_meta = new.setdefault("metadata", {})
        for kept in ("uid", "creationTimestamp", "namespace"):
            if kept in old_meta:
                new_meta[kept] = old_meta[kept]
        rv = self._next_rv()
        new_meta["resourceVersion"] = str(rv)
        self._objects[resource][(old_meta.get("namespace", ""), name)] = new
        self._record(Change(rv, "MODIFIED", resource, new, old))
        return new

    def modify(self, resource: ResourceType, namespace: str, name: str, edit: Callable[[Obj], None]) -> Obj:
        """Apply `edit` to a copy of the object and store it (one MODIFIED event)."""
        obj = copy.deepcopy(self.require(resource, namespace, name))
        edit(obj)
        return self.replace(resource, obj, check_version=False)

    def delete(self, resource: ResourceType, namespace: str, name: str) -> Obj:
        old = self.require(resource, namespace, name)
        del self._objects[resource][(old["metadata"].get("namespace", ""), name)]
        rv = self._next_rv()
        gone = with_resource_version(old, rv)
        self._record(Change(rv, "DELETED", resource, gone))
        return gone

    def watch(
        self,
        resource: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        *,
        since: int | None,
    ) -> Watcher:
        """A registered watcher: with `since`, the changes after it are queued; without, ADDED for every object.

        Queuing and registering happen in one step of the event loop, so no change can fall in between.
        """
        if since is not None and since < self._floor:
            raise expired(f"too old resource version: {since} ({self._floor})")
        watcher = Watcher(resource, namespace, labels, fields)
        if since is None:
            for obj in self.list(resource, namespace):
                if watcher.matches(obj):
                    watcher.push("ADDED", obj)
        else:
            start = max(0, since - self._floor)
            for change in islice(self._history, start, None):
                if change.rv > since and change.resource is resource:
                    watcher.offer(change)
        self._watchers.setdefault(resource, set()).add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.get(watcher.resource, set()).discard(watcher)

    def compact(self) -> int:
        """Forget all history, like etcd compaction: watches from any earlier resourceVersion now get 410."""
        self._history.clear()
        self._floor = self._rv
        return self._rv

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _record(self, change: Change) -> None:
        if len(self._history) == self._history.maxlen:
            self._floor = self._history[0].rv
        self._history.append(change)
        for watcher in tuple(self._watchers.get(change.resource, ())):
            watcher.offer(change)
