"""Kubernetes objects the tests put into the fake API server: a NATS Service and its EndpointSlice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def nats_service(name: str, namespace: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": "nats"}, "ports": [{"name": "client", "port": port, "targetPort": port}]},
    }


def endpoint_slice(service: str, namespace: str, port: int, pods: Mapping[str, str]) -> dict[str, Any]:
    """The Service's EndpointSlice with a ready endpoint per pod (name -> address)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service}-abc12",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "ports": [{"name": "client", "port": port, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [address], "conditions": {"ready": True}, "targetRef": {"kind": "Pod", "name": pod}}
            for pod, address in pods.items()
        ],
    }
