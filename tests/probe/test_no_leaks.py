"""500 failing probes in a row leave no socket and no task behind, whatever the failure."""

from __future__ import annotations

import asyncio
import os

from exporter.demo.nats_server import free_port
from exporter.probe.phases import run_probe
from exporter.probe.result import Reason
from tests.conftest import config_from_args, silent_listener, wait_for


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_500_failing_probes_do_not_grow_fds_or_tasks() -> None:
    reply = b"HTTP/1.1 400 Bad Request\r\n\r\n"
    with silent_listener() as silent_port, silent_listener(reply=reply) as garbage_port:
        targets = {
            Reason.CONNECTION_REFUSED: config_from_args("--nats-url", f"nats://127.0.0.1:{free_port()}").targets[0],
            Reason.TIMEOUT: config_from_args(
                "--nats-url", f"nats://127.0.0.1:{silent_port}", "--probe.timeout", "10ms"
            ).targets[0],
            Reason.PROTOCOL_ERROR: config_from_args("--nats-url", f"nats://127.0.0.1:{garbage_port}").targets[0],
        }
        # Warm up: first calls create the resolver's thread pool and other one-time state.
        for target in targets.values():
            await run_probe(target)
        fds_before, tasks_before = open_fds(), len(asyncio.all_tasks())

        seen: dict[Reason | None, int] = {}
        for i in range(500):
            expected = list(targets)[i % 3]
            result = await run_probe(targets[expected])
            seen[result.reason] = seen.get(result.reason, 0) + 1
        # Closing completes in callbacks and in the listener's thread: poll briefly rather than sample once.
        await wait_for(lambda: open_fds() <= fds_before + 2, timeout=3, message="descriptors back to baseline")
        await wait_for(lambda: len(asyncio.all_tasks()) <= tasks_before, timeout=3, message="tasks back to baseline")
    assert seen[Reason.CONNECTION_REFUSED] == 167
    assert seen[Reason.PROTOCOL_ERROR] == 166
    # A 10 ms deadline can rarely expire before a connect on loopback even starts; it is still a timeout.
    assert seen[Reason.TIMEOUT] == 167
