"""The configuration in force as people may see it (the /config page): every secret replaced or left out."""

from __future__ import annotations

from typing import Any

from exporter.config.durations import format_duration
from exporter.config.model import Config, Target
from exporter.config.webconfig import WebConfig, describe

HIDDEN = "<secret>"


def redacted_config(config: Config, web: WebConfig) -> dict[str, Any]:
    return {
        "probe": {"enabled": config.probing_enabled, "allowed_hosts": list(config.probe_allowed_hosts)},
        "web": {
            "listen_address": config.listen_address,
            "config_file": config.web_config_file,
            "idle_timeout": format_duration(config.idle_timeout),
            **describe(web),
        },
        "log": {"level": config.log_level, "format": config.log_format},
        "config_file": config.config_file,
        "targets": [_target(target) for target in config.targets],
    }


def _target(target: Target) -> dict[str, Any]:
    credentials = target.credentials
    return {
        "name": target.name,
        "url": [server.redacted() for server in target.servers],
        "interval": format_duration(target.interval),
        "timeout": format_duration(target.timeout),
        "session": target.session,
        "subject_prefix": target.subject_prefix,
        "credentials": {
            "user": credentials.user,
            "password": HIDDEN if credentials.password else None,
            "token": HIDDEN if credentials.token else None,
            "nkey_seed_file": credentials.nkey_seed_file,
            "creds_file": credentials.creds_file,
        },
        "tls": {
            "enabled": target.uses_tls,
            "ca_file": target.tls.ca_file,
            "cert_file": target.tls.cert_file,
            "server_name": target.tls.server_name,
            "handshake_first": target.tls.handshake_first,
            "insecure_skip_verify": target.tls.insecure_skip_verify,
        },
    }
