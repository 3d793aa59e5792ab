"""One typed configuration model, merged from three sources: flags over environment over file.

`load_config` is the only way to build a `Config`; every problem becomes a `ConfigError` naming the key, the value
(secrets never) and what is expected, which the CLI prints as one line before exiting with code 2.
"""

from __future__ import annotations

import argparse
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from exporter.config.cluster import parse_cluster_settings
from exporter.config.credentials import Credentials, Secret
from exporter.config.diagnostics import add_diagnostics_flags, load_diagnostics_settings
from exporter.config.durations import format_duration
from exporter.config.logs import add_log_flags, load_log_settings
from exporter.config.model import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_INTERVAL,
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_TARGET_NAME,
    DEFAULT_TIMEOUT,
    LOG_FORMATS,
    LOG_LEVELS,
    TARGET_NAME_PATTERN,
    Config,
    Target,
    TLSSettings,
    split_listen_address,
)
from exporter.config.nats_url import NatsUrl, UrlError, parse_server_list
from exporter.config.server_view import add_server_view_flags, load_server_view_settings
from exporter.config.tls import client_context
from exporter.config.validate import ConfigError, boolean, duration, integer, mapping, reject_unknown, text


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats-url",
        action="append",
        default=None,
        metavar="[NAME=]URL",
        help="a target to probe (repeatable); a comma-separated list is several servers of one target; "
        "default: env NATS_URL",
    )
    parser.add_argument("--config", "--config.file", dest="config", metavar="FILE", help="YAML configuration file")
    parser.add_argument("--web.listen-address", dest="listen_address", metavar="[HOST]:PORT")
    parser.add_argument("--web.config.file", dest="web_config_file", metavar="FILE")
    parser.add_argument("--probe.interval", dest="probe_interval", metavar="DURATION", help="e.g. 15s")
    parser.add_argument("--probe.timeout", dest="probe_timeout", metavar="DURATION", help="e.g. 5s")
    parser.add_argument("--kubeconfig", metavar="FILE")
    parser.add_argument("--log.level", dest="log_level", metavar="|".join(LOG_LEVELS))
    parser.add_argument("--log.format", dest="log_format", metavar="|".join(LOG_FORMATS))
    add_log_flags(parser)
    add_diagnostics_flags(parser)
    add_server_view_flags(parser)
    parser.add_argument(
        "--cluster.monitor-port",
        dest="cluster_monitor_port",
        metavar="PORT",
        help="the NATS pods' monitoring port for /healthz, for every target's cluster probes (default 8222; 0: off)",
    )


