"""`check`: one run of every diagnostic for each target, as a report a person can act on at 3 a.m."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping
from typing import TextIO

from exporter.config import Config
from exporter.diagnostics.report import render_json, render_text
from exporter.diagnostics.runner import Diagnosis, diagnose
from exporter.kube.client import KubeApi, kube_access_configured

EXIT_OK, EXIT_FAILED = 0, 1


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text", help="report format")


def run_check(config: Config, output: str, stdout: TextIO, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    diagnoses = asyncio.run(_diagnose_all(config, environ))
    urls = {target.name: target.redacted_url for target in config.targets}
    stdout.write(render_json(diagnoses, urls) + "\n" if output == "json" else render_text(diagnoses, urls))
    return EXIT_FAILED if any(diagnosis.failed for diagnosis in diagnoses) else EXIT_OK


async def _diagnose_all(config: Config, environ: Mapping[str, str]) -> list[Diagnosis]:
    api = (
        KubeApi(config.kubeconfig, environ=environ)
        if kube_access_configured(config.kubeconfig, environ, home_config=True)
        else None
    )
    try:
        return [await diagnose(target, config.diagnostics, api) for target in config.targets]
    finally:
        if api is not None:
            await api.close()
