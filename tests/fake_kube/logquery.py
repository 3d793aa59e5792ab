"""PodLogOptions from the query string, validated the way the API server and kubelet do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ApiError, bad_request, invalid
from .timeutil import now_ns, parse_rfc3339, rfc3339_nano

_NS = 1_000_000_000
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def parse_bool(query: Mapping[str, str], name: str) -> bool:
    """Go's strconv.ParseBool, which the API server uses for boolean query parameters."""
    value = query.get(name)
    if value is None or value == "":
        return False
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def parse_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


@dataclass(frozen=True, slots=True)
class LogOptions:
    container: str
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    since_ns: int | None = None  # lines with a timestamp before this are skipped
    tail_lines: int | None = None
    limit_bytes: int | None = None

    def render(self, ts: int, line: bytes, offset: int = 0) -> bytes:
        """One line as kubelet sends it: optional RFC 3339 nano prefix (in the runtime's zone offset, which kubelet
        passes on unchanged), the bytes as written, a newline."""
        if self.timestamps:
            return b"%s %s\n" % (rfc3339_nano(ts, offset), line)
        return line + b"\n"


def parse_log_options(query: Mapping[str, str], pod_name: str) -> LogOptions:
    """Parse and validate; raises 400 for unparsable values and 422 for invalid combinations, like the server."""
    since_time = query.get("sinceTime")
    since_ns: int | None = None
    if since_time:
        try:
            # metav1.Time has second precision: the fraction is dropped before kubelet compares timestamps.
            since_ns = parse_rfc3339(since_time) // _NS * _NS
        except ValueError:
            raise bad_request(f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None
    since_seconds = parse_int(query, "sinceSeconds")
    tail_lines = parse_int(query, "tailLines")
    limit_bytes = parse_int(query, "limitBytes")
    causes: list[tuple[str, str]] = []
    if since_seconds is not None:
        if since_seconds < 1:
            causes.append(("sinceSeconds", f"Invalid value: {since_seconds}: must be greater than 0"))
        if since_ns is not None:
            causes.append(("", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
        since_ns = now_ns() - since_seconds * _NS
    if tail_lines is not None and tail_lines < 0:
        causes.append(("tailLines", f"Invalid value: {tail_lines}: must be greater than or equal to 0"))
    if limit_bytes is not None and limit_bytes < 1:
        causes.append(("limitBytes", f"Invalid value: {limit_bytes}: must be greater than 0"))
    if causes:
        raise invalid("PodLogOptions", pod_name, causes)
    return LogOptions(
        container=query.get("container", ""),
        follow=parse_bool(query, "follow"),
        previous=parse_bool(query, "previous"),
        timestamps=parse_bool(query, "timestamps"),
        since_ns=since_ns,
        tail_lines=tail_lines,
        limit_bytes=limit_bytes,
    )


def choose_container(pod: Mapping[str, object], requested: str) -> str:
    """The container a log request means; the API server's messages for the two ways to get it wrong."""
    spec = pod.get("spec")
    assert isinstance(spec, dict)
    meta = pod.get("metadata")
    assert isinstance(meta, dict)
    name = meta["name"]
    names = [c["name"] for c in spec.get("containers", [])]
    init_names = [c["name"] for c in spec.get("initContainers", [])]
    if requested:
        if requested not in names and requested not in init_names:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) == 1:
        return str(names[0])
    if not names:
        raise bad_request(f"a container name must be specified for pod {name}")
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    if init_names:
        message += f" or one of the init containers: [{' '.join(init_names)}]"
    raise bad_request(message)


def waiting_error(container: str, pod: str, reason: str) -> ApiError:
    return bad_request(f'container "{container}" in pod "{pod}" is waiting to start: {reason}')


def no_previous_error(container: str, pod: str) -> ApiError:
    return bad_request(f'previous terminated container "{container}" in pod "{pod}" not found')