def load_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """Merge flags over environment over file into one validated `Config`."""
    document = _read_file(args.config) if args.config else {}
    sections = ("targets", "probe", "web", "log", "logs", "diagnostics", "kubeconfig", "server_view", "apps")
    reject_unknown(document, sections, prefix="")
    probe = mapping(document, "probe")
    web = mapping(document, "web")
    log = mapping(document, "log")
    reject_unknown(probe, ("interval", "timeout", "enabled", "allowed_hosts"), prefix="probe.")
    reject_unknown(web, ("listen_address", "config_file", "idle_timeout"), prefix="web.")
    reject_unknown(log, ("level", "format"), prefix="log.")

    interval = duration("--probe.interval", args.probe_interval) if args.probe_interval else None
    if interval is None:
        interval = duration("probe.interval", probe.get("interval", format_duration(DEFAULT_INTERVAL)))
    # An unset timeout follows the interval down (`--probe.interval 2s` alone must work); a set one is checked.
    timeout: float | None = None
    if args.probe_timeout:
        timeout = duration("--probe.timeout", args.probe_timeout)
    elif "timeout" in probe:
        timeout = duration("probe.timeout", probe["timeout"])

    targets = _targets_from_file(document, interval, timeout, environ)
    targets = _apply_env_url(targets, environ, interval, timeout)
    if args.nats_url:
        targets = _targets_from_flags(args.nats_url, targets, interval, timeout)
    monitor_port = getattr(args, "cluster_monitor_port", None)
    if monitor_port is not None:  # the flag wins over every target's `cluster.monitor_port`
        port = integer("--cluster.monitor-port", monitor_port, 0, 65535)
        targets = [replace(t, cluster=replace(t.cluster, monitor_port=port)) for t in targets]
    for target in targets:
        if target.timeout > target.interval:
            raise ConfigError(
                "--probe.timeout" if args.probe_timeout else f"targets[{target.name}].timeout",
                format_duration(target.timeout),
                f"a duration not longer than the interval ({format_duration(target.interval)})",
            )

    enabled = boolean("probe.enabled", probe.get("enabled", True))
    if "NATS_ENABLED" in environ:
        enabled = boolean("env NATS_ENABLED", environ["NATS_ENABLED"])
    if enabled and not targets:
        raise ConfigError(
            "--nats-url", None, "a NATS URL: set --nats-url, env NATS_URL or `targets` in the config file"
        )

    listen_address = args.listen_address or text("web.listen_address", web.get("listen_address"))
    listen_address = listen_address or DEFAULT_LISTEN_ADDRESS
    key = "--web.listen-address" if args.listen_address else "web.listen_address"
    try:
        split_listen_address(listen_address)
    except ValueError:
        raise ConfigError(key, listen_address, "[HOST]:PORT, e.g. :10025 or 127.0.0.1:10025") from None

    log_level = (args.log_level or text("log.level", log.get("level")) or "info").lower()
    if log_level not in LOG_LEVELS:
        raise ConfigError("--log.level", log_level, f"one of {', '.join(LOG_LEVELS)}")
    log_format = (args.log_format or text("log.format", log.get("format")) or "text").lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError("--log.format", log_format, f"one of {', '.join(LOG_FORMATS)}")

    web_config_file = args.web_config_file or text("web.config_file", web.get("config_file"))
    idle_timeout = duration("web.idle_timeout", web.get("idle_timeout", format_duration(DEFAULT_IDLE_TIMEOUT)))
    allowed_hosts = probe.get("allowed_hosts") or []
    if not isinstance(allowed_hosts, list) or not all(isinstance(item, str) and item for item in allowed_hosts):
        raise ConfigError("probe.allowed_hosts", allowed_hosts, "a list of host patterns such as '*.nats.svc'")
    kubeconfig = args.kubeconfig or text("kubeconfig", document.get("kubeconfig"))
    logs = load_log_settings(args, mapping(document, "logs"), environ)
    return Config(
        targets=tuple(targets),
        probing_enabled=enabled,
        listen_address=listen_address,
        web_config_file=web_config_file,
        log_level=log_level,
        log_format=log_format,
        kubeconfig=kubeconfig,
        config_file=args.config,
        logs=logs,
        diagnostics=load_diagnostics_settings(
            args, mapping(document, "diagnostics"), environ, logs.selector, logs.namespaces
        ),
        probe_allowed_hosts=tuple(allowed_hosts),
        idle_timeout=idle_timeout,
        server_view=load_server_view_settings(
            mapping(document, "server_view"),
            mapping(document, "apps"),
            args,
            logs_selector=logs.selector,
            logs_namespaces=logs.namespaces,
        ),
    )


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping: YAML's spec forbids it, and PyYAML would silently keep the last one."""


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise _DuplicateKey(f"`{key}` repeated at line {key_node.start_mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_file(path: str) -> dict[str, Any]:
    try:
        content = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", path, f"a readable file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError("--config", path, "a UTF-8 text file") from None
    try:
        document = yaml.load(content, Loader=_StrictLoader)  # a SafeLoader that refuses duplicate keys
    except _DuplicateKey as exc:
        raise ConfigError("--config", path, f"each key once in a mapping ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError("--config", path, f"valid YAML{where}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError("--config", path, "a YAML mapping with `targets:` at the top")
    return document


def _targets_from_file(
    document: Mapping[str, Any], interval: float, timeout: float | None, environ: Mapping[str, str]
) -> list[Target]:
    raw_targets = document.get("targets", [])
    if raw_targets is None:
        return []
    if not isinstance(raw_targets, list):
        raise ConfigError("targets", type(raw_targets).__name__, "a list of targets")
    targets: list[Target] = []
    for index, raw in enumerate(raw_targets):
        if not isinstance(raw, dict):
            raise ConfigError(f"targets[{index}]", raw, "a mapping with `name` and `url`")
        targets.append(_target_frommapping(raw, index, interval, timeout, environ))
    _reject_duplicate_names(targets)
    return targets


def _target_frommapping(
    raw: Mapping[str, Any], index: int, interval: float, timeout: float | None, environ: Mapping[str, str]
) -> Target:
    allowed = (
        "name",
        "url",
        "interval",
        "timeout",
        "credentials",
        "tls",
        "session",
        "subject_prefix",
        "cluster",
        "jetstream",
    )
    reject_unknown(raw, allowed, prefix=f"targets[{index}].")
    name = _target_name(f"targets[{index}].name", raw.get("name", DEFAULT_TARGET_NAME if index == 0 else None))
    key = f"targets[{name}]"
    url = raw.get("url")
    if isinstance(url, list):
        url = ",".join(str(item) for item in url)
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{key}.url", url, "a NATS URL or a list of them")
    target_interval = duration(f"{key}.interval", raw["interval"]) if "interval" in raw else interval
    if "timeout" in raw:
        target_timeout = duration(f"{key}.timeout", raw["timeout"])
    else:
        target_timeout = _default_timeout(timeout, target_interval)
    prefix = text(f"{key}.subject_prefix", raw.get("subject_prefix")) or "_nce.probe"
    return Target(
        name=name,
        servers=_servers(f"{key}.url", url),
        interval=target_interval,
        timeout=target_timeout,
        credentials=_credentials(key, mapping(raw, "credentials", key), environ),
        tls=_tls(key, mapping(raw, "tls", key)),
        session=boolean(f"{key}.session", raw.get("session", True)),
        subject_prefix=prefix,
        cluster=parse_cluster_settings(raw, key, environ, credentials=_credentials),
    )


def _credentials(key: str, raw: Mapping[str, Any], environ: Mapping[str, str]) -> Credentials:
    allowed = (
        "user",
        "password_file",
        "password_env",
        "token_file",
        "token_env",
        "nkey_seed_file",
        "creds_file",
    )
    reject_unknown(raw, allowed, prefix=f"{key}.credentials.")
    password = _secret(f"{key}.credentials", "password", raw, environ)
    token = _secret(f"{key}.credentials", "token", raw, environ)
    user = text(f"{key}.credentials.user", raw.get("user"))
    if token and (user or password):
        raise ConfigError(f"{key}.credentials", "token and user", "either a token or user/password, not both")
    for file_key in ("nkey_seed_file", "creds_file"):
        path = text(f"{key}.credentials.{file_key}", raw.get(file_key))
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigError(f"{key}.credentials.{file_key}", path, "a readable file")
    return Credentials(
        user=user,
        password=password,
        token=token,
        nkey_seed_file=text(f"{key}.credentials.nkey_seed_file", raw.get("nkey_seed_file")),
        creds_file=text(f"{key}.credentials.creds_file", raw.get("creds_file")),
    )


def _secret(key: str, name: str, raw: Mapping[str, Any], environ: Mapping[str, str]) -> Secret | None:
    """Secrets come from a file or an environment variable, never inline, so configs can be committed."""
    if name in raw:
        raise ConfigError(f"{key}.{name}", "***", f"{name}_file or {name}_env instead of an inline secret")
    file_path = text(f"{key}.{name}_file", raw.get(f"{name}_file"))
    env_name = text(f"{key}.{name}_env", raw.get(f"{name}_env"))
    if file_path and env_name:
        raise ConfigError(f"{key}.{name}_file", file_path, f"either {name}_file or {name}_env, not both")
    if file_path:
        try:
            return Secret(Path(file_path).read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(f"{key}.{name}_file", file_path, f"a readable file ({exc.strerror})") from None
    if env_name:
        if env_name not in environ:
            raise ConfigError(f"{key}.{name}_env", env_name, "the name of a set environment variable")
        return Secret(environ[env_name])
    return None


def _tls(key: str, raw: Mapping[str, Any]) -> TLSSettings:
    allowed = ("ca_file", "cert_file", "key_file", "server_name", "handshake_first", "insecure_skip_verify")
    reject_unknown(raw, allowed, prefix=f"{key}.tls.")
    paths = {}
    for file_key in ("ca_file", "cert_file", "key_file"):
        path = text(f"{key}.tls.{file_key}", raw.get(file_key))
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigError(f"{key}.tls.{file_key}", path, "a readable file")
        paths[file_key] = path
    if bool(paths["cert_file"]) != bool(paths["key_file"]):
        raise ConfigError(f"{key}.tls.cert_file", paths["cert_file"], "cert_file and key_file together")
    settings = TLSSettings(
        enabled=bool(raw),
        ca_file=paths["ca_file"],
        cert_file=paths["cert_file"],
        key_file=paths["key_file"],
        server_name=text(f"{key}.tls.server_name", raw.get("server_name")),
        handshake_first=boolean(f"{key}.tls.handshake_first", raw.get("handshake_first", False)),
        insecure_skip_verify=boolean(f"{key}.tls.insecure_skip_verify", raw.get("insecure_skip_verify", False)),
    )
    if settings.enabled:
        try:
            client_context(settings)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{key}.tls", "<files>", f"a PEM CA bundle and a matching cert/key pair ({exc})"
            ) from None
    return settings


def _default_timeout(timeout: float | None, interval: float) -> float:
    return timeout if timeout is not None else min(DEFAULT_TIMEOUT, interval)


def _apply_env_url(
    targets: list[Target], environ: Mapping[str, str], interval: float, timeout: float | None
) -> list[Target]:
    """Env `NATS_URL`, exactly as the applications read it, sets the servers of the `default` target."""
    raw = environ.get("NATS_URL", "").strip()
    if not raw:
        return targets
    servers = _servers("env NATS_URL", raw)
    for index, target in enumerate(targets):
        if target.name == DEFAULT_TARGET_NAME:
            return [*targets[:index], replace(target, servers=servers), *targets[index + 1 :]]
    default = Target(
        name=DEFAULT_TARGET_NAME,
        servers=servers,
        interval=interval,
        timeout=_default_timeout(timeout, interval),
    )
    return [default, *targets]


def _targets_from_flags(
    values: Sequence[str], file_targets: list[Target], interval: float, timeout: float | None
) -> list[Target]:
    """`--nats-url [NAME=]URL`: the targets are exactly the flags; a same-named file target lends its settings."""
    by_name = {target.name: target for target in file_targets}
    targets: list[Target] = []
    for index, value in enumerate(values):
        name, sep, url = value.partition("=")
        if not sep or not TARGET_NAME_PATTERN.fullmatch(name):
            # Not `NAME=URL`: the '=' is inside the URL (a password may hold one), so the whole value is the URL,
            # and nothing of it is ever echoed.
            name, url = "", value
        name = _target_name("--nats-url", name) if name else _default_flag_name(index, url)
        servers = _servers("--nats-url", url)
        base = by_name.get(name)
        if base is not None:
            targets.append(replace(base, servers=servers))
        else:
            targets.append(
                Target(name=name, servers=servers, interval=interval, timeout=_default_timeout(timeout, interval))
            )
    _reject_duplicate_names(targets)
    return targets


def _default_flag_name(index: int, url: str) -> str:
    if index == 0:
        return DEFAULT_TARGET_NAME
    try:
        first = parse_server_list(url)[0]
    except UrlError:
        return f"target{index}"
    return f"{first.host}:{first.port}"


def _servers(key: str, raw: str) -> tuple[NatsUrl, ...]:
    try:
        return parse_server_list(raw)
    except UrlError as exc:
        # The raw value may hold credentials: name the key and the problem, never the value.
        raise ConfigError(key, "<redacted>", f"a NATS URL such as nats://nats-server:4222 ({exc})") from None


def _target_name(key: str, value: object) -> str:
    if not isinstance(value, str) or not TARGET_NAME_PATTERN.fullmatch(value):
        raise ConfigError(key, value, "a name of letters, digits, '.', '_' or '-' (at most 63)")
    return value


def _reject_duplicate_names(targets: Sequence[Target]) -> None:
    seen: set[str] = set()
    for target in targets:
        if target.name in seen:
            raise ConfigError("targets.name", target.name, "unique target names")
        seen.add(target.name)
