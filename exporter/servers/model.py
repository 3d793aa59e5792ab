"""The values of the servers' view: connections as the servers list them, the pods expected, and the reasons.

Everything here is a frozen value. Close reasons from the servers' free text are mapped to a fixed set in one
function (`close_reason`), so metric labels stay bounded whatever a future server version writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from exporter.config.server_view import Source

PodKey = tuple[str, str]  # (namespace, pod name)


class CloseReason(StrEnum):
    """Why a server closed a client connection: a fixed, documented set (the `reason` label)."""

    CLIENT_CLOSED = "client_closed"
    SLOW_CONSUMER = "slow_consumer"
    STALE_CONNECTION = "stale_connection"
    AUTH_FAILURE = "auth_failure"
    AUTH_EXPIRED = "auth_expired"
    SERVER_SHUTDOWN = "server_shutdown"
    MAX_CONNECTIONS = "max_connections"
    PROTOCOL_ERROR = "protocol_error"
    WRITE_ERROR = "write_error"
    READ_ERROR = "read_error"
    OTHER = "other"


# nats-server's `ClosedState` texts (server/client.go, as of 2.15) by the reason they count as.
_CLOSE_TEXTS: dict[str, CloseReason] = {
    "client closed": CloseReason.CLIENT_CLOSED,
    "slow consumer (pending bytes)": CloseReason.SLOW_CONSUMER,
    "slow consumer (write deadline)": CloseReason.SLOW_CONSUMER,
    "stale connection": CloseReason.STALE_CONNECTION,
    "authentication failure": CloseReason.AUTH_FAILURE,
    "authentication timeout": CloseReason.AUTH_FAILURE,
    "missing account": CloseReason.AUTH_FAILURE,
    "proxy not trusted": CloseReason.AUTH_FAILURE,
    "proxy required": CloseReason.AUTH_FAILURE,
    "authentication expired": CloseReason.AUTH_EXPIRED,
    "credentials revoked": CloseReason.AUTH_EXPIRED,  # valid credentials that stopped being valid
    "server shutdown": CloseReason.SERVER_SHUTDOWN,
    "maximum connections exceeded": CloseReason.MAX_CONNECTIONS,
    "maximum account connections exceeded": CloseReason.MAX_CONNECTIONS,
    "protocol violation": CloseReason.PROTOCOL_ERROR,
    "parse error": CloseReason.PROTOCOL_ERROR,
    "bad client protocol version": CloseReason.PROTOCOL_ERROR,
    "maximum control line exceeded": CloseReason.PROTOCOL_ERROR,
    "maximum message payload exceeded": CloseReason.PROTOCOL_ERROR,
    "message header violation": CloseReason.PROTOCOL_ERROR,
    "no responders requires headers": CloseReason.PROTOCOL_ERROR,
    "incorrect port": CloseReason.PROTOCOL_ERROR,
    "tls handshake failure": CloseReason.PROTOCOL_ERROR,
    "minimum version required": CloseReason.PROTOCOL_ERROR,
    "write error": CloseReason.WRITE_ERROR,
    "read error": CloseReason.READ_ERROR,
}


def close_reason(text: str) -> CloseReason:
    """The one mapping from a server's close text to a `CloseReason`; unknown texts are `other`, never dropped."""
    cleaned = text.strip().lower()
    found = _CLOSE_TEXTS.get(cleaned)
    if found is not None:
        return found
    if cleaned.startswith("slow consumer"):  # a future variant of the same cause
        return CloseReason.SLOW_CONSUMER
    return CloseReason.OTHER


@dataclass(frozen=True, slots=True)
class Connection:
    """One client connection as a server lists it (open, or closed when `stop` is set)."""

    server: str  # the server's name: the `server` label (bounded by the cluster's size)
    server_id: str  # changes when the server restarts; with `cid`, identifies the connection
    cid: int
    ip: str
    port: int
    start: float  # Unix time the server accepted it
    name: str = ""  # the client's name (CONNECT `name`), empty when the application sets none
    lang: str = ""
    version: str = ""
    subscriptions: int = 0
    pending_bytes: int = 0
    account: str = ""
    stop: float | None = None  # closed connections only
    reason: CloseReason | None = None  # closed connections only
    reason_text: str = ""  # the server's own words, for the page

    @property
    def key(self) -> tuple[str, int]:
        return (self.server_id, self.cid)


