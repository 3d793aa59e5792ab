"""The store's resourceVersion and history rules, which resumable watches depend on."""

from __future__ import annotations

import pytest

from tests.fake_kube.errors import ApiError
from tests.fake_kube.objects import make_pod
from tests.fake_kube.resources import POD
from tests.fake_kube.selectors import FieldSelector, LabelSelector, parse_label_selector
from tests.fake_kube.store import ObjectStore


def test_every_change_takes_the_next_resource_version() -> None:
    store = ObjectStore()
    first = store.create(POD, make_pod("shop", "a"))
    second = store.modify(POD, "shop", "a", lambda o: o["metadata"]["labels"].update(x="1"))
    gone = store.delete(POD, "shop", "a")
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, second, gone)]
    assert versions == [2, 3, 4]
    assert store.resource_version == 4
    assert first["metadata"]["labels"] == {}  # history keeps what each version was


def test_stale_update_is_a_conflict() -> None:
    store = ObjectStore()
    stale = store.create(POD, make_pod("shop", "a"))
    store.modify(POD, "shop", "a", lambda o: None)
    with pytest.raises(ApiError) as caught:
        store.replace(POD, stale)
    assert (caught.value.code, caught.value.reason) == (409, "Conflict")


def test_watch_replays_after_a_version_until_the_history_limit() -> None:
    store = ObjectStore(history_limit=3)
    for name in "abcde":
        store.create(POD, make_pod("shop", name))
    assert store.oldest_resource_version == 3
    watcher = store.watch(POD, "shop", LabelSelector(), FieldSelector(), since=3)
    assert [obj["metadata"]["name"] for _, obj in watcher.pending] == ["c", "d", "e"]
    with pytest.raises(ApiError) as caught:
        store.watch(POD, "shop", LabelSelector(), FieldSelector(), since=2)
    assert (caught.value.code, caught.value.message) == (410, "too old resource version: 2 (3)")


def test_watch_without_version_starts_with_the_current_objects() -> None:
    store = ObjectStore()
    store.create(POD, make_pod("shop", "b", labels={"app": "web"}))
    store.create(POD, make_pod("shop", "a", labels={"app": "db"}))
    store.create(POD, make_pod("other", "c", labels={"app": "web"}))
    watcher = store.watch(POD, None, parse_label_selector("app=web"), FieldSelector(), since=None)
    assert [(kind, obj["metadata"]["name"]) for kind, obj in watcher.pending] == [("ADDED", "c"), ("ADDED", "b")]
