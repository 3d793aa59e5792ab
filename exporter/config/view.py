"""The configuration in force as people may see it (the /config page): every secret replaced or left out."""

from __future__ import annotations

from typing import Any

from exporter.config.diagnostics import DiagnosticsSettings
from exporter.config.durations import format_duration
from exporter.config.logs import Event, LogSettings
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
        # Whether a kubeconfig file was named, not its contents (it holds credentials).
        "kubeconfig": {"file": config.kubeconfig},
        "logs": _logs(config.logs),
        "diagnostics": _diagnostics(config.diagnostics),
        "targets": [_target(target) for target in config.targets],
    }


def _logs(logs: LogSettings) -> dict[str, Any]:
    return {
        "enabled": logs.enabled,
        "selector": logs.selector,
        "namespaces": list(logs.namespaces),
        "containers": list(logs.containers),
        "app_labels": list(logs.app_labels),
        "per_pod": logs.per_pod,
        "from_start": logs.from_start,
        "files": [{"app": app, "path": path} for app, path in logs.files],
        "silence_timeout": format_duration(logs.silence_timeout),
        "max_stream_lifetime": format_duration(logs.max_stream_lifetime),
        "patterns": {
            str(event): {
                "substrings": list(logs.patterns.substrings.get(event, ())),
                "regexes": list(logs.patterns.regexes.get(event, ())),
            }
            for event in Event
        },
        "shard": logs.shard,
        "total_shards": logs.total_shards,
    }


def _diagnostics(settings: DiagnosticsSettings) -> dict[str, Any]:
    return {
        "interval": format_duration(settings.interval),
        "cluster_domain": settings.cluster_domain,
        "app_selector": settings.app_selector,
        "namespace": settings.namespace,
        "app_namespaces": list(settings.app_namespaces),
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