@dataclass(frozen=True, slots=True)
class ServerConnz:
    """One server's answer: its open connections and, where the source shows them, recently closed ones."""

    name: str
    server_id: str
    connections: tuple[Connection, ...]
    closed: tuple[Connection, ...] = ()
    total: int = 0  # what the server reported as its total of open connections
    complete: bool = True  # every page was read


class ViewFailure(StrEnum):
    """Why a poll produced no view at all (the log line and `/apps` say which)."""

    CONNECT_ERROR = "connect_error"
    TIMEOUT = "timeout"
    NO_REPLY = "no_reply"
    HTTP_ERROR = "http_error"
    PROTOCOL_ERROR = "protocol_error"


@dataclass(frozen=True, slots=True)
class ServerView:
    """What the servers said in one poll, and how many of the expected servers said it."""

    source: Source
    collected_at: float  # Unix time the poll started
    servers: tuple[ServerConnz, ...]
    expected_servers: int  # how many servers should have answered (0: not known)
    closed_visible: bool  # whether this source can list closed connections for this account
    failure: ViewFailure | None = None
    detail: str = ""  # human text for the page, already free of credentials
    bytes_requested: int = 0  # request payloads sent (account/system) or HTTP request bytes (monitor)
    bytes_received: int = 0  # reply payloads read

    @property
    def answered(self) -> int:
        return len(self.servers)

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.servers)

    @property
    def complete(self) -> bool:
        """Every expected server answered with every page: absence of a connection means something."""
        return self.ok and self.answered >= self.expected_servers and all(s.complete for s in self.servers)

    def connections(self) -> list[Connection]:
        return [c for server in self.servers for c in server.connections]

    def closed(self) -> list[Connection]:
        return [c for server in self.servers for c in server.closed]


@dataclass(frozen=True, slots=True)
class ExpectedPod:
    """An application pod as the pod watch sees it: what the join and the verdicts need, nothing more."""

    namespace: str
    name: str
    app: str
    ip: str  # status.podIP ("" before it has one)
    start_time: float | None  # status.startTime (Unix time); connections older than this are not its own
    node: str = ""  # spec.nodeName
    owner: str = ""  # "Kind/name" of the controlling ownerReference ("" if none)
    ready: bool = True  # Running, and the Ready condition is True
    host_network: bool = False  # spec.hostNetwork: its IP is the node's, shared
    ready_since: float | None = None  # the Ready condition's lastTransitionTime
    key: PodKey = field(init=False, repr=False, compare=False)  # (namespace, name), computed once: the join's hot key

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.namespace, self.name))


class UnmatchedKind(StrEnum):
    """Why a connection belongs to no pod (the `kind` label of `unmatched_connections`)."""

    UNKNOWN_ADDRESS = "unknown_address"  # no expected pod has the address: outside the cluster or the selection
    HOST_NETWORK = "host_network"  # the address of a node (host-network pods share it): not attributable
    SHARED_ADDRESS = "shared_address"  # many connections behind one address (SNAT, egress, server-side sidecar)
    BEFORE_POD_START = "before_pod_start"  # the address or name of a pod that started after the connection
    AMBIGUOUS_NAME = "ambiguous_name"  # a client name equal to several pods' names, none by address


class Verdict(StrEnum):
    """One pod's verdict (the `verdict` label); `unknown` is ours, see README/`verdicts.py`."""

    CONNECTED = "connected"
    NOT_CONNECTED = "not_connected"
    HALF_OPEN = "half_open"
    NO_SUBSCRIPTIONS = "no_subscriptions"
    SLOW_CONSUMER = "slow_consumer"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """The log view of one pod: its latest event's state (`connected`/`disconnected`/`unknown`) and when."""

    state: str
    at: float | None = None
    disconnected_at: float | None = None  # its latest `lost`/`failed` event, if any: dates a reconnect gap


@dataclass(frozen=True, slots=True)
class Unmatched:
    connection: Connection
    kind: UnmatchedKind


@dataclass(frozen=True, slots=True)
class JoinResult:
    """Each connection attributed to at most one pod, or listed as unmatched with the reason."""

    by_pod: dict[PodKey, tuple[Connection, ...]] = field(default_factory=dict)
    closed_by_pod: dict[PodKey, tuple[Connection, ...]] = field(default_factory=dict)
    unmatched: tuple[Unmatched, ...] = ()
