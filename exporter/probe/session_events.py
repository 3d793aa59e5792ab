"""What the long-lived session reports: each event enters the exporter through one door (`ExporterState`)."""

from __future__ import annotations

from enum import StrEnum


class SessionEvent(StrEnum):
    CONNECTED = "connected"  # the first connection of a session is up
    CONNECT_FAILED = "connect_failed"  # an attempt to (re)establish the session failed
    DISCONNECTED = "disconnected"  # an established connection was lost
    RECONNECTED = "reconnected"  # re-established after a loss (by the client, or by a new client)
    HEARTBEAT_ECHOED = "heartbeat_echoed"
    HEARTBEAT_LOST = "heartbeat_lost"
    STOPPED = "stopped"  # the session was shut down by the exporter: its state is unknown, not down

    @property
    def connected(self) -> bool | None:
        """The session's connection state after this event, or None when the event does not change it."""
        return _CONNECTED_AFTER.get(self)


_CONNECTED_AFTER: dict[SessionEvent, bool | None] = {
    SessionEvent.CONNECTED: True,
    SessionEvent.RECONNECTED: True,
    SessionEvent.CONNECT_FAILED: False,
    SessionEvent.DISCONNECTED: False,
}
