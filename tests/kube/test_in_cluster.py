"""exporter/kube/transport.py: in a pod, the API through the service account kubelet mounts, without the official
client; its rotating token is re-read."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from exporter.kube.client import KubeApi, KubeError
from tests.fake_kube import FakeKube


def mount_service_account(kube: FakeKube, directory: Path) -> dict[str, str]:
    """What kubelet gives a pod: the token and CA files, and the API server's address in the environment."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(kube.token + "\n", encoding="utf-8")
    assert kube.ca_pem is not None, "the fake API server serves HTTPS, as a real one does"
    (directory / "ca.crt").write_bytes(kube.ca_pem)
    address = urlsplit(kube.url)
    return {"KUBERNETES_SERVICE_HOST": address.hostname or "", "KUBERNETES_SERVICE_PORT": str(address.port)}


async def test_in_cluster_requests_use_the_mounted_token_and_ca(kube: FakeKube, tmp_path: Path) -> None:
    kube.add_pod("shop", "api-0", labels={"app": "api"})
    environ = mount_service_account(kube, tmp_path / "sa")
    api = KubeApi(None, environ=environ, home_config=False)
    api.service_account_dir = tmp_path / "sa"
    try:
        listed = await api.get_json("list pods", "/api/v1/namespaces/shop/pods")
    finally:
        await api.close()
    assert [item["metadata"]["name"] for item in listed["items"]] == ["api-0"]


IN_CLUSTER_SCRIPT = """
import asyncio, json, os, sys
from pathlib import Path
from exporter.kube.client import KubeApi

async def main():
    api = KubeApi(None, environ=os.environ, home_config=False)
    api.service_account_dir = Path(sys.argv[1])
    try:
        listed = await api.get_json("list pods", "/api/v1/pods")
    finally:
        await api.close()
    official = sorted(m for m in sys.modules if m.startswith("kubernetes"))
    print(json.dumps({"pods": len(listed["items"]), "official": official}))

asyncio.run(main())
"""


async def test_in_cluster_the_official_client_is_never_imported(kube: FakeKube, tmp_path: Path) -> None:
    """Its generated models cost 23 MB resident: an agent on every node must not carry them for one pod watch."""
    kube.add_pod("shop", "api-0", labels={"app": "api"})
    environ = {**os.environ, **mount_service_account(kube, tmp_path / "sa")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", IN_CLUSTER_SCRIPT, str(tmp_path / "sa"), env=environ, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0
    result = json.loads(output)
    assert result["pods"] == 1
    assert result["official"] == []


async def test_a_rotated_token_is_read_again_after_the_401(kube: FakeKube, tmp_path: Path) -> None:
    environ = mount_service_account(kube, tmp_path / "sa")
    api = KubeApi(None, environ=environ, home_config=False)
    api.service_account_dir = tmp_path / "sa"
    try:
        await api.get_json("list pods", "/api/v1/pods")
        new = kube.rotate_token()
        with pytest.raises(KubeError) as rejected:
            await api.get_json("list pods", "/api/v1/pods")
        assert rejected.value.code == "401"
        (tmp_path / "sa" / "token").write_text(new, encoding="utf-8")  # kubelet writes the new token
        listed = await api.get_json("list pods", "/api/v1/pods")
    finally:
        await api.close()
    assert listed["kind"] == "PodList"


async def test_a_missing_token_is_a_config_error_not_a_crash(kube: FakeKube, tmp_path: Path) -> None:
    environ = mount_service_account(kube, tmp_path / "sa")
    (tmp_path / "sa" / "token").unlink()
    errors: list[tuple[str, str]] = []
    api = KubeApi(None, environ=environ, home_config=False, count_error=lambda op, code: errors.append((op, code)))
    api.service_account_dir = tmp_path / "sa"
    try:
        with pytest.raises(KubeError) as failed:
            await api.get_json("list pods", "/api/v1/pods")
    finally:
        await api.close()
    assert failed.value.code == "config"
    assert "token" in failed.value.message
    assert errors == [("config", "config")]
