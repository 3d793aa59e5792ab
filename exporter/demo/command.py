"""`demo` (and `make run`): the exporter against an embedded nats-server that goes down and comes back.

What a newcomer runs first: within a minute the page and the metrics show a success, a failure with its reason,
the session's disconnect and reconnect, and the recovery.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from exporter import EXIT_USAGE, PROG
from exporter.app import Exporter, run_until_signalled
from exporter.config import load_config
from exporter.config.durations import parse_duration
from exporter.config.validate import ConfigError
from exporter.demo.application import DemoApp
from exporter.demo.nats_server import NatsServer, NatsServerNotFound, find_nats_server
from exporter.runtime.process_log import configure

log = logging.getLogger(__name__)


def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        find_nats_server()
    except NatsServerNotFound as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    outage: list[float] = []
    for flag, text in (("--demo.outage-every", args.outage_every), ("--demo.outage-for", args.outage_for)):
        try:
            outage.append(parse_duration(text))
        except ValueError:
            print(f"{PROG}: invalid configuration: {flag}={text!r}: expected a duration such as 30s", file=sys.stderr)
            return EXIT_USAGE
    return asyncio.run(_demo(args, environ, every=outage[0], duration=outage[1]))


async def _demo(args: argparse.Namespace, environ: Mapping[str, str], *, every: float, duration: float) -> int:
    server = NatsServer()
    workdir = tempfile.TemporaryDirectory(prefix="nats-connectivity-demo-")
    app_log = Path(workdir.name, "demo-app.log")
    args.nats_url = [f"demo={server.url}"]
    args.logs_files = [*(args.logs_files or []), f"demo-app={app_log}"]
    args.probe_interval = args.probe_interval or "2s"
    args.listen_address = args.listen_address or "127.0.0.1:10025"
    try:
        config = load_config(args, {key: value for key, value in environ.items() if key != "NATS_URL"})
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure(config.log_level, config.log_format)
    await server.start()
    exporter = Exporter(config)
    tasks = [
        asyncio.create_task(_outages(server, every, duration)),
        asyncio.create_task(_greet(exporter, server, duration, app_log)),
        asyncio.create_task(DemoApp(server.url, app_log).run()),
    ]
    try:
        await run_until_signalled(exporter)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.close()
        workdir.cleanup()
    return 0


async def _greet(exporter: Exporter, server: NatsServer, outage: float, app_log: Path) -> None:
    await exporter.listening.wait()
    for host, port in exporter.bound_addresses:
        base = f"http://{host}:{port}"
        print(
            f"\n  Probing:     {server.url} (stopped for {outage:g}s every cycle)"
            f"\n  App log:     {app_log} (a nats-py client logging the guide's three lines)"
            f"\n  Status page: {base}/\n  Metrics:     {base}/metrics\n  Stop:        Ctrl-C\n",
            flush=True,
        )


async def _outages(server: NatsServer, every: float, duration: float) -> None:
    """Stop the server every `every` seconds for `duration`, so a failure and a recovery show."""
    while True:
        await asyncio.sleep(every)
        log.info("demo: stopping nats-server to show an outage", extra={"seconds": duration})
        await server.stop()
        await asyncio.sleep(duration)
        log.info("demo: starting nats-server again")
        await server.start()
