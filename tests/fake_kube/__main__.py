"""`python -m tests.fake_kube --port 6443`: a fake cluster to point kubectl at by hand (or a benchmark at)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from .control import FakeKube


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_kube", description=__doc__)
    parser.add_argument("--port", type=int, default=6443, help="HTTPS port (0: any free port)")
    parser.add_argument("--http-port", type=int, default=None, help="also serve plain HTTP on this port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default="fake-token")
    parser.add_argument("--kubeconfig", type=Path, default=Path("fake-kube.kubeconfig"), help="written at start")
    parser.add_argument("--namespace", default="default", help="the kubeconfig context's namespace")
    parser.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch BOOKMARKs")
    parser.add_argument("--log-offset", default="Z", help="zone offset of log timestamps, e.g. +01:00")
    parser.add_argument("--status-lag", type=float, default=0.0, help="seconds before restarts show in pod status")
    parser.add_argument(
        "--graceful-deletion", action="store_true", help="DELETE of a pod waits its terminationGracePeriodSeconds"
    )
    parser.add_argument("--demo", action="store_true", help="add a few pods that log once a second")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    kube = FakeKube(
        token=args.token,
        host=args.host,
        port=args.port,
        http=args.http_port is not None,
        http_port=args.http_port or 0,
        bookmark_interval=args.bookmark_interval,
        log_offset=args.log_offset,
        status_lag=args.status_lag,
        graceful_deletion=args.graceful_deletion,
    )
    url = await kube.start()
    kube.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
    if args.demo:
        for i in range(3):
            kube.add_pod("demo", f"app-{i}", labels={"app": "demo"})
        kube.start_log_generator(["line {n} from {pod}", "Connected to NATS server"], lines_per_second=1.0)
    print(f"fake kube-apiserver at {url}" + (f" and {kube.http_url}" if kube.http_url else ""), flush=True)
    print(f"KUBECONFIG={args.kubeconfig.resolve()}  (control API: {url}/_control/...)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await kube.stop()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    main()
