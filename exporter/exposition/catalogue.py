"""Every metric family the exporter can expose, in one list: what the README's table, the dashboards' drift test
and the docs read. Each family is declared beside the code that fills it (`<feature>/metrics.py`); this module
only gathers them, so adding a feature adds one line here and nothing else moves."""

from __future__ import annotations

from exporter.agent import metrics as agent
from exporter.audit import metrics as audit
from exporter.cluster import metrics as cluster
from exporter.diagnostics import metrics as diagnostics
from exporter.exposition import process
from exporter.logwatch import metrics as logwatch
from exporter.probe import metrics as probe
from exporter.runtime.families import Spec
from exporter.servers import metrics as servers

# In the README's order: the probe, application logs, diagnostics and audit, the servers' view, the cluster's data
# path, the node agent, the exporter itself.
FEATURES: tuple[tuple[str, tuple[Spec, ...]], ...] = (
    ("probe", probe.FAMILIES),
    ("logs", logwatch.FAMILIES),
    ("diagnostics", diagnostics.FAMILIES),
    ("audit", audit.FAMILIES),
    ("servers' view", servers.FAMILIES),
    ("cluster", cluster.FAMILIES),
    ("agent", agent.FAMILIES),
    ("exporter", process.FAMILIES),
)
FAMILIES: tuple[Spec, ...] = tuple(spec for _, specs in FEATURES for spec in specs)


def exposed_names(spec: Spec) -> tuple[str, ...]:
    """The metric names a family shows in the text format (a counter's `_total`, a histogram's three)."""
    if spec.kind == "counter":
        return (spec.full_name + "_total",)
    if spec.kind == "histogram":
        return tuple(spec.full_name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return (spec.full_name,)
