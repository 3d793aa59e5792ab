"""The `audit` command: manifests (or the live cluster) against the guide's rules, for CI and for people.

Exit codes: 0 nothing to fix, 1 findings or unreadable input, 2 usage error (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
from typing import TextIO

from exporter.audit.cluster import audit_cluster
from exporter.audit.manifests import STDIN, UnreadablePath, audit_manifests
from exporter.audit.model import DEFAULT_KEY_PATTERN, DEFAULT_NAMESPACE, AuditOptions, AuditResult
from exporter.audit.report import Format, render
from exporter.config.diagnostics import DEFAULT_CLUSTER_DOMAIN
from exporter.config.validate import ConfigError
from exporter.kube.client import KubeApi, KubeError

PROG = "nats-connectivity-exporter audit"
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="YAML manifests: files, directories (searched for *.yaml and *.yml), or - for stdin",
    )
    parser.add_argument("--cluster", action="store_true", help="audit the live cluster through the Kubernetes API")
    parser.add_argument(
        "--format", choices=[str(fmt) for fmt in Format], default=str(Format.TEXT), help="report format (default text)"
    )
    parser.add_argument(
        "--key-pattern",
        metavar="REGEX",
        help="ConfigMap keys and env vars holding NATS URLs (case-insensitive; default: names with NATS and URL)",
    )
    parser.add_argument(
        "--cluster-domain",
        default=DEFAULT_CLUSTER_DOMAIN,
        metavar="DOMAIN",
        help=f"the cluster's DNS domain (default {DEFAULT_CLUSTER_DOMAIN})",
    )
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        metavar="NS",
        help=f"namespace of manifests without metadata.namespace, as kubectl apply -n (default {DEFAULT_NAMESPACE})",
    )
    parser.add_argument("--kubeconfig", metavar="FILE", help="with --cluster: else in-cluster, else KUBECONFIG")


def run_audit(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    try:
        options = audit_options(args)
        result = _audit(args, stdin, options)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=stderr)
        return EXIT_USAGE
    except UnreadablePath as exc:
        print(f"{PROG}: cannot read {exc.path}: {exc.reason}", file=stderr)
        return EXIT_USAGE
    except KubeError as exc:
        print(f"{PROG}: cannot read the cluster: {exc}", file=stderr)
        return EXIT_USAGE
    stdout.write(render(result, Format(args.format)))
    return EXIT_OK if result.ok else EXIT_FINDINGS


def audit_options(args: argparse.Namespace) -> AuditOptions:
    """The flags as `AuditOptions`; a bad value is a `ConfigError` naming the flag."""
    pattern = DEFAULT_KEY_PATTERN
    if args.key_pattern is not None:
        try:
            pattern = re.compile(args.key_pattern, re.IGNORECASE)
        except re.error as exc:
            raise ConfigError("--key-pattern", args.key_pattern, f"a regular expression ({exc})") from None
    domain = args.cluster_domain.strip().rstrip(".").lower()
    if not _DNS_NAME.match(domain):
        raise ConfigError("--cluster-domain", args.cluster_domain, "a DNS domain such as cluster.local")
    if not _DNS_LABEL.match(args.namespace):
        raise ConfigError("--namespace", args.namespace, "a namespace name (a DNS label)")
    return AuditOptions(key_pattern=pattern, cluster_domain=domain, default_namespace=args.namespace)


def _audit(args: argparse.Namespace, stdin: TextIO, options: AuditOptions) -> AuditResult:
    if args.cluster and args.paths:
        raise ConfigError("PATH", " ".join(args.paths), "either manifest paths or --cluster, not both")
    if args.cluster:
        if args.kubeconfig is not None and not os.path.isfile(args.kubeconfig):
            raise UnreadablePath(args.kubeconfig, "no such kubeconfig file")
        return asyncio.run(_audit_live(args.kubeconfig, options))
    if not args.paths:
        raise ConfigError("PATH", "", f"manifest paths ({STDIN} for stdin) or --cluster")
    return audit_manifests(args.paths, stdin, options)


async def _audit_live(kubeconfig: str | None, options: AuditOptions) -> AuditResult:
    api = KubeApi(kubeconfig)
    try:
        return await audit_cluster(api, options)
    finally:
        await api.close()
