"""`check`: one run of every diagnostic for each target, as a report a person can act on at 3 a.m."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TextIO

from exporter.config import Config
from exporter.diagnostics.report import Section, render_json, render_text
from exporter.diagnostics.runner import Diagnosis, diagnose
from exporter.kube.client import KubeApi, kube_access_configured

EXIT_OK, EXIT_FAILED = 0, 1

# The other features' one-shot runs (the servers' view, the cluster probes), handed in by the command line: this
# package may not import them. Given the configuration and the Kubernetes client (None without access).
MoreSections = Callable[[Config, KubeApi | None], Awaitable[Sequence[Section]]]


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text", help="report format")


def run_check(
    config: Config,
    output: str,
    stdout: TextIO,
    environ: Mapping[str, str] | None = None,
    more: MoreSections | None = None,
) -> int:
    """Diagnose every target once, then run `more` (the features the configuration enables); 1 if anything failed."""
    environ = os.environ if environ is None else environ
    diagnoses, sections = asyncio.run(_diagnose_all(config, environ, more))
    urls = {target.name: target.redacted_url for target in config.targets}
    if output == "json":
        stdout.write(render_json(diagnoses, urls, sections) + "\n")
    else:
        stdout.write(render_text(diagnoses, urls, sections))
    failed = any(diagnosis.failed for diagnosis in diagnoses) or not all(section.ok for section in sections)
    return EXIT_FAILED if failed else EXIT_OK


async def _diagnose_all(
    config: Config, environ: Mapping[str, str], more: MoreSections | None
) -> tuple[list[Diagnosis], list[Section]]:
    # `check` is run by hand, like kubectl: it may fall back to ~/.kube/config (serve never does).
    api = (
        KubeApi(config.kubeconfig, environ=environ, home_config=True)
        if kube_access_configured(config.kubeconfig, environ, home_config=True)
        else None
    )
    try:
        diagnoses = [await diagnose(target, config.diagnostics, api) for target in config.targets]
        sections = list(await more(config, api)) if more is not None else []
        return diagnoses, sections
    finally:
        if api is not None:
            await api.close()
