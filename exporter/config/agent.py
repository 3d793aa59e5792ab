"""The `agent` command's own settings: its node, where kubelet writes pod logs, where positions are kept.

```
nats-connectivity-exporter agent --agent.log-dir /var/log/pods --agent.state-dir /var/lib/nats-connectivity-exporter
```
`NODE_NAME` comes from the downward API (`spec.nodeName`); everything else (targets, `--logs.*`) is `serve`'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from exporter.config.validate import ConfigError, duration

DEFAULT_LOG_DIR = "/var/log/pods"
DEFAULT_STATE_DIR = "/var/lib/nats-connectivity-exporter"


@dataclass(frozen=True, slots=True)
class AgentSettings:
    node: str
    log_dir: Path = Path(DEFAULT_LOG_DIR)
    state_dir: Path = Path(DEFAULT_STATE_DIR)
    interval_per_node: float | None = None  # --agent.interval-per-node: probe every max(interval, D·√nodes)


def add_agent_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent.log-dir", dest="agent_log_dir", metavar="DIR", help=f"default {DEFAULT_LOG_DIR}")
    parser.add_argument(
        "--agent.state-dir", dest="agent_state_dir", metavar="DIR", help=f"read positions, default {DEFAULT_STATE_DIR}"
    )
    parser.add_argument("--agent.node", dest="agent_node", metavar="NAME", help="default: env NODE_NAME")
    parser.add_argument(
        "--agent.interval-per-node",
        dest="agent_interval_per_node",
        metavar="DURATION",
        help="scale the probe interval with the cluster: max(interval, DURATION x sqrt(nodes)); needs nodes list",
    )


def load_agent_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> AgentSettings:
    node = getattr(args, "agent_node", None) or environ.get("NODE_NAME", "")
    if not node:
        raise ConfigError("env NODE_NAME", None, "this node's name (downward API: fieldRef spec.nodeName)")
    log_dir = Path(getattr(args, "agent_log_dir", None) or DEFAULT_LOG_DIR)
    state_dir = Path(getattr(args, "agent_state_dir", None) or DEFAULT_STATE_DIR)
    if not log_dir.is_dir():
        raise ConfigError("--agent.log-dir", str(log_dir), "a directory (kubelet's pod logs, mounted from the node)")
    per_node_text = getattr(args, "agent_interval_per_node", None)
    per_node = duration("--agent.interval-per-node", per_node_text) if per_node_text else None
    return AgentSettings(node=node, log_dir=log_dir, state_dir=state_dir, interval_per_node=per_node)
