"""The committed dashboards are exactly what dashboards/generator writes, and `--check` says when they are not.

The JSON stays committed (the Helm chart and users import it); the code is its source. Editing the JSON by hand, or
the code without regenerating, fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dashboards.generator import output
from tests.alerts.rules import REPO


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "dashboards.generator", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_committed_dashboards_are_the_generators_output() -> None:
    problems = output.differences()
    assert not problems, "run `python -m dashboards.generator`:\n" + "\n".join(problems)


def test_every_generated_dashboard_is_committed() -> None:
    committed = sorted(path.name for path in output.DIRECTORY.glob("*.json"))
    assert committed == sorted(output.DASHBOARDS)


def test_check_fails_on_a_hand_edited_dashboard_and_passes_once_regenerated(tmp_path: Path) -> None:
    for name in output.DASHBOARDS:
        shutil.copy(output.DIRECTORY / name, tmp_path / name)
    assert run_generator("--check", "--output", str(tmp_path)).returncode == 0

    edited = tmp_path / "nats-connectivity.json"
    dashboard = json.loads(edited.read_text(encoding="utf-8"))
    dashboard["panels"][1]["title"] = "Edited by hand"
    edited.write_text(json.dumps(dashboard, indent=2), encoding="utf-8")

    checked = run_generator("--check", "--output", str(tmp_path))
    assert checked.returncode == 1
    assert "nats-connectivity.json: differs from the generator's output" in checked.stderr
    assert "run `python -m dashboards.generator`" in checked.stderr

    assert run_generator("--output", str(tmp_path)).returncode == 0
    assert run_generator("--check", "--output", str(tmp_path)).returncode == 0
    assert edited.read_text(encoding="utf-8") == (output.DIRECTORY / "nats-connectivity.json").read_text("utf-8")


def test_check_names_missing_and_stray_dashboards(tmp_path: Path) -> None:
    (tmp_path / "hand-made.json").write_text("{}", encoding="utf-8")
    checked = run_generator("--check", "--output", str(tmp_path))
    assert checked.returncode == 1
    assert "nats-connectivity.json: missing" in checked.stderr
    assert "hand-made.json: not generated" in checked.stderr


def test_the_exporter_does_not_import_the_sdk() -> None:
    """The SDK is a tool of the test extra: importing every module of the exporter must not load it."""
    probe = (
        "import importlib, pkgutil, sys, exporter\n"
        "for module in pkgutil.walk_packages(exporter.__path__, 'exporter.'):\n"
        "    if not module.name.endswith('__main__'):\n"
        "        importlib.import_module(module.name)\n"
        "print(sorted(name for name in sys.modules if name.startswith('grafana_foundation_sdk')))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=environment, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
