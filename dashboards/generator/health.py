"""Exporter health: is the exporter itself scraped, configured and able to read the Kubernetes API and the logs."""

from __future__ import annotations

from .common import (
    EXPORTER,
    GREEN_FROM_1,
    JUST_BLUE,
    Row,
    bars,
    by,
    increase,
    lines,
    rows,
    selector,
    series,
    stat_panel,
    table_panel,
    value_text,
)


def _increase_by(labels: str, metric: str) -> str:
    return by("sum", labels, increase(selector(metric, EXPORTER)))


def row() -> Row:
    return Row(
        "Exporter health",
        [
            table_panel(
                "Build info",
                "Version of each exporter instance, of its Python and of its NATS client (nats-py).",
                rows(
                    by(
                        "max",
                        "instance, version, python_version, nats_py_version",
                        selector("nats_connectivity_build_info", EXPORTER),
                    )
                ),
                size=(12, 5),
            ),
            stat_panel(
                "Scraped and ready",
                "up: Prometheus scraped the exporter (0 for 5 minutes pages: NATSConnectivityExporterDown). ready: "
                "every target has been probed at least once since start.",
                series(selector("up", EXPORTER), "{{instance}} up", "A"),
                series(selector("nats_connectivity_ready", EXPORTER), "{{instance}} ready", "B"),
                unit="none",
                size=(4, 5),
                steps=GREEN_FROM_1,
                mappings=value_text({"1": ("yes", "green"), "0": ("no", "red")}),
            ),
            stat_panel(
                "Configuration reload",
                "Whether the last reload (SIGHUP or POST /-/reload) of the configuration file, and the last re-read "
                "of the web config file, were accepted. A rejected file leaves the previous one in force "
                "(NATSConnectivityConfigReloadFailed).",
                series(selector("nats_connectivity_config_last_reload_successful", EXPORTER), "{{instance}} config"),
                series(
                    selector("nats_connectivity_web_config_last_reload_successful", EXPORTER),
                    "{{instance}} web config",
                    "B",
                ),
                unit="none",
                size=(4, 5),
                steps=GREEN_FROM_1,
                mappings=value_text({"1": ("ok", "green"), "0": ("rejected", "red")}),
            ),
            stat_panel(
                "Configuration loaded",
                "When each exporter last loaded its configuration successfully (start-up or reload).",
                series(
                    "1000 * " + selector("nats_connectivity_config_last_reload_success_timestamp_seconds", EXPORTER),
                    "{{instance}}",
                ),
                unit="dateTimeFromNow",
                size=(4, 5),
                steps=JUST_BLUE,
            ),
            bars(
                "Kubernetes API errors",
                "Errors from the Kubernetes API per interval, by operation and code (HTTP status, or network/config). "
                "403 means missing RBAC (NATSConnectivityKubernetesForbidden); 401 a rejected token, which the "
                "exporter reloads.",
                series(
                    _increase_by("operation, code", "nats_connectivity_kubernetes_errors_total"),
                    "{{operation}} {{code}}",
                ),
                unit="short",
                size=(8, 7),
            ),
            lines(
                "Log streams",
                "Application log streams being followed, and streams waiting to be reopened after an error. Retrying "
                "for 10 minutes warns (NATSConnectivityLogStreamsRetrying).",
                series(by("sum", "state", selector("nats_connectivity_log_streams", EXPORTER)), "{{state}}"),
                unit="short",
                size=(8, 7),
            ),
            bars(
                "Log stream restarts",
                "Log streams reopened per interval, by why: ended, error, silence (nothing for silence_timeout: "
                "kubelet streams can stall), lifetime (max_stream_lifetime), rotated, truncated. Reopening never "
                "loses or double-counts a line.",
                series(_increase_by("reason", "nats_connectivity_log_stream_restarts_total"), "{{reason}}"),
                unit="short",
                size=(8, 7),
            ),
        ],
    )
