"""The image's runtime contract, reproduced without a Docker engine.

Built as the Dockerfile builds it (the context its .dockerignore lets through, `pip wheel --no-deps`, a fresh
virtual environment, bytecode compiled with unchecked hashes), then run as the chart runs it: the rendered
container args and ConfigMap, UID/GID 10001 without capabilities, the Dockerfile's ENV, HOME nonexistent, the working
tree read-only (a private mount namespace), only a temporary directory writable (the /tmp emptyDir). It must probe a
real nats-server, serve /metrics, stop cleanly on SIGTERM, and write nothing anywhere else.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from exporter.demo.nats_server import NatsServer, free_port
from tests.conftest import parse_samples, value, wait_for
from tests.deploy.dockerfile import parse
from tests.deploy.support import ROOT, container, render

UID = GID = 10001
SCRATCH_ROOTS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))

pytestmark = pytest.mark.slow


def _prerequisites() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux, to switch to UID 10001 and mount the working tree read-only"
    for tool in ("setpriv", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} (util-linux) is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--", "true"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return f"cannot make a mount namespace here: {probe.stderr.strip()}"
    return None


def reachable_by_anyone(path: Path) -> bool:
    """Every directory on the way to `path` (symlinks resolved) searchable, and the file executable, by others."""
    real = path.resolve()
    return all(parent.stat().st_mode & 0o001 for parent in real.parents) and bool(real.stat().st_mode & 0o001)


def unprivileged_python() -> Path | None:
    """A Python of this version that UID 10001 can run (a pyenv build under /root, mode 0700, is not one)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(getattr(sys, "_base_executable", sys.executable)), Path("/usr/local/bin", version),
                  Path("/usr/bin", version)]  # fmt: skip
    return next((path for path in candidates if path.exists() and reachable_by_anyone(path)), None)


