"""The landing page: what a person on call reads first. A view of the status board, rendered on the server.

No external assets (clusters are often offline), inline CSS, refreshes itself, readable on a phone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from exporter.cluster.result import ClusterResult, RouteProbe
from exporter.cluster.runner import ClusterBoard, TargetClusterState, route_names
from exporter.diagnostics.runner import Diagnosis
from exporter.logwatch.tally import LogTally, PodState
from exporter.probe.result import Phase
from exporter.probe.status import TIMELINE_POINTS, TIMELINE_SLOT, TIMELINE_SPAN, State, StatusBoard, TargetStatus
from exporter.servers.apps_view import apps_document
from exporter.servers.board import ServerViewBoard

REFRESH_SECONDS = 5

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:1rem;
  background:#f6f7f9;color:#1d2330}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
.muted{color:#5b6475;font-size:.85rem}a{color:#2457c5}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:.8rem 1rem;margin:.6rem 0;max-width:60rem;
  overflow-x:auto}
.head{display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline;justify-content:space-between}
.badge{font-weight:600;padding:.1rem .55rem;border-radius:999px;font-size:.85rem}
.up{background:#dcf5e3;color:#146c2e}.down{background:#fde2e1;color:#a4161a}.unknown{background:#eceff3;color:#5b6475}
table{border-collapse:collapse;width:100%;font-size:.88rem}
td,th{text-align:left;padding:.2rem .4rem;vertical-align:middle}
.bar{height:.7rem;background:#4c7be0;border-radius:3px;min-width:2px}
.bar.failed{background:#d64545}.phase{width:5.5rem}.secs{width:6rem;text-align:right;font-variant-numeric:tabular-nums}
code{background:#eef1f5;padding:.05rem .3rem;border-radius:4px;word-break:break-all}
.failure{margin-top:.5rem;font-size:.88rem}.when{white-space:nowrap;font-variant-numeric:tabular-nums}
.timeline{display:block;width:100%;height:4.5rem;margin-top:.5rem;background:#fafbfc;border:1px solid #eceff3}
.legend{font-size:.75rem;color:#5b6475;display:flex;flex-wrap:wrap;gap:.2rem .7rem}
.legend i{display:inline-block;width:.8rem;height:.25rem;margin-right:.25rem;vertical-align:middle}
"""
# One colour per phase for the timeline's lines (and its legend).
_PHASE_COLOURS = {
    Phase.DNS: "#8e44ad",
    Phase.TCP: "#16a085",
    Phase.CONNECT: "#2457c5",
    Phase.RTT: "#d68910",
    Phase.PUBSUB: "#5b6475",
}
_TIMELINE_HEIGHT = 60  # SVG units: a 6-unit up/down band on top, the phases' lines below


def render(
    board: StatusBoard,
    *,
    version: str,
    tally: LogTally | None = None,
    diagnoses: Sequence[Diagnosis] = (),
    now: float | None = None,
    server_view: ServerViewBoard | None = None,
    cluster: ClusterBoard | None = None,
) -> str:
    current = time.time() if now is None else now
    statuses = board.targets()
    cards = "".join(_target_card(status, current) for status in statuses) or (
        '<p class="muted">Probing is disabled (NATS_ENABLED=false) or no target is configured.</p>'
    )
    history = "".join(
        f'<tr><td class="when">{_short_clock(t.at)}</td><td>{escape(t.target)}</td><td>{t.previous} → '
        f'<span class="badge {t.current}">{t.current}</span></td>'
        f"<td>{escape(t.reason or '')}</td><td>{escape(t.detail)}</td></tr>"
        for t in reversed(board.history)
    )
    down = sum(1 for status in statuses if status.state is State.DOWN)
    title = f"{down} of {len(statuses)} down" if down else "all targets up" if statuses else "no targets"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<link rel="icon" href="data:,">
