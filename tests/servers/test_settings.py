"""`server_view:` and `apps:` settings: defaults, flags over the file, and errors that name the key."""

from __future__ import annotations

import argparse

import pytest

from exporter.config.server_view import ServerViewSettings, Source, add_server_view_flags, load_server_view_settings
from exporter.config.validate import ConfigError


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_server_view_flags(parser)
    return parser.parse_args(list(argv))


def test_defaults_follow_the_log_selection() -> None:
    settings = load_server_view_settings({}, {}, flags(), logs_selector="tier=app", logs_namespaces=("shop",))
    assert settings == ServerViewSettings(selector="tier=app", namespaces=("shop",))
    assert (settings.source, settings.interval, settings.monitor_port, settings.grace) == (
        Source.ACCOUNT,
        30.0,
        8222,
        30.0,
    )


def test_file_then_flags() -> None:
    view = {"source": "monitor", "interval": "1m", "monitor_port": 8223, "page_size": 500, "servers": 3}
    apps = {"selector": "a=b", "namespaces": ["x", "y"], "grace": "45s", "publish_only": ["ingest"]}
    from_file = load_server_view_settings(view, apps)
    assert (from_file.source, from_file.interval, from_file.monitor_port, from_file.page_size) == (
        Source.MONITOR,
        60.0,
        8223,
        500,
    )
    assert (from_file.selector, from_file.namespaces, from_file.grace, from_file.publish_only) == (
        "a=b",
        ("x", "y"),
        45.0,
        ("ingest",),
    )
    args = flags(
        "--server-view.source",
        "off",
        "--apps.grace",
        "10s",
        "--apps.namespaces",
        "z",
        "--server-view.monitor-port",
        "9000",
    )
    both = load_server_view_settings(view, apps, args)
    assert (both.source, both.grace, both.namespaces, both.monitor_port, both.enabled) == (
        Source.OFF,
        10.0,
        ("z",),
        9000,
        False,
    )


@pytest.mark.parametrize(
    ("view", "apps", "argv", "key"),
    [
        ({"source": "both"}, {}, (), "server_view.source"),
        ({}, {}, ("--server-view.source", "both"), "--server-view.source"),
        ({"interval": "often"}, {}, (), "server_view.interval"),
        ({"monitor_port": 70000}, {}, (), "server_view.monitor_port"),
        ({}, {}, ("--server-view.monitor-port", "http"), "--server-view.monitor-port"),
        ({"page_size": 0}, {}, (), "server_view.page_size"),
        ({"colour": "red"}, {}, (), "server_view.colour"),
        ({"timeout": "1m"}, {}, (), "server_view.timeout"),
        ({}, {"grace": -1}, (), "apps.grace"),
        ({}, {"slow_consumer_bytes": "lots"}, (), "apps.slow_consumer_bytes"),
        ({}, {"namespaces": [1]}, (), "apps.namespaces"),
        ({}, {"selectr": "a=b"}, (), "apps.selectr"),
    ],
)
def test_errors_name_the_key(view: dict[str, object], apps: dict[str, object], argv: tuple[str, ...], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_server_view_settings(view, apps, flags(*argv))
    assert raised.value.key == key


def test_a_section_that_is_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as raised:
        load_server_view_settings("account", {})  # type: ignore[arg-type]
    assert raised.value.key == "server_view"