SKIP = _prerequisites() or (None if unprivileged_python() else "no Python 3.11 that UID 10001 can run")


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under `root` with its size, mtime and mode: any write shows up as a difference."""
    found = {}
    for directory, names, files in os.walk(root):
        for name in names + files:
            path = Path(directory, name)
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns, stat.st_mode)
    return found


def created_by_exporter(since: float, *excluded: Path) -> list[str]:
    """Files and directories UID 10001 made in the world-writable places, outside the `excluded` directories."""
    found = []
    for root in SCRATCH_ROOTS:
        for directory, names, files in os.walk(root, onerror=lambda _: None):
            if any(Path(directory).is_relative_to(path) for path in excluded):
                names[:] = []
                continue
            for name in names + files:
                path = Path(directory, name)
                try:
                    stat = path.lstat()
                except OSError:
                    continue
                if stat.st_uid == UID and stat.st_mtime >= since and not any(map(path.is_relative_to, excluded)):
                    found.append(str(path))
    return found


def build_image_environment(workdir: Path) -> Path:
    """The Dockerfile's build stage, step by step; returns the environment (the image's /opt/...)."""
    context = workdir / "context"
    context.mkdir()
    for name in ("pyproject.toml", "README.md"):  # what .dockerignore lets through
        shutil.copy2(ROOT / name, context / name)
    shutil.copytree(ROOT / "exporter", context / "exporter", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = workdir / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(context)], check=True, timeout=300)
    (wheel,) = wheels.glob("*.whl")
    venv = workdir / "opt" / "nats-connectivity-exporter"
    python = unprivileged_python()
    assert python is not None
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    target = str(venv / "bin" / "python")
    install = [*pip, "--python", target, "install", "--no-deps", "--no-compile", str(wheel)]
    subprocess.run(install, check=True, timeout=300)
    # The image installs the dependencies from PyPI; here they come from the test environment (read-only), so the
    # test needs no network. Only the exporter itself is the fresh build.
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([target, "-c", purelib], text=True).strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    compile_all = [target, "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash", str(venv)]
    subprocess.run(compile_all, check=True, timeout=300)
    return venv


@dataclass
class Launch:
    """Everything needed to start the exporter as the image would, and to see afterwards what it touched."""

    venv: Path
    writable: Path
    port: int
    command: list[str]
    venv_before: dict[str, tuple[int, int, int]]
    started: float


def prepare(workdir: Path, nats_url: str) -> Launch:
    venv = build_image_environment(workdir)
    # Writable by the exporter's user, so that a write would succeed and be seen, not merely fail.
    for path in [venv, *venv.rglob("*")]:
        os.lchown(path, UID, GID)
    writable = workdir / "tmp"  # the /tmp emptyDir
    writable.mkdir()
    os.chown(writable, UID, GID)
    workdir.chmod(0o755)

    # The chart's container, as rendered: its args and its ConfigMap (root's, read-only), pointed at nats-server.
    objects = render({"config": {"targets": [{"name": "default", "url": nats_url}], "probe": {"interval": "1s"}}})
    config_dir = workdir / "config"
    config_dir.mkdir()
    configmap = next(obj for obj in objects if obj["kind"] == "ConfigMap")
    (config_dir / "config.yaml").write_text(configmap["data"]["config.yaml"], encoding="utf-8")
    port = free_port()
    args = [re.sub(r"^--config=.*", f"--config={config_dir}/config.yaml", arg) for arg in container(objects)["args"]]
    args = [re.sub(r"^--web.listen-address=.*", f"--web.listen-address=127.0.0.1:{port}", arg) for arg in args]

    # The Dockerfile's runtime ENV, with its paths moved to where this build lives.
    final = parse().final
    environ = {key: val.replace("/opt/nats-connectivity-exporter", str(venv)) for key, val in final.env().items()}
    environ["PATH"] = environ["PATH"].replace("${PATH}", "/usr/local/bin:/usr/bin:/bin")
    environ |= {"HOME": "/nonexistent", "TMPDIR": str(writable), "LANG": "C.UTF-8"}
    (entrypoint,) = final.exec_form("ENTRYPOINT")
    where = [str(venv / "bin" / "python"), "-c", "import exporter; print(exporter.__file__)"]
    loaded_from = subprocess.check_output(where, env=environ, text=True, cwd=writable)
    assert Path(loaded_from.strip()).is_relative_to(venv), "the fresh build must run, not the working tree"

    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && cd "$2" && shift 2 && '
        f"exec setpriv --reuid {UID} --regid {GID} --clear-groups --no-new-privs --inh-caps=-all "
        '--bounding-set=-all "$@"'
    )
    command = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", str(ROOT),
               str(writable), "env", "-i", *(f"{k}={v}" for k, v in environ.items()), entrypoint, *args]  # fmt: skip
    return Launch(venv, writable, port, command, snapshot(venv), time.time() - 1)


def traces(launch: Launch) -> list[str]:
    """What the run left behind outside the writable directory; empty when it kept to the contract."""
    found = []
    if snapshot(launch.venv) != launch.venv_before:
        found.append(f"{launch.venv}: the exporter wrote into its own installation")
    if Path("/nonexistent").exists():
        found.append("/nonexistent: HOME was created")
    found.extend(created_by_exporter(launch.started, launch.writable, launch.venv))  # the venv: compared above
    found.extend(str(path) for path in ROOT.iterdir() if path.lstat().st_uid == UID)
    return found


@pytest.fixture
async def nats() -> AsyncIterator[NatsServer]:
    server = NatsServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory UID 10001 can reach (pytest's own temporary directories are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nce-image-contract-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(SKIP is not None, reason=SKIP or "")
async def test_the_image_runs_unprivileged_on_a_read_only_filesystem(nats: NatsServer, workdir: Path) -> None:
    launch = await asyncio.to_thread(prepare, workdir, nats.url)
    process = await asyncio.create_subprocess_exec(*launch.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{launch.port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def probed() -> bool:
                try:
                    async with http.get(f"{base}/metrics") as response:
                        samples = parse_samples(await response.text())
                except aiohttp.ClientError:
                    if process.returncode is not None:
                        assert process.stderr is not None
                        error = (await process.stderr.read()).decode(errors="replace")
                        raise AssertionError(f"the exporter exited with {process.returncode}: {error}") from None
                    return False
                return value(samples, "nats_connectivity_probe_success", target="default") == 1.0

            await wait_for(probed, timeout=30, message="the exporter to serve probe_success 1 on /metrics")
            async with http.get(f"{base}/-/ready") as response:
                assert response.status == 200
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode(errors="replace")
    assert process.returncode == 0, log
    assert "Traceback" not in log, log
    assert await asyncio.to_thread(traces, launch) == []
