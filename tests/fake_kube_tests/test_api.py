"""REST semantics on the wire: discovery, auth, Status errors, tables, paging, writes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fake_kube import FakeKube

from .helpers import client_ssl

PODS = "/api/v1/namespaces/shop/pods"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


async def _json(response: aiohttp.ClientResponse) -> Any:
    assert response.content_type == "application/json"
    return await response.json()


async def test_discovery_documents(http: aiohttp.ClientSession) -> None:
    async with http.get("/version") as response:
        assert (await _json(response))["gitVersion"].startswith("v1.")
    async with http.get("/api") as response:
        assert (await _json(response))["versions"] == ["v1"]
    async with http.get("/apis") as response:
        groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in (await _json(response))["groups"]}
    assert {"apps": "apps/v1", "discovery.k8s.io": "discovery.k8s.io/v1", "batch": "batch/v1"}.items() <= groups.items()
    assert groups["networking.k8s.io"] == "networking.k8s.io/v1"
    async with http.get("/api/v1") as response:
        resources = {r["name"]: r for r in (await _json(response))["resources"]}
    assert resources["pods"]["shortNames"] == ["po"]
    assert "watch" in resources["pods"]["verbs"]
    assert resources["pods/log"]["verbs"] == ["get"]
    assert resources["namespaces"]["namespaced"] is False
    async with http.get("/apis/apps/v1") as response:
        assert "deployments" in {r["name"] for r in (await _json(response))["resources"]}
    async with http.get("/apis/nope/v1") as response:
        assert response.status == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic Zm9vOmJhcg=="])
async def test_unauthenticated_requests_get_401(kube: FakeKube, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with (
        aiohttp.ClientSession(kube.url, connector=aiohttp.TCPConnector(ssl=client_ssl(kube))) as session,
        session.get(PODS, headers=headers) as response,
    ):
        body = await _json(response)
    assert response.status == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


async def test_token_rotation_rejects_the_old_token(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    async with http.get(PODS) as response:
        assert response.status == 200
    new = kube.rotate_token()
    async with http.get(PODS) as response:
        assert response.status == 401
    async with http.get(PODS, headers={"Authorization": f"Bearer {new}"}) as response:
        assert response.status == 200


async def test_unknown_paths_and_objects_are_404_status(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/v1/namespaces/shop/widgets") as response:
        body = await _json(response)
    assert (response.status, body["reason"], body["message"]) == (
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
    async with http.get("/apis/apps/v1/namespaces/shop/deployments/web") as response:
        body = await _json(response)
    assert body["message"] == 'deployments.apps "web" not found'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


async def test_list_pages_with_limit_and_continue(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    for i in range(5):
        kube.add_pod("shop", f"web-{i}")
    names: list[str] = []
    params = {"limit": "2"}
    while True:
        async with http.get(PODS, params=params) as response:
            page = await _json(response)
        assert page["kind"] == "PodList"
        assert "kind" not in page["items"][0]
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        params = {"limit": "2", "continue": token}
    assert names == [f"web-{i}" for i in range(5)]
    async with http.get(PODS, params={"limit": "2"}) as response:
        token = (await _json(response))["metadata"]["continue"]
    kube.add_pod("shop", "web-5")
    kube.compact()
    async with http.get(PODS, params={"limit": "2", "continue": token}) as response:
        assert (response.status, (await _json(response))["reason"]) == (410, "Expired")


async def test_table_output_for_kubectl(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.add_pod("shop", "web-1", containers=("app", "sidecar"))
    kube.restart_container("shop", "web-1", "app")
    async with http.get(PODS, headers={"Accept": TABLE}) as response:
        table = await _json(response)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    (row,) = table["rows"]
    assert row["cells"][:3] == ["web-1", "2/2", "Running"]
    assert row["cells"][3].startswith("1 (")
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["namespace"] == "shop"


async def test_create_patch_delete_over_http(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "made"}, "spec": {"containers": [{"name": "c"}]}}
    async with http.post("/api/v1/namespaces/missing/pods", json=pod) as response:
        assert response.status == 404
    async with http.post(PODS.replace("shop", "default"), json=pod) as response:
        created = await _json(response)
    assert response.status == 201
    assert created["status"]["phase"] == "Running"
    patch = {"metadata": {"labels": {"app": "web"}}}
    headers = {"Content-Type": "application/merge-patch+json"}
    async with http.patch("/api/v1/namespaces/default/pods/made", json=patch, headers=headers) as response:
        assert (await _json(response))["metadata"]["labels"] == {"app": "web"}
    async with http.post(PODS.replace("shop", "default"), json=pod) as response:
        assert (response.status, (await _json(response))["reason"]) == (409, "AlreadyExists")
    async with http.delete("/api/v1/namespaces/default/pods/made") as response:
        assert response.status == 200
    assert kube.get_object("v1", "Pod", "default", "made") is None


async def test_forbid_a_verb_on_a_resource(kube: FakeKube, http: aiohttp.ClientSession) -> None:
    kube.forbid("pods", "watch")
    async with http.get(PODS) as response:
        assert response.status == 200
    async with http.get("/api/v1/pods", params={"watch": "1"}) as response:
        body = await _json(response)
    assert response.status == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:monitoring:nats-connectivity-exporter" cannot watch '
        'resource "pods" in API group "" at the cluster scope'
    )
    assert kube.request_counts()[("watch", "pods")] == 1
    assert kube.requests[-1].status == 403
