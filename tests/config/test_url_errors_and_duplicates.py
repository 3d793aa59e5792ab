"""Parse errors never echo a URL's secrets, and a configuration file that repeats a key is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import ConfigError
from tests.conftest import config_from_args

# Letters no error message uses, plus every character that ends or splits a URL's parts.
SECRET_LETTERS = "QXZJ"
passwords = st.text(alphabet=SECRET_LETTERS + "=/#?@:%![] ", min_size=1, max_size=12).filter(
    lambda text: any(letter in text for letter in SECRET_LETTERS)
)


@settings(max_examples=300, deadline=None)
@given(password=passwords, user=st.sampled_from(["app", "", "a=b"]))
def test_no_error_shows_any_letter_of_the_password(password: str, user: str) -> None:
    for value in (f"{user}:{password}@nats:4222", f"nats://{user}:{password}@nats:4222"):
        message = _error_of(value)
        assert not set(message) & set(SECRET_LETTERS), message


def _error_of(url: str) -> str:
    """The configuration error's text for `--nats-url URL`, or "" when it is accepted."""
    try:
        config_from_args("--nats-url", url)
    except ConfigError as exc:
        return str(exc)
    return ""


def test_an_equals_sign_in_the_password_is_not_a_target_name() -> None:
    config = config_from_args("--nats-url", "app:s3cr=tpw@nats:4222")

    server = config.targets[0].servers[0]
    assert (server.username, server.password, server.host) == ("app", "s3cr=tpw", "nats")


def test_the_command_line_never_prints_the_password() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "exporter", "check", "--nats-url", "nats://app:s3cr/tpw@nats:4222"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "invalid configuration" in completed.stderr
    assert "s3cr" not in completed.stderr + completed.stdout
    assert "tpw" not in completed.stderr + completed.stdout


@pytest.mark.parametrize(
    "document",
    [
        "targets:\n  - name: a\n    url: nats://x:4222\n    name: b\n",
        "probe:\n  interval: 5s\nprobe:\n  interval: 10s\ntargets: []\n",
    ],
)
def test_a_repeated_key_is_an_error_naming_it(tmp_path: Path, document: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(document)

    with pytest.raises(ConfigError) as caught:
        config_from_args("--config", str(path))
    assert "repeated at line" in str(caught.value)
