"""The cluster audit runs on its own interval (`diagnostics.audit_interval`, default 10 minutes), not the checks'."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from exporter.audit.model import AuditResult
from exporter.audit.runner import audit_forever
from exporter.config.diagnostics import DiagnosticsSettings
from exporter.config.validate import ConfigError
from exporter.kube.client import KubeApi
from tests.conftest import config_from_args, wait_for
from tests.fake_kube import FakeKube

URL = ("--nats-url", "nats://127.0.0.1:4222")


def test_the_audit_interval_defaults_to_ten_minutes_and_is_set_by_flag_or_file(tmp_path: Path) -> None:
    assert config_from_args(*URL).diagnostics.audit_interval == 600.0
    assert config_from_args(*URL).diagnostics.interval == 60.0
    assert config_from_args(*URL, "--diagnostics.audit-interval", "90s").diagnostics.audit_interval == 90.0
    config = tmp_path / "config.yaml"
    config.write_text("diagnostics: {audit_interval: 30m}\n")
    assert config_from_args(*URL, "--config", str(config)).diagnostics.audit_interval == 1800.0
    with pytest.raises(ConfigError):
        config_from_args(*URL, "--diagnostics.audit-interval", "soon")


async def test_the_runner_waits_the_audit_interval_between_audits(kube: FakeKube, tmp_path: Path) -> None:
    api = KubeApi(str(kube.write_kubeconfig(tmp_path / "kubeconfig")), environ={})
    audits: list[AuditResult | None] = []
    stopping = asyncio.Event()
    settings = DiagnosticsSettings(interval=0.1, audit_interval=2.0)
    task = asyncio.create_task(audit_forever(api, settings, audits.append, stopping))
    try:
        await wait_for(lambda: len(audits) == 1, message="the first audit")
        first = kube.request_counts()[("list", "deployments")]
        await wait_for(lambda: len(audits) == 2, message="the second audit, one audit interval later")
        lists = [r.time for r in kube.requests if r.resource == "deployments" and r.verb == "list"]
        assert first >= 1
        assert lists[-1] - lists[0] >= 2.0  # the checks' 0.1 s interval would have audited many times over
        assert all(r.query.get("limit") for r in kube.requests if r.verb == "list")  # paged lists
    finally:
        stopping.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await api.close()
