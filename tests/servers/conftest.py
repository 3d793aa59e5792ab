"""Fixtures for the servers' view: one real three-server cluster per test, application pods as real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .cluster import AppPod, Cluster, nats_cluster


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with nats_cluster() as running:
        yield running


@pytest.fixture
async def app_pods() -> AsyncIterator[list[AppPod]]:
    """Clients a test starts; all closed at the end."""
    started: list[AppPod] = []
    yield started
    for pod in started:
        await pod.close()