<title>NATS connectivity: {escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>NATS connectivity exporter</h1>
<div class="muted">version {escape(version)} · {escape(title)} · refreshed {_clock(current)} ·
<a href="/metrics">metrics</a> · <a href="/-/healthy">health</a> · <a href="/-/ready">readiness</a> ·
<a href="/config">configuration</a></div>
<h2>Targets</h2>
{cards}
{_diagnostics_section(diagnoses, statuses)}
{_applications_section(tally)}
{_server_view_section(server_view, current)}
{_cluster_section(cluster, current)}
<h2>Recent state changes</h2>
<div class="card"><table><tr><th>time (UTC)</th><th>target</th><th>change</th><th>reason</th><th>detail</th></tr>
{history or '<tr><td colspan="5" class="muted">none yet</td></tr>'}</table></div>
</body></html>"""


def _applications_section(tally: LogTally | None) -> str:
    """Pods per application by their latest NATS log event, when log following is on."""
    if tally is None:
        return ""
    counts = tally.app_pod_counts()
    apps = sorted({(namespace, app) for namespace, app, _ in counts} | tally.followed_apps())
    rows = "".join(
        f"<tr><td>{escape(namespace or '(file)')}</td><td>{escape(app)}</td>"
        + "".join(f'<td class="secs">{counts.get((namespace, app, state), 0)}</td>' for state in PodState)
        + "</tr>"
        for namespace, app in apps
    )
    header = "".join(f'<th class="secs">{state.value}</th>' for state in PodState)
    empty = '<tr><td colspan="5" class="muted">no application followed yet</td></tr>'
    return (
        f'<h2>Applications</h2><div class="card"><table><tr><th>namespace</th><th>app</th>{header}</tr>'
        f"{rows or empty}</table></div>"
    )


def _diagnostics_section(diagnoses: Sequence[Diagnosis], statuses: Sequence[TargetStatus] = ()) -> str:
    """Failing diagnostic checks with their fix: what to do next, on the page people open first.

    "Passed" is said only when no target is down: a down target whose checks found nothing is named as such.
    """
    failing = [(diagnosis.target, result) for diagnosis in diagnoses for result in diagnosis.failed]
    if not diagnoses:
        return ""
    explained = {target for target, _ in failing}
    unexplained = [s for s in statuses if s.state is State.DOWN and s.target.name not in explained]
    if not failing and not unexplained:
        return '<h2>Diagnostics</h2><div class="card muted">every diagnostic check that could run passed</div>'
    items = "".join(
        f'<div class="failure"><span class="badge down">{escape(result.name)}</span> '
        f"<strong>{escape(target)}</strong>: {escape(result.summary)}"
        f'<div class="muted">fix: {escape(result.fix)}</div></div>'
        for target, result in failing
    )
    items += "".join(
        f'<div class="failure"><span class="badge down">down</span> <strong>{escape(s.target.name)}</strong>: '
        f"the probe fails ({escape(s.last.reason if s.last is not None and s.last.reason else 'unknown')}) and no "
        "diagnostic check has found why yet; see its card</div>"
        for s in unexplained
    )
    return f'<h2>Diagnostics</h2><div class="card">{items}</div>'


GLOBAL_ACCOUNT_CAVEAT = (
    "Close reasons are not visible here: through the NATS port the servers list closed connections only for named "
    "accounts, not for the default account <code>$G</code> (the system or monitor source shows them)."
)
_CELL = {  # route matrix cells: inline colours, no external assets
    "ok": "background:#dcf5e3;color:#146c2e",
    "bad": "background:#fde2e1;color:#a4161a",
    "none": "background:#eceff3;color:#5b6475",
}


def _server_view_section(board: ServerViewBoard | None, now: float) -> str:
    """Which application pods the NATS servers list as connected: the same document as `/apps`, for a person."""
    if board is None:
        return ""
    document = apps_document(board)
    view = document["view"]
    heading = "<h2>Applications as the NATS servers see them</h2>"
    if view is None:
        return f'{heading}<div class="card muted" id="server-view">waiting for the first answer of the servers</div>'
    if not view["ok"]:
        answered = f"no view: <strong>{escape(str(view['failure']))}</strong> {escape(view['detail'])}"
    elif not view["complete"]:
        expected = view["servers_expected"] or "?"
        answered = f"partial view: {view['servers_answered']} of {expected} servers answered"
    else:
        answered = f"{view['servers_answered']} server(s) answered"
    head = (
        f'<div class="muted">target {escape(document["target"])} · source {escape(view["source"])} · {answered} · '
        f"asked {_ago(view['collected_at'], now)}</div>"
    )
    caveat = "" if view["closed_connections_visible"] else f'<div class="muted">{GLOBAL_ACCOUNT_CAVEAT}</div>'
    rows = "".join(
        f"<tr><td>{escape(app['namespace'])}</td><td>{escape(app['app'])}</td>"
        f'<td class="secs">{app["expected"]}</td><td class="secs">{app["connected"]}</td><td>'
        + ", ".join(f"{n} {escape(v)}" for v, n in sorted(app["verdicts"].items()) if n)
        + "</td></tr>"
        for app in document["apps"]
    )
    table = (
        '<table><tr><th>namespace</th><th>app</th><th class="secs">expected</th><th class="secs">connected</th>'
        "<th>verdicts</th></tr>"
        + (rows or '<tr><td colspan="5" class="muted">no application pod matches the selector</td></tr>')
        + "</table>"
    )
    bad = [pod for pod in document["pods"] if pod["verdict"] not in (None, "connected")]
    pods = "".join(
        f'<div class="failure"><span class="badge {"unknown" if pod["verdict"] == "unknown" else "down"}">'
        f"{escape(pod['verdict'])}</span> <strong>{escape(pod['namespace'])}/{escape(pod['pod'])}</strong> "
        f"<code>{escape(pod['ip'] or 'no IP')}</code> {escape(pod['detail'])}</div>"
        for pod in bad
    )
    return f'{heading}<div class="card" id="server-view">{head}{caveat}{table}{pods}</div>'


def _cluster_section(board: ClusterBoard | None, now: float) -> str:
    """Per target with cluster probes: each server, a server-by-server route matrix, the JetStream canary."""
    states = [state for state in board.states() if state.latest is not None] if board is not None else []
    if not states:
        return ""
    return "<h2>Cluster</h2>" + "".join(_cluster_card(state, state.latest, now) for state in states if state.latest)


def _cluster_card(state: TargetClusterState, result: ClusterResult, now: float) -> str:
    names = route_names(result.servers)
    rows = ""
    for server, name in zip(result.servers, names, strict=True):
        health = " ".join(
            f'<span class="badge {"up" if ok else "down"}">{escape(mode.value)}</span>'
            for mode, ok in server.healthz.items()
        )
        why = "" if server.ok else escape(f"{server.probe.reason or 'not_verified'} {server.probe.detail}".strip())
        ready = {True: "ready", False: "not ready", None: ""}[server.ready]
        rows += (
            f"<tr><td><code>{escape(name)}</code></td><td>{escape(server.address)}</td>"
            f'<td><span class="badge {"up" if server.ok else "down"}">{"up" if server.ok else "down"}</span></td>'
            f"<td>{ready}</td><td>{health or '<span class=muted>no /healthz</span>'}</td><td>{why}</td></tr>"
        )
    servers = (
        "<table><tr><th>server</th><th>address</th><th>state</th><th>endpoint</th><th>healthz</th><th>why</th></tr>"
        f"{rows}</table>"
    )
    all_ok = all(s.ok for s in result.servers) and all(p.ok for p in state.routes.values())
    all_ok = all_ok and (result.jetstream is None or result.jetstream.ok)
    badge = f'<span class="badge {"up" if all_ok else "down"}">{"healthy" if all_ok else "degraded"}</span>'
    return (
        f'<div class="card" id="cluster-{escape(state.target)}">'
        f'<div class="head"><strong>{escape(state.target)}</strong>{badge}</div>'
        f'<div class="muted">probed {_ago(result.started_at, now)} in {result.duration:.2f} s · '
        f"{len(result.servers)} server(s) · {result.pairs_total} route pair(s)</div>"
        f"{servers}{_route_matrix(names, state.routes)}{_jetstream_line(result)}</div>"
    )


def _route_matrix(names: Sequence[str], routes: dict[tuple[str, str, str], RouteProbe]) -> str:
    """Rows publish, columns receive; a cell is the latest probe of that ordered pair in every account."""
    if len(names) < 2:
        return ""
    by_pair: dict[tuple[str, str], list[RouteProbe]] = {}
    for (source, sink, _account), probe in routes.items():
        by_pair.setdefault((source, sink), []).append(probe)
    header = "".join(f"<th><code>{escape(name)}</code></th>" for name in names)
    body = ""
    for source in names:
        cells = ""
        for sink in names:
            if source == sink:
                cells += f'<td style="{_CELL["none"]}">·</td>'
                continue
            probes = by_pair.get((source, sink), [])
            failed = [p for p in probes if not p.ok]
            if not probes:
                cells += f'<td style="{_CELL["none"]}" title="not probed yet">?</td>'
            elif failed:
                title = escape("; ".join(f"{p.account}: {p.result.value} {p.detail}".strip() for p in failed))
                cells += f'<td style="{_CELL["bad"]}" title="{title}">{escape(failed[0].result.value)}</td>'
            else:
                slowest = max((p.delivery_seconds or 0.0) for p in probes)
                cells += f'<td style="{_CELL["ok"]}" class="secs">{slowest * 1000:.1f} ms</td>'
        body += f'<tr><th style="white-space:nowrap"><code>{escape(source)}</code> →</th>{cells}</tr>'
    return (
        '<div class="failure">Routes (row publishes, column receives)</div>'
        f'<table style="width:auto;white-space:nowrap"><tr><th></th>{header}</tr>{body}</table>'
    )


def _jetstream_line(result: ClusterResult) -> str:
    js = result.jetstream
    if js is None:
        return ""
    if js.ok:
        replicas = ", ".join(f"{n} {state.value}" for state, n in js.replicas.items() if n)
        return (
            f'<div class="failure">JetStream <span class="badge up">ok</span> leader '
            f"<code>{escape(js.leader or '?')}</code>"
            + (f" · replicas {escape(replicas)}" if replicas else "")
            + "</div>"
        )
    phase = f" at {escape(js.failed_phase.value)}" if js.failed_phase else ""
    reason = escape(js.reason.value if js.reason else "")
    return f'<div class="failure">JetStream <span class="badge down">{reason}</span>{phase} {escape(js.detail)}</div>'


def _target_card(status: TargetStatus, now: float) -> str:
    target = status.target
    state = status.state
    since = f"since {_ago(status.state_since, now)}" if status.state_since else "waiting for the first probe"
    session = {True: "session connected", False: "session disconnected", None: "no session"}[status.session_connected]
    rows = ""
    result = status.last
    if result is not None:
        longest = max(result.phases.values(), default=0.0) or 1.0
        for phase in Phase:
            seconds = result.phases.get(phase)
            if seconds is not None:
                width = max(1.0, 100 * seconds / longest)
                rows += (
                    f'<tr><td class="phase">{phase}</td><td><div class="bar" style="width:{width:.1f}%"></div></td>'
                    f'<td class="secs">{seconds * 1000:.2f} ms</td></tr>'
                )
            elif phase is result.failed_phase:
                rows += (
                    f'<tr><td class="phase">{phase}</td><td><div class="bar failed" style="width:100%"></div></td>'
                    f'<td class="secs">failed</td></tr>'
                )
    failure = ""
    if status.last_failure is not None:
        last_failure = status.last_failure
        failure = (
            f'<div class="failure">Last failure {_ago(last_failure.started_at, now)}: '
            f"<strong>{escape(last_failure.reason or '')}</strong> {escape(last_failure.detail)}</div>"
        )
    server = ""
    if result is not None and result.server is not None:
        info = result.server
        server = f" · server <code>{escape(info.server_name or info.server_id)}</code> v{escape(info.version)}" + (
            f" cluster <code>{escape(info.cluster)}</code>" if info.cluster else ""
        )
    return f"""<div class="card" id="target-{escape(target.name)}">
<div class="head"><strong>{escape(target.name)}</strong><span class="badge {state}">{state}</span></div>
<div class="muted"><code>{escape(target.redacted_url)}</code> · {since} · {session}{server}</div>
<table>{rows}</table>{failure}{_timeline(status, now)}</div>"""


def _timeline(status: TargetStatus, now: float) -> str:
    """The last hour as an inline SVG: a band of up (green) and down (red) slots, and each phase's time as a line.

    One SVG unit per slot across, stretched to the card's width; no script, no external asset.
    """
    points = [point for point in status.timeline if point.at > now - TIMELINE_SPAN]
    if not points:
        return ""
    start = now - TIMELINE_SPAN
    band = "".join(
        f'<rect x="{(point.at - start) / TIMELINE_SLOT:.1f}" y="0" width="1" height="6" '
        f'fill="{"#2e9e55" if point.ok else "#d64545"}"/>'
        for point in points
    )
    longest = max((seconds for point in points for seconds in point.phases if seconds is not None), default=0.0)
    lines = ""
    for index, phase in enumerate(Phase):
        coordinates = " ".join(
            f"{(point.at - start) / TIMELINE_SLOT + 0.5:.1f},"
            f"{_TIMELINE_HEIGHT - (_TIMELINE_HEIGHT - 10) * seconds / (longest or 1):.1f}"
            for point in points
            if (seconds := point.phases[index]) is not None
        )
        if coordinates:
            lines += (
                f'<polyline points="{coordinates}" fill="none" stroke="{_PHASE_COLOURS[phase]}" '
                'stroke-width="1.2" vector-effect="non-scaling-stroke"/>'
            )
    down = sum(1 for point in points if not point.ok)
    label = f"last hour: {len(points) - down} slots up, {down} down; longest phase {longest * 1000:.1f} ms"
    legend = "".join(f'<span><i style="background:{_PHASE_COLOURS[p]}"></i>{p}</span>' for p in Phase)
    return (
        f'<svg class="timeline" viewBox="0 0 {TIMELINE_POINTS} {_TIMELINE_HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>{band}{lines}</svg>'
        f'<div class="legend"><span>last hour (scale {longest * 1000:.1f} ms)</span>{legend}'
        f'<span style="color:#a4161a">{down} down slots</span></div>'
    )


def _short_clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%m-%d %H:%M:%S")


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "never"
    seconds = max(0, int(now - timestamp))
    if seconds < 120:
        text = f"{seconds}s ago"
    elif seconds < 7200:
        text = f"{seconds // 60}m ago"
    else:
        text = f"{seconds // 3600}h ago"
    return f"{text} ({_clock(timestamp)})"
