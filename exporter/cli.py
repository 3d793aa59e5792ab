"""Command line: `serve` (the default), `demo`. Usage and configuration errors exit 2 with one line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from exporter import EXIT_USAGE, PROG, __version__
from exporter.app import Exporter, run_until_signalled
from exporter.audit import add_audit_arguments, run_audit
from exporter.config import Config, add_config_flags, load_config
from exporter.config.agent import AgentSettings, add_agent_flags, load_agent_settings
from exporter.config.validate import ConfigError
from exporter.diagnostics.command import add_check_arguments, run_check
from exporter.runtime.process_log import configure

log = logging.getLogger(__name__)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (the key and what is wrong) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Can the applications reach NATS, and how well?")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    serve = commands.add_parser("serve", help="probe the targets and serve /metrics (default)")
    add_config_flags(serve)
    check = commands.add_parser("check", help="diagnose each target once: the troubleshooting guide as a report")
    add_config_flags(check)
    add_check_arguments(check)
    audit = commands.add_parser(
        "audit", help="find IP-address NATS URLs and other best-practice violations in manifests or a cluster"
    )
    add_audit_arguments(audit)
    agent = commands.add_parser(
        "agent",
        help="the node agent (a DaemonSet): probe from this node, read this node's pod logs from kubelet's files",
    )
    add_config_flags(agent)
    add_agent_flags(agent)
    demo = commands.add_parser("demo", help="run everything locally against an embedded nats-server")
    add_config_flags(demo)
    demo.add_argument(
        "--demo.outage-every",
        dest="outage_every",
        default="30s",
        metavar="DURATION",
        help="stop the embedded server this often (default 30s)",
    )
    demo.add_argument(
        "--demo.outage-for",
        dest="outage_for",
        default="8s",
        metavar="DURATION",
        help="how long each outage lasts (default 8s)",
    )
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in ("serve", "agent", "check", "audit", "demo", "-h", "--help", "--version"):
        args_list.insert(0, "serve")  # `nats-connectivity-exporter --nats-url ...` means serve
    args = build_parser().parse_args(args_list)
    env = os.environ if environ is None else environ
    if args.command == "demo":
        from exporter.demo.command import run_demo

        return run_demo(args, env)
    if args.command == "audit":
        configure("warning", "text")
        return run_audit(args, sys.stdin, sys.stdout, sys.stderr)
    if args.command == "agent":

        def agent(config: Config, reload_source: Callable[[], Config]) -> int:
            return serve(config, reload_source, agent=load_agent_settings(args, env))

        return _with_config(args, env, agent)
    if args.command == "check":
        from exporter.web.check_sections import feature_sections  # only `check` runs the features once

        return _with_config(
            args, env, lambda config, _: run_check(config, args.output, sys.stdout, env, feature_sections)
        )
    return _with_config(args, env, serve)


def _with_config(
    args: argparse.Namespace, environ: Mapping[str, str], command: Callable[[Config, Callable[[], Config]], int]
) -> int:
    def reload_source() -> Config:
        return load_config(args, environ)

    try:
        config = reload_source()
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure(config.log_level, config.log_format)
    try:
        return command(config, reload_source)
    except ConfigError as exc:  # a setting only the command reads (the agent's NODE_NAME, its log directory)
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def serve(config: Config, reload_source: Callable[[], Config], *, agent: AgentSettings | None = None) -> int:
    async def main() -> None:
        # The Exporter is made inside the loop; an invalid web config file is a usage error like any other.
        await run_until_signalled(Exporter(config, reload_source=reload_source, agent=agent))

    try:
        asyncio.run(main())
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0
