"""Kubeconfig files for the official client and kubectl."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def kubeconfig(
    server: str, *, token: str, ca_pem: bytes | None, namespace: str = "default", name: str = "fake-kube"
) -> dict[str, Any]:
    """One cluster, user and context, the context current and carrying the default namespace."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": f"{name}-user", "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-user", "namespace": namespace}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | Path, server: str, *, token: str, ca_pem: bytes | None, namespace: str = "default"
) -> Path:
    path = Path(path)
    path.write_text(yaml.safe_dump(kubeconfig(server, token=token, ca_pem=ca_pem, namespace=namespace)))
    path.chmod(0o600)  # kubectl warns about group/world-readable kubeconfigs
    return path
