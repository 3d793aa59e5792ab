"""The NATS connectivity dashboard: its variables and its rows, top to bottom.

Adding a row is a module with a `row()` function and one line in ROWS. Panels are laid out by the SDK, left to
right in the order a row lists them, wrapping at the grid's 24 columns; panel ids are given here, in that order.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import dashboard as models

from . import applications, cluster, health, kubernetes, latency, nodes, overview, server_view, sessions
from .common import DATASOURCE, EXPORTER, NAMESPACE, RowFactory, query_variable, selector

UID = "nats-connectivity"
FILE_NAME = f"{UID}.json"
# Pinned: the dashboards' lint (tests/dashboards) checks it, and Grafana migrates older schemas on load.
SCHEMA_VERSION = 39

ROWS: tuple[RowFactory, ...] = (
    overview.row,
    latency.row,
    sessions.row,
    applications.row,
    server_view.row,
    kubernetes.row,
    cluster.row,
    nodes.row,
    health.row,
)

PHASES = ("dns", "tcp", "connect", "rtt", "pubsub")
DEFAULT_PHASE = "rtt"


def build() -> models.Dashboard:
    dashboard = (
        builders.Dashboard("NATS connectivity")
        .uid(UID)
        .description(
            "Can the applications reach NATS, and how well? Probes, sessions, application logs, the NATS servers' "
            "view of the applications, the cluster's routes and JetStream, every node's view and Kubernetes "
            "diagnostics from nats-connectivity-exporter. Runbook: alerts/runbook.md."
        )
        .tags(["nats", "nats-connectivity-exporter", "kubernetes"])
        .readonly()
        .version(1)
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .timezone("")
        .time("now-1h", "now")
        .refresh("30s")
        .fiscal_year_start_month(0)
        .live_now(False)
        .links([])
        .annotation(
            builders.AnnotationQuery()
            .built_in(1)
            .datasource(models.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .name("Annotations & Alerts")
            .type("dashboard")
        )
        .variables(_variables())
    )
    next_id = 1
    for factory in ROWS:
        row = factory()
        dashboard.with_row(builders.Row(row.title).id(next_id).datasource(DATASOURCE))
        next_id += 1
        for panel in row.panels:
            dashboard.with_panel(panel.id(next_id))
            next_id += 1
    built = dashboard.build()
    built.schema_version = SCHEMA_VERSION
    return built


def _variables() -> list[Builder[models.VariableModel]]:
    build_info = "nats_connectivity_build_info"
    log_lines = "nats_connectivity_log_lines_total"
    return [
        builders.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .regex("")
        .hide(models.VariableHide.DONT_HIDE)
        .include_all(False)
        .multi(False),
        query_variable("job", build_info, all_value=".+"),
        query_variable("instance", selector(build_info, ("job",)), all_value=".+"),
        query_variable("target", selector("nats_connectivity_target_info", EXPORTER), all_value=".+"),
        # Local log files have no namespace: ".*" keeps them when "All" is picked.
        query_variable("namespace", selector(log_lines, EXPORTER), all_value=".*"),
        query_variable("app", selector(log_lines, NAMESPACE), all_value=".*"),
        # The node agent's nodes (the PodMonitor adds `node`); ".+" keeps out series without one.
        query_variable("node", selector("nats_connectivity_probe_success", EXPORTER, 'node!=""'), all_value=".+"),
        builders.CustomVariable("phase")
        .label("Phase")
        .values(",".join(PHASES))
        .description("The probe phase the latency heatmap shows.")
        .current(models.VariableOption(selected=True, text=DEFAULT_PHASE, value=DEFAULT_PHASE))
        .hide(models.VariableHide.DONT_HIDE)
        .include_all(False)
        .multi(False)
        .options([models.VariableOption(selected=phase == DEFAULT_PHASE, text=phase, value=phase) for phase in PHASES]),
    ]
