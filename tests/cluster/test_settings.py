"""The cluster/jetstream keys of a target: defaults, values, and errors that name the key."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.config import Credentials, Secret
from exporter.config.cluster import DEFAULT_MONITOR_PORT, ClusterSettings, parse_cluster_settings
from exporter.config.validate import ConfigError
from tests.conftest import config_from_args


def credentials(key: str, raw: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    """Stands for the config module's own credentials parser, which the caller passes in."""
    if "user" not in raw:
        raise ConfigError(f"{key}.credentials.user", None, "a user")
    return Credentials(user=str(raw["user"]), password=Secret(environ.get(str(raw.get("password_env")), "")))


def parse(text: str) -> ClusterSettings:
    return parse_cluster_settings(yaml.safe_load(text), "targets[default]", {"APP_PW": "pw"}, credentials)


def test_a_target_without_the_keys_has_everything_off_and_the_defaults() -> None:
    settings = parse("name: default\nurl: nats://nats:4222\n")
    assert settings == ClusterSettings()
    assert not settings.enabled
    assert not settings.jetstream.enabled
    assert settings.monitor_port == DEFAULT_MONITOR_PORT


def test_every_key_is_read() -> None:
    settings = parse(
        """
cluster:
  enabled: true
  monitor_port: 8223
  max_route_pairs: 12
  route_concurrency: 4
  accounts: [{name: APP, credentials: {user: app, password_env: APP_PW}}]
jetstream: {enabled: true, stream: CANARY, replicas: 1, create: false, subject: my.canary}
"""
    )
    assert (settings.enabled, settings.monitor_port, settings.max_route_pairs, settings.route_concurrency) == (
        True,
        8223,
        12,
        4,
    )
    assert [(a.name, a.credentials.user) for a in settings.accounts] == [("APP", "app")]
    assert settings.accounts[0].credentials.password == Secret("pw")
    js = settings.jetstream
    assert (js.enabled, js.stream, js.replicas, js.create, js.canary_subject) == (True, "CANARY", 1, False, "my.canary")


def test_the_canary_subject_defaults_to_one_of_its_own() -> None:
    assert parse("jetstream: {enabled: true}").jetstream.canary_subject == "_nce.jetstream.NCE_PROBE"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("cluster: {monitor_port: 70000}", "targets[default].cluster.monitor_port"),
        ("cluster: {max_route_pairs: 0}", "targets[default].cluster.max_route_pairs"),
        ("cluster: {max_route_pairs: many}", "targets[default].cluster.max_route_pairs"),
        ("cluster: {route_concurrency: true}", "targets[default].cluster.route_concurrency"),
        ("cluster: {enabled: maybe}", "targets[default].cluster.enabled"),
        ("cluster: {colour: red}", "targets[default].cluster.colour"),
        ("cluster: {accounts: APP}", "targets[default].cluster.accounts"),
        ("cluster: {accounts: [{name: default, credentials: {user: x}}]}", "targets[default].cluster.accounts[0].name"),
        ("cluster: {accounts: [{name: A, credentials: {}}]}", "targets[default].cluster.accounts[0].credentials.user"),
        (
            "cluster: {accounts: [{name: A, credentials: {user: a}}, {name: A, credentials: {user: b}}]}",
            "targets[default].cluster.accounts[1].name",
        ),
        ("cluster: []", "targets[default].cluster"),
        ("jetstream: {stream: 'a b'}", "targets[default].jetstream.stream"),
        ("jetstream: {replicas: 7}", "targets[default].jetstream.replicas"),
        ("jetstream: {subject: 'x.>'}", "targets[default].jetstream.subject"),
        ("jetstream: {replica: 3}", "targets[default].jetstream.replica"),
    ],
)
def test_an_invalid_value_names_its_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(text)
    assert raised.value.key == key


def test_the_monitor_port_flag_wins_over_every_targets_file_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "targets:\n"
        "  - {name: a, url: 'nats://a:4222', cluster: {enabled: true, monitor_port: 8223}}\n"
        "  - {name: b, url: 'nats://b:4222'}\n"
    )
    loaded = config_from_args("--config", str(config), "--cluster.monitor-port", "9222")
    assert [target.cluster.monitor_port for target in loaded.targets] == [9222, 9222]
    assert config_from_args("--config", str(config)).targets[0].cluster.monitor_port == 8223
    with pytest.raises(ConfigError, match=r"--cluster\.monitor-port"):
        config_from_args("--config", str(config), "--cluster.monitor-port", "http")
