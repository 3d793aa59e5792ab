"""Log-following settings: flags over file, patterns, sharding by StatefulSet ordinal; mistakes name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config.logs import Event, in_shard
from exporter.config.validate import ConfigError
from tests.conftest import config_from_args


def test_flags_and_file(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        "logs:\n"
        "  selector: tier=app\n"
        "  namespaces: [a, b]\n"
        "  patterns:\n"
        "    lost: ['conn gone', {regex: 'nats: disconnected .*'}]\n"
        "targets: [{url: 'nats://n:4222'}]\n"
    )
    logs = config_from_args("--config", str(config_file), "--logs.namespaces", "c", "--logs.per-pod").logs
    assert (logs.selector, logs.namespaces, logs.per_pod) == ("tier=app", ("c",), True)
    assert logs.patterns.substrings[Event.LOST] == ("conn gone",)
    assert logs.patterns.regexes[Event.LOST] == ("nats: disconnected .*",)
    assert logs.patterns.substrings[Event.CONNECTED] == ("Connected to NATS server",)  # defaults kept


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ("logs: {patterns: {lost: [{regex: '('}]}}", "logs.patterns.lost"),
        ("logs: {patterns: {gone: ['x']}}", "logs.patterns.gone"),
        ("logs: {selctor: x}", "logs.selctor"),
        ("logs: {silence_timeout: soon}", "logs.silence_timeout"),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, document: str, key: str) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(document + "\ntargets: [{url: 'nats://n:4222'}]\n")
    with pytest.raises(ConfigError) as error:
        config_from_args("--config", str(config_file))
    assert error.value.key == key


def test_shard_from_statefulset_ordinal() -> None:
    logs = config_from_args("--nats-url", "n", "--total-shards", "3", environ={"POD_NAME": "exporter-2"}).logs
    assert (logs.shard, logs.total_shards) == (2, 3)
    with pytest.raises(ConfigError) as error:
        config_from_args("--nats-url", "n", "--total-shards", "3", environ={"HOSTNAME": "laptop"})
    assert error.value.key == "--shard"
    with pytest.raises(ConfigError):
        config_from_args("--nats-url", "n", "--shard", "3", "--total-shards", "3")


def test_every_pod_lands_in_exactly_one_shard() -> None:
    uids = [f"uid-{i}" for i in range(3000)]
    shares = [sum(in_shard(uid, shard, 3) for uid in uids) for shard in range(3)]
    assert sum(shares) == 3000
    assert all(900 < share < 1100 for share in shares), shares


def test_regexes_that_cannot_combine_are_a_config_error(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        "logs: {patterns: {lost: [{regex: '(?P<x>a)'}], failed: [{regex: '(?P<x>b)'}]}}\n"
        "targets: [{url: 'nats://n:4222'}]\n"
    )
    with pytest.raises(ConfigError) as error:
        config_from_args("--config", str(config_file))
    assert error.value.key == "logs.patterns"
