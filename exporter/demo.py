"""`demo` (and `make run`): the exporter against an embedded nats-server that goes down and comes back.

What a newcomer runs first: within a minute the page and the metrics show a success, a failure with its reason,
the session's disconnect and reconnect, and the recovery.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Mapping

from .app import Exporter
from .cli import EXIT_USAGE, PROG, run_until_signalled
from .config import ConfigError, load_config
from .durations import parse_duration
from .embedded_nats import NatsServer, NatsServerNotFound, find_nats_server
from .logs import configure

log = logging.getLogger(__name__)

OUTAGE_SECONDS = 8.0


def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        find_nats_server()
        outage_every = parse_duration(args.outage_every)
    except NatsServerNotFound as exc:
        print(f"{PROG}: {exc}", flush=True)
        return EXIT_USAGE
    except ValueError:
        print(f"{PROG}: invalid configuration: --demo.outage-every={args.outage_every!r}: expected a duration")
        return EXIT_USAGE
    return asyncio.run(_demo(args, environ, outage_every))


async def _demo(args: argparse.Namespace, environ: Mapping[str, str], outage_every: float) -> int:
    server = NatsServer()
    args.nats_url = [f"demo={server.url}"]
    args.probe_interval = args.probe_interval or "2s"
    args.listen_address = args.listen_address or "127.0.0.1:10025"
    try:
        config = load_config(args, {key: value for key, value in environ.items() if key != "NATS_URL"})
    except ConfigError as exc:
        print(f"{PROG}: {exc}")
        return EXIT_USAGE
    configure(config.log_level, config.log_format)
    await server.start()
    exporter = Exporter(config)
    chaos = asyncio.create_task(_outages(server, outage_every))
    greeting = asyncio.create_task(_greet(exporter, server))
    try:
        await run_until_signalled(exporter)
    finally:
        for task in (chaos, greeting):
            task.cancel()
        await asyncio.gather(chaos, greeting, return_exceptions=True)
        await server.close()
    return 0


async def _greet(exporter: Exporter, server: NatsServer) -> None:
    await exporter.listening.wait()
    for host, port in exporter.bound_addresses:
        base = f"http://{host}:{port}"
        print(
            f"\n  Probing:     {server.url} (stopped for {OUTAGE_SECONDS:g}s every cycle)"
            f"\n  Status page: {base}/\n  Metrics:     {base}/metrics\n  Stop:        Ctrl-C\n",
            flush=True,
        )


async def _outages(server: NatsServer, every: float) -> None:
    """Stop the server every `every` seconds for a few seconds, so a failure and a recovery show."""
    while True:
        await asyncio.sleep(every)
        log.info("demo: stopping nats-server to show an outage", extra={"seconds": OUTAGE_SECONDS})
        await server.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        log.info("demo: starting nats-server again")
        await server.start()
