"""Sessions: the exporter's long-lived connection to each target, which lives and reconnects as an application's."""

from __future__ import annotations

from .common import GREEN_FROM_1, TARGET, Row, bars, by, increase, lines, rate, selector, series, stat_panel, value_text


def _increase(metric: str) -> str:
    return by("sum", "target", increase(selector(metric, TARGET)))


def _rate(metric: str, *matchers: str) -> str:
    return by("sum", "target", rate(selector(metric, TARGET, *matchers)))


def row() -> Row:
    return Row(
        "Sessions",
        [
            stat_panel(
                "Session connected",
                "Whether the exporter's long-lived connection to each target (it lives and reconnects like an "
                "application's) is connected now.",
                series(selector("nats_connectivity_session_connected", TARGET), "{{target}}"),
                unit="none",
                size=(6, 7),
                steps=GREEN_FROM_1,
                mappings=value_text({"1": ("connected", "green"), "0": ("disconnected", "red")}),
            ),
            bars(
                "Session disconnects and reconnects",
                "Connection losses of the long-lived session and re-connections after them, per interval: what an "
                "application's connection suffers. Three losses in 15 minutes warn (NATSConnectivitySessionFlapping).",
                series(_increase("nats_connectivity_session_disconnects_total"), "{{target}} disconnects", "A"),
                series(_increase("nats_connectivity_session_reconnects_total"), "{{target}} reconnects", "B"),
                unit="short",
                size=(9, 7),
                stacked=False,
            ),
            lines(
                "Heartbeat publish success ratio",
                "Share of the session's heartbeats (one per probe interval) that came back within the timeout. Below "
                "90% for 10 minutes warns (NATSConnectivityHeartbeatsLost). No data while no heartbeat was published.",
                series(
                    _rate("nats_connectivity_publish_total", 'result="success"')
                    + " / "
                    + _rate("nats_connectivity_publish_total"),
                    "{{target}}",
                ),
                unit="percentunit",
                size=(9, 7),
            )
            .min(0)
            .max(1),
        ],
    )
