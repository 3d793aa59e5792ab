"""The pods the servers' view expects to see connected, from the one pod parser (`exporter.kube.pods.PodInfo`)."""

from __future__ import annotations

from exporter.kube.pods import PodInfo
from exporter.servers.model import ExpectedPod


def expected_pod(pod: PodInfo) -> ExpectedPod:
    """The pod as the join and the verdicts need it; `ready` is Running, Ready=True and not terminating."""
    return ExpectedPod(
        namespace=pod.namespace,
        name=pod.name,
        app=pod.app,
        ip=pod.ip,
        start_time=pod.start_time,
        node=pod.node,
        owner=pod.owner,
        ready=pod.ready,
        host_network=pod.host_network,
        ready_since=pod.ready_since,
    )
