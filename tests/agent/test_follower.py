"""One container directory on a simulated node: every line counted once across rotations, restarts and deletion."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from exporter.agent.follower import Start
from tests.agent.conftest import Reader
from tests.agent.kubelet_sim import SimNode

CONNECTED, FAILED, LOST = "Connected to NATS server", "Failed to connect to NATS", "NATS connection lost"


def test_existing_lines_are_skipped_when_starting_from_now(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    node.write("api-0", CONNECTED, count=False)
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.NOW)
    reader.drain()
    node.write("api-0", LOST)
    reader.drain()
    assert reader.counts["lines"] == 1
    assert reader.counts["connected"] == 0
    assert reader.matches(node)


def test_from_the_beginning_reads_every_file(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    for i in range(12):
        node.write("api-0", f"line {i} {CONNECTED if i % 3 == 0 else ''}")
        if i % 4 == 3:
            node.rotate("api-0")
    assert any(p.name.endswith(".gz") for p in node.rotated_files("api-0"))
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    reader.drain()
    assert reader.counts["lines"] == 12
    assert reader.matches(node)


def test_rotation_under_load_never_loses_or_repeats_a_line(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    for round_ in range(30):
        for i in range(50):
            node.write("api-0", f"r{round_} l{i} " + (LOST if i == 7 else "ok"))
        node.rename_live("api-0")
        node.write("api-0", f"between rename and reopen {round_} {FAILED}")  # lands in the renamed file
        if round_ % 2:
            reader.poll(budget=3000)  # read part-way while the rotation is half done
        node.reopen("api-0")
        if round_ % 3 == 0:
            reader.poll(budget=5000)
    reader.drain()
    assert reader.counts["lines"] == 30 * 51
    assert reader.counts["lost"] == 30
    assert reader.counts["failed"] == 30
    assert reader.matches(node)


def test_a_reader_far_behind_finishes_files_that_were_gzipped_meanwhile(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    node.write("api-0", CONNECTED)
    reader.poll(budget=10)  # opens the live file; reads nearly nothing
    for round_ in range(3):  # within max files: nothing is deleted, the held file gets gzipped
        for i in range(20):
            node.write("api-0", f"{round_}/{i}")
        node.rotate("api-0")
    reader.drain()
    assert reader.matches(node)


def test_long_lines_split_into_partials_are_joined(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    node.write("api-0", "x" * 40_000 + CONNECTED)  # three parts; the event is in the last
    node.write("api-0", "y" * 16_380 + LOST, stream="stderr")  # the pattern straddles two parts
    node.write("api-0", "z" * 100_000)
    reader.drain(budget=7000)  # small reads: parts cut across reads
    assert +reader.counts == {"lines": 3, "connected": 1, "lost": 1}


def test_interleaved_partials_of_both_streams(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    t = b"2026-11-30T12:00:00.1+01:00"
    node.write_raw(
        "api-0",
        t + b" stdout P NATS conn\n" + t + b" stderr P Failed to\n" + t + b" stderr F  connect to NATS\n"
        + t + b" stdout F ection lost\n",
    )  # fmt: skip
    reader.drain()
    assert +reader.counts == {"lines": 2, "lost": 1, "failed": 1}


def test_a_container_restarting_twice(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    node.write("api-0", CONNECTED)
    reader.drain()
    node.write("api-0", "last words " + LOST)
    node.restart("api-0")
    node.write("api-0", FAILED)
    node.restart("api-0")
    node.write("api-0", CONNECTED)
    reader.drain()
    node.write("api-0", "more")
    reader.drain()
    assert reader.counts["restarts"] == 2
    assert reader.matches(node)
    assert reader.counts["lines"] == 5


def test_a_deleted_pods_files_are_read_to_their_end(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    node.write("api-0", CONNECTED)
    reader.poll()
    for i in range(30):
        node.write("api-0", f"late {i} {LOST if i == 29 else ''}")
        if i == 10:
            node.rotate("api-0")
    reader.poll(budget=1)  # sees the rotation, holds the newer file open too
    node.delete_pod("api-0")
    assert not node.root.joinpath("ns").exists()
    reader.log.finishing = True
    reader.drain()
    assert reader.last is not None
    assert reader.last.finished
    assert reader.matches(node)
    assert reader.store.load_all() == []  # its position is forgotten
    assert "api-0" not in (tmp_path / "state" / "positions.json").read_text()


def test_agent_restart_in_the_middle_of_a_rotated_file(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    state = tmp_path / "state"
    first = Reader(node, state, "api-0", start=Start.BEGINNING)
    for i in range(3000):
        node.write("api-0", f"a{i} {CONNECTED if i % 10 == 0 else ''}")
    node.rotate("api-0")
    for i in range(100):
        node.write("api-0", f"b{i} {LOST if i % 10 == 0 else ''}")
    first.poll(budget=4000)  # stops in the middle of the rotated file
    counted_before = first.counts.copy()
    assert 0 < counted_before["lines"] < 3000
    first.close()  # the agent stops

    second = Reader(node, state, "api-0", start=Start.NOW)  # a saved position wins over "now"
    second.drain()
    total = counted_before + second.counts
    del total["rotations"], total["restarts"]
    assert +total == +first_truth(node)


def test_rotations_while_the_agent_is_down_including_gzipped_ones(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    state = tmp_path / "state"
    first = Reader(node, state, "api-0", start=Start.BEGINNING)
    for i in range(3000):
        node.write("api-0", f"a{i} {FAILED if i % 10 == 0 else ''}")
    first.poll(budget=3000)  # part of the live file
    counted_before = first.counts.copy()
    assert 0 < counted_before["lines"] < 3000
    first.close()
    # While the agent is down: the file it was reading rotates, then again (it is gzipped), then once more.
    for round_ in range(3):
        for i in range(40):
            node.write("api-0", f"r{round_} {i} {LOST if i == 0 else ''}")
        node.rotate("api-0")
    node.write("api-0", CONNECTED)
    assert sum(p.name.endswith(".gz") for p in node.rotated_files("api-0")) == 2
    second = Reader(node, state, "api-0", start=Start.NOW)
    second.drain()
    total = counted_before + second.counts
    del total["rotations"], total["restarts"]
    assert +total == +first_truth(node)


def test_a_file_deleted_while_the_agent_was_down_is_skipped_and_the_rest_read(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    state = tmp_path / "state"
    first = Reader(node, state, "api-0", start=Start.BEGINNING)
    node.write("api-0", "one")
    first.drain()
    first.close()
    for round_ in range(7):  # past max files: the file we were in is deleted
        node.write("api-0", f"round {round_}")
        node.rotate("api-0")
    node.write("api-0", "now")
    kept = node.rotated_files("api-0")
    assert len(kept) == 4
    second = Reader(node, state, "api-0", start=Start.NOW)
    second.drain()
    assert second.counts["lines"] == len(kept) + 1  # each kept rotated file held one line, and the live one


def first_truth(node: SimNode) -> Counter[str]:
    return Counter({what: n for (_ns, _app, what), n in node.truth.items()})


def test_an_instance_that_died_mid_line_leaves_one_line_and_a_truncation(node: SimNode, tmp_path: Path) -> None:
    node.add_pod("ns", "api-0", "api")
    reader = Reader(node, tmp_path / "state", "api-0", start=Start.BEGINNING)
    t = b"2026-11-30T12:00:00.1Z"
    node.write_raw(
        "api-0", t + b" stdout P NATS connection lost, retrying\n" + t + b" stdout F half a physi"
    )  # then it dies
    node.truth[("ns", "api", "lines")] += 1  # the P parts never closed: still a line the application wrote
    node.truth[("ns", "api", "lost")] += 1
    node.restart("api-0")
    node.write("api-0", "next instance")
    reader.drain()
    assert reader.matches(node)
    assert reader.last is not None
    assert reader.counts["restarts"] == 1
