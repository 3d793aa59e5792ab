"""What the agent's log reading needs to know: where kubelet writes, where positions go, and the `logs` settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from exporter.config.logs import LogSettings, Patterns

DEFAULT_LOG_DIR = Path("/var/log/pods")
PACE = 1.0  # seconds between reads of a caught-up file (files are cheaper to read than `serve`'s streams: 1 s)
CONTAINER_BUDGET = 16 * 1024 * 1024  # bytes one container may read in one pass (a backlog goes on next pass)
PASS_BUDGET = 64 * 1024 * 1024  # bytes one pass may read in all; a pass that used it all is followed at once


@dataclass(frozen=True, slots=True)
class AgentLogSettings:
    state_dir: Path  # --agent.state-dir: a hostPath, so positions outlive the agent's pod
    log_dir: Path = DEFAULT_LOG_DIR  # --agent.log-dir
    from_start: bool = False  # --logs.from-start: pods found at start-up with no position, from their first line
    containers: tuple[str, ...] = ()  # --logs.containers: empty means every container
    patterns: Patterns = field(default_factory=Patterns.defaults)
    pace: float = PACE
    container_budget: int = CONTAINER_BUDGET
    pass_budget: int = PASS_BUDGET

    @classmethod
    def from_log_settings(cls, logs: LogSettings, *, log_dir: Path, state_dir: Path) -> AgentLogSettings:
        """The same `logs` settings as `serve` (patterns, containers, from_start), plus the agent's two paths."""
        return cls(
            state_dir=state_dir,
            log_dir=log_dir,
            from_start=logs.from_start,
            containers=logs.containers,
            patterns=logs.patterns,
        )
