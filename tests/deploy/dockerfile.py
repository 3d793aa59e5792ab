"""The Dockerfile, read as data: its stages and instructions, so tests can hold the image to its contract."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.support import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def all(self, instruction: str) -> list[str]:
        return [arguments for name, arguments in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs (the only form this Dockerfile uses)."""
        values: dict[str, str] = {}
        for arguments in self.all("ENV"):
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                values[name] = value
        return values

    def labels(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for arguments in self.all("LABEL"):
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                values[name] = value
        return values

    def exec_form(self, instruction: str) -> list[str]:
        (arguments,) = self.all(instruction)
        parsed = json.loads(arguments)
        assert isinstance(parsed, list)
        return [str(item) for item in parsed]


@dataclass
class Dockerfile:
    args: dict[str, str]  # global ARGs with their defaults
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))  # join continued lines
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction, arguments = instruction.upper(), " ".join(arguments.split())
        if instruction == "FROM":
            base, _, name = arguments.partition(" AS ")
            stages.append(Stage(base=base, name=name or None))
        elif instruction == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((instruction, arguments))
    return Dockerfile(args=args, stages=stages)


def expand(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda match: variables[match.group(1)], text)
