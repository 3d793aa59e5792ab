"""Property: whatever the runtime and kubelet do, and whenever the follower reads or the agent restarts, every
application line is counted exactly once; when kubelet deletes files before they were read, lines are lost, never
counted twice."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.agent.follower import Start
from tests.agent.conftest import Reader
from tests.agent.kubelet_sim import SimNode

MESSAGES = ("ok", "Connected to NATS server", "Failed to connect to NATS", "NATS connection lost")

write = st.tuples(
    st.just("write"),
    st.sampled_from(MESSAGES),
    st.sampled_from(("stdout", "stderr")),
    st.sampled_from((0, 0, 0, 20_000, 40_000)),  # padding: long lines are split into partials
)
step = st.one_of(
    write,
    st.tuples(st.just("rotate")),  # a line, then a rotation: kubelet rotates only files with something in them
    st.tuples(st.just("rename")),  # the first half of a rotation; writes land in the renamed file until reopen
    st.tuples(st.just("reopen")),
    st.tuples(st.just("restart")),
    st.tuples(st.just("poll"), st.sampled_from((1, 3000, 70_000, 1 << 30))),
    st.tuples(st.just("agent_restart")),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=10, max_size=60), delete_at_end=st.booleans())
def test_every_line_counted_exactly_once(steps: list[tuple[object, ...]], delete_at_end: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node = SimNode(Path(tmp) / "pods", max_files=1000)  # nothing deleted unread: loss is not the question
        try:
            counted, expected = run(node, Path(tmp) / "state", steps, delete_at_end)
        finally:
            node.close()
        assert +counted == +expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=10, max_size=60), delete_at_end=st.booleans())
def test_when_kubelet_deletes_unread_files_lines_are_lost_never_doubled(
    steps: list[tuple[object, ...]], delete_at_end: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        node = SimNode(Path(tmp) / "pods", max_files=2)  # a reader behind by two rotations loses a file
        try:
            counted, expected = run(node, Path(tmp) / "state", steps, delete_at_end)
        finally:
            node.close()
        for what, number in counted.items():
            assert number <= expected[what], what


def run(
    node: SimNode, state: Path, steps: list[tuple[object, ...]], delete_at_end: bool
) -> tuple[Counter[str], Counter[str]]:
    """Play the steps; return (what the follower counted, what was written)."""
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, state, "api-0", start=Start.BEGINNING)
    reader.poll()  # the agent's first pass: from here on its position is on disk
    counted: Counter[str] = Counter()
    renamed = False
    for op, *args in steps:
        if op == "write":
            message, stream, padding = args
            node.write("api-0", "x" * int(str(padding)) + str(message), stream=str(stream))
        elif op == "rotate" and not renamed:
            node.write("api-0", "before the rotation")
            node.rotate("api-0")
        elif op == "rename" and not renamed:
            renamed = node.rename_live("api-0") is not None
        elif op in ("reopen", "restart") and renamed:
            node.reopen("api-0")
            renamed = False
        elif op == "restart":
            node.restart("api-0")
        elif op == "poll":
            reader.poll(budget=int(str(args[0])))
        elif op == "agent_restart":
            counted += reader.counts
            reader.close()
            reader = Reader(node, state, "api-0", start=Start.NOW)  # its saved position wins over "now"
    if renamed:
        node.reopen("api-0")
    if delete_at_end:
        reader.poll(budget=1)  # hold the files open, as a pass does before kubelet removes the directory
        node.delete_pod("api-0")
        reader.log.finishing = True
    reader.drain()
    counted += reader.counts
    for moves in ("rotations", "restarts"):
        counted.pop(moves, None)
    reader.close()
    return counted, Counter({what: n for (_ns, _app, what), n in node.truth.items()})
