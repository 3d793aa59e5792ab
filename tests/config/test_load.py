"""One configuration from flags over environment over file; every mistake names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import Secret
from exporter.config.durations import format_duration, parse_duration
from exporter.config.validate import ConfigError
from tests.conftest import config_from_args


@pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("15s", 15), ("1m", 60), ("1m30s", 90), ("2h", 7200)])
def test_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["15", "1.5s", "s", "-1s", "fast", ""])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the input itself
        parse_duration(text)


def test_env_nats_url_is_the_default_target() -> None:
    config = config_from_args(environ={"NATS_URL": "nats://nats-server.nats.svc.cluster.local:4222"})
    assert [t.name for t in config.targets] == ["default"]
    assert config.targets[0].servers[0].host == "nats-server.nats.svc.cluster.local"


def test_flags_replace_env_and_name_targets() -> None:
    config = config_from_args(
        "--nats-url",
        "nats://a:4222",
        "--nats-url",
        "edge=nats://b:4222,nats://c:4222",
        environ={"NATS_URL": "nats://ignored:4222"},
    )
    assert [(t.name, len(t.servers)) for t in config.targets] == [("default", 1), ("edge", 2)]
    assert config.targets[0].servers[0].host == "a"


def test_file_targets_with_env_overriding_the_default_url(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("pw-from-file\n")
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        f"""
probe: {{interval: 30s, timeout: 3s}}
targets:
  - name: default
    url: nats://from-file:4222
    credentials: {{user: app, password_file: {tmp_path / "password"}}}
  - name: other
    url: [nats://x:4222, nats://y:4222]
    interval: 1m
    session: false
    credentials: {{token_env: OTHER_TOKEN}}
"""
    )
    config = config_from_args(
        "--config", str(config_file), environ={"NATS_URL": "nats://from-env:4222", "OTHER_TOKEN": "tok-9f3a"}
    )
    default, other = config.targets
    assert default.servers[0].host == "from-env"  # env over file...
    assert default.credentials.password == Secret("pw-from-file")  # ...keeping the file's settings
    assert (default.interval, default.timeout) == (30, 3)
    assert (other.interval, other.session, len(other.servers)) == (60, False, 2)
    assert other.credentials.token is not None
    assert other.credentials.token.reveal() == "tok-9f3a"
    assert "tok-9f3a" not in repr(other)
    assert "pw-from-file" not in repr(default)


def test_flag_over_file_for_durations(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text("probe: {interval: 30s}\ntargets: [{url: 'nats://n:4222'}]\n")
    config = config_from_args("--config", str(config_file), "--probe.interval", "10s")
    assert config.targets[0].interval == 10
    assert config.targets[0].timeout == 5  # the default timeout, under the interval


def test_timeout_follows_a_short_interval_when_unset() -> None:
    config = config_from_args("--nats-url", "nats://n:4222", "--probe.interval", "2s")
    assert config.targets[0].timeout == 2


@pytest.mark.parametrize("value", ["false", "0", "no", "FALSE"])
def test_nats_enabled_false_needs_no_url(value: str) -> None:
    config = config_from_args(environ={"NATS_ENABLED": value})
    assert config.probing_enabled is False


def test_nats_enabled_garbage_names_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        config_from_args("--nats-url", "nats://n:4222", environ={"NATS_ENABLED": "maybe"})
    assert error.value.key == "env NATS_ENABLED"


def test_bad_url_in_env_is_reported_without_its_credentials() -> None:
    with pytest.raises(ConfigError) as error:
        config_from_args(environ={"NATS_URL": "http://user:hunter2@nats:4222"})
    assert error.value.key == "env NATS_URL"
    assert "hunter2" not in str(error.value)


def test_secret_env_must_exist(tmp_path: Path) -> None:
    config_file = tmp_path / "c.yaml"
    config_file.write_text("targets: [{url: 'nats://n:4222', credentials: {user: u, password_env: NOPE}}]\n")
    with pytest.raises(ConfigError) as error:
        config_from_args("--config", str(config_file))
    assert error.value.key == "targets[default].credentials.password_env"


def test_listen_address_forms() -> None:
    assert config_from_args("--nats-url", "n", "--web.listen-address", ":9").listen_host_port == ("0.0.0.0", 9)
    assert config_from_args("--nats-url", "n", "--web.listen-address", "[::1]:9").listen_host_port == ("::1", 9)
    assert config_from_args("--nats-url", "n").listen_address == ":10025"
