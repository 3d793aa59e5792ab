"""Servers' view: CPU per poll cycle to join 10,000 connections on 3 servers with 10,000 pods, and bytes asked of NATS.

Goal: join (with the verdicts and the tracker's update) < 100 ms per cycle. The CONNZ pages are built in the shape
nats-server 2.15 sends (every field of a real row, RFC 3339 nanosecond times), paged as the `account` source pages
them (`limit` 1,024, each page asked of every server at once, plus one page of closed connections), so the byte
count is what one cycle asks of NATS. Decoding the same pages with `json.loads` is printed beside as the floor
(the least any consumer of CONNZ must spend).
"""

from __future__ import annotations

import json
import math
import random
import time

from exporter.config.server_view import ServerViewSettings, Source
from exporter.servers.board import ServerViewBoard
from exporter.servers.connz import CLOSED, OPEN, parse_reply, request_body
from exporter.servers.loop import evaluate
from exporter.servers.model import ExpectedPod, ServerConnz, ServerView

from ._support import TimeBudget, median, ms, print_figure, print_stats

PODS = 10_000
SERVERS = 3
PAGE = 1024
CLOSED_PER_SERVER = 100
REPEATS = 15
BUDGET = 60.0
GOAL_SECONDS = 0.100
NOW = 1_796_040_000.0
SEED = 20261130


def rfc3339(at: float) -> str:
    seconds = int(at)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((at - seconds) * 1e9):09d}Z"


def pods_and_rows(rng: random.Random) -> tuple[list[ExpectedPod], list[list[dict[str, object]]]]:
    pods: list[ExpectedPod] = []
    rows: list[list[dict[str, object]]] = [[] for _ in range(SERVERS)]
    for index in range(PODS):
        ip = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
        name = f"app{index % 50}-{index:05d}"
        started = NOW - rng.uniform(600, 86_400)
        pods.append(
            ExpectedPod("shop", name, f"app{index % 50}", ip, started, node=f"node-{index % 100}", owner="ReplicaSet/x")
        )
        server = index % SERVERS
        start = started + rng.uniform(1, 60)
        rows[server].append(
            {
                "cid": index + 10,
                "kind": "Client",
                "type": "nats",
                "ip": ip,
                "port": 30000 + index % 30000,
                "start": rfc3339(start),
                "last_activity": rfc3339(NOW - rng.uniform(0, 5)),
                "rtt": "412µs",
                "uptime": "2h3m4s",
                "idle": "1s",
                "pending_bytes": 0,
                "in_msgs": rng.randrange(10**6),
                "out_msgs": rng.randrange(10**6),
                "in_bytes": rng.randrange(10**9),
                "out_bytes": rng.randrange(10**9),
                "subscriptions": rng.randrange(1, 20),
                # half the applications name their connection after the pod (downward API), half do not
                **({"name": name} if index % 2 else {}),
                "lang": "go",
                "version": "1.37.0",
            }
        )
    return pods, rows


def reply(server: int, rows: list[dict[str, object]], offset: int, total: int, closed: bool = False) -> bytes:
    data = {
        "server_id": f"NSERVER{server}",
        "now": rfc3339(NOW),
        "num_connections": len(rows),
        "total": total,
        "offset": offset,
        "limit": PAGE,
        "connections": rows,
    }
    info = {
        "name": f"nats-{server}",
        "host": "0.0.0.0",
        "id": f"NSERVER{server}",
        "ver": "2.15.1",
        "seq": 1,
        "time": rfc3339(NOW),
    }
    return json.dumps({"server": info, "data": data}).encode()


def cycle_pages(rows: list[list[dict[str, object]]]) -> tuple[list[bytes], int]:
    """Every reply of one cycle, and the request bytes: ceil(largest server / PAGE) broadcast rounds, then closed."""
    rounds = max(math.ceil(len(r) / PAGE) for r in rows)
    replies: list[bytes] = []
    requested = 0
    for round_ in range(rounds):
        requested += len(request_body(offset=round_ * PAGE, limit=PAGE, state=OPEN))
        for server, server_rows in enumerate(rows):
            replies.append(
                reply(server, server_rows[round_ * PAGE : (round_ + 1) * PAGE], round_ * PAGE, len(server_rows))
            )
    requested += len(request_body(offset=0, limit=PAGE, state=CLOSED, sort="stop"))
    for server, server_rows in enumerate(rows):
        closed = [dict(r, stop=rfc3339(NOW - 10), reason="Client Closed") for r in server_rows[:CLOSED_PER_SERVER]]
        replies.append(reply(server, closed, 0, len(closed), closed=True))
    return replies, requested


def view_from(replies: list[bytes]) -> ServerView:
    """What the account source assembles from the replies (pages merged per server)."""
    open_: dict[str, list] = {}  # type: ignore[type-arg]
    closed: dict[str, list] = {}  # type: ignore[type-arg]
    names: dict[str, str] = {}
    for payload in replies:
        page = parse_reply(payload)
        names[page.server_id] = page.server
        target = closed if page.connections and page.connections[0].stop is not None else open_
        target.setdefault(page.server_id, []).extend(page.connections)
    servers = tuple(
        ServerConnz(names[sid], sid, tuple(open_.get(sid, ())), tuple(closed.get(sid, ()))) for sid in sorted(names)
    )
    return ServerView(Source.ACCOUNT, NOW, servers, SERVERS, True)


def main() -> None:
    rng = random.Random(SEED)
    pods, rows = pods_and_rows(rng)
    replies, requested = cycle_pages(rows)
    received = sum(len(r) for r in replies)
    settings = ServerViewSettings()
    budget = TimeBudget(BUDGET)
    decode: list[float] = []
    parse: list[float] = []
    joined: list[float] = []
    board = ServerViewBoard("default")
    for _ in range(REPEATS):
        if budget.exhausted:
            print("  (time budget reached: fewer repeats)")
            break
        started = time.process_time()
        for payload in replies:
            json.loads(payload)
        decode.append(time.process_time() - started)
        started = time.process_time()
        view = view_from(replies)
        parse.append(time.process_time() - started)
        snapshot = evaluate(board, settings, view, pods, {})
        joined.append(snapshot.join_seconds)
    connected = sum(1 for r in snapshot.pods if r.connections)
    assert connected == PODS, f"the join attributed {connected} of {PODS} pods"
    print(f"  {PODS} pods, {PODS} connections on {SERVERS} servers, page {PAGE}, {len(replies)} replies per cycle")
    print_stats("json.loads of the replies (floor)", decode)
    print_stats("parse CONNZ into connections", parse)
    print_stats("join + tracker + verdicts", joined)
    best = median(joined)
    print_figure("join CPU per cycle (median)", ms(best), f"< {ms(GOAL_SECONDS)}", best < GOAL_SECONDS)
    print_figure("join / json.loads floor", f"{best / median(decode):.2f}x")
    print_figure("bytes asked of NATS per cycle", f"{requested} B")
    print_figure("bytes NATS answers per cycle", f"{received / 1e6:.2f} MB")
