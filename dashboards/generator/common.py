"""What every row shares: the data source, the selectors behind the template variables, and panel shapes.

A panel in a row module is its title, its description, its queries and its size; everything a panel of a kind has
in common (legend, tooltip, line style, stat colouring) is decided here once, so the panels of the dashboard look
alike and a row module reads like the list of questions it answers. The helpers return the SDK's builders, so a
panel that differs (decimals, a min and max) chains the SDK's own methods.

Metric names are written in full (`nats_connectivity_probe_success`), not imported from the exporter: the
dashboards must not depend on the exporter's internals, and tests/dashboards/test_metric_drift.py checks every name
against the real /metrics output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from grafana_foundation_sdk.builders import bargauge, heatmap, prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.models import common as models
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

# The SDK's panel builders the rows use (each has `.id()`, which Builder[Panel] lacks); a new kind is one more here.
PanelBuilder = stat.Panel | bargauge.Panel | timeseries.Panel | table.Panel | heatmap.Panel | statetimeline.Panel
_P = TypeVar("_P", stat.Panel, bargauge.Panel, timeseries.Panel, table.Panel, statetimeline.Panel)

# Every panel, query and variable asks the data source the user picks in the `datasource` variable.
DATASOURCE = dashboard_models.DataSourceRef(type_val="prometheus", uid="${datasource}")

# The template variables each kind of series is filtered by, in the order the selectors list them.
EXPORTER = ("job", "instance")  # the exporter's own series
TARGET = (*EXPORTER, "target")  # per NATS target: probes, sessions, diagnostics
NAMESPACE = (*EXPORTER, "namespace")  # per namespace: the configuration audit
APP = (*NAMESPACE, "app")  # per application: its logs
# The node agent's series (a DaemonSet): Prometheus adds `node` through the PodMonitor's relabelling. The `node`
# variable's "All" is ".+", so these selectors keep only series that have a node, never the exporter Deployment's.
NODE = (*TARGET, "node")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a dashboard: its title and its panels, in reading order (the layout flows left to right)."""

    title: str
    panels: Sequence[PanelBuilder]


RowFactory = Callable[[], Row]


def selector(metric: str, scope: Sequence[str], *matchers: str) -> str:
    """`metric{job=~"$job", instance=~"$instance", ...}`: filtered by the variables of `scope`, then `matchers`."""
    parts = [f'{label}=~"${label}"' for label in scope] + list(matchers)
    return f"{metric}{{{', '.join(parts)}}}"


def by(aggregation: str, labels: str, expr: str) -> str:
    """`sum by (target) (expr)`: one series per value of `labels` (a comma-separated list)."""
    return f"{aggregation} by ({labels}) ({expr})"


def rate(series_selector: str) -> str:
    """Per-second rate over Grafana's `$__rate_interval` (the lint allows no other range)."""
    return f"rate({series_selector}[$__rate_interval])"


def increase(series_selector: str) -> str:
    """Events per interval, over Grafana's `$__rate_interval`: for bars of counts."""
    return f"increase({series_selector}[$__rate_interval])"


# --- Queries ---------------------------------------------------------------------------------------------------


def series(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    """A range query: a line (or a value a stat reduces) per series, named by `legend`."""
    return _query(expr, ref).legend_format(legend).range()


def instant(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    """The latest value only: for bar gauges showing now."""
    return _query(expr, ref).legend_format(legend).instant()


def rows(expr: str) -> prometheus.Dataquery:
    """The latest value as a table: one row per series, its labels as columns."""
    return _query(expr, "A").legend_format("__auto").instant().format(prometheus_models.PromQueryFormat.TABLE)


def _query(expr: str, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().datasource(DATASOURCE).expr(expr).ref_id(ref)


# --- Values and colours ----------------------------------------------------------------------------------------


def thresholds(*steps: tuple[str, float | None]) -> dashboard_builders.ThresholdsConfig:
    """Absolute thresholds, `(colour, from)` in rising order; the first starts at None (minus infinity)."""
    return (
        dashboard_builders.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_models.Threshold(value=value, color=color) for color, value in steps])
    )


GREEN_FROM_1 = (("red", None), ("green", 1))  # 1 is good, anything less is not
RED_FROM_1 = (("green", None), ("red", 1))  # any is too many
JUST_BLUE = (("blue", None),)  # a count or a time: no good or bad


def value_text(texts: Mapping[str, tuple[str, str]]) -> list[dashboard_models.ValueMapping]:
    """Show values as words: `{"1": ("up", "green"), "0": ("down", "red")}`."""
    results = {
        value: dashboard_models.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(texts.items())
    }
    return [dashboard_models.ValueMap(options=results)]


def value_colours(colours: Mapping[str, str]) -> list[dashboard_models.ValueMapping]:
    """Colour values without renaming them: `{"ip": "red", ...}`."""
    results = {
        value: dashboard_models.ValueMappingResult(color=color, index=index)
        for index, (value, color) in enumerate(colours.items())
    }
    return [dashboard_models.ValueMap(options=results)]


UP_DOWN = value_text({"1": ("up", "green"), "0": ("down", "red")})

# A NATS URL's host: the Service's full name is right, a short name works from its namespace only, an IP is wrong.
HOST_KIND_COLOURS = {"ip": "red", "short": "orange", "fqdn": "green"}


def coloured_column(
    mappings: list[dashboard_models.ValueMapping],
    cell: models.TableColorTextCellOptions | models.TableColoredBackgroundCellOptions,
) -> list[dashboard_models.DynamicConfigValue]:
    """A table column's override: its values mapped (words, colours) and drawn in colour."""
    return [
        dashboard_models.DynamicConfigValue(id_val="mappings", value=mappings),
        dashboard_models.DynamicConfigValue(id_val="custom.cellOptions", value=cell),
    ]


COLOUR_TEXT = models.TableColorTextCellOptions()
COLOUR_BACKGROUND = models.TableColoredBackgroundCellOptions()


# --- Panels ----------------------------------------------------------------------------------------------------


def stat_panel(
    title: str,
    description: str,
    *queries: prometheus.Dataquery,
    unit: str,
    size: tuple[int, int],
    steps: Sequence[tuple[str, float | None]],
    mappings: list[dashboard_models.ValueMapping] | None = None,
) -> stat.Panel:
    """The last value of each series as a tile named after it; coloured backgrounds unless there is no good or bad."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(queries))
        .unit(unit)
        .thresholds(thresholds(*steps))
        .reduce_options(_last_value())
        .color_mode(models.BigValueColorMode.VALUE if steps == JUST_BLUE else models.BigValueColorMode.BACKGROUND)
        .graph_mode(models.BigValueGraphMode.NONE)
        .justify_mode(models.BigValueJustifyMode.AUTO)
        .orientation(models.VizOrientation.AUTO)
        .text_mode(models.BigValueTextMode.VALUE_AND_NAME)
        .wide_layout(True)
        .show_percent_change(False)
    )
    if mappings is not None:
        panel.mappings(mappings)
    return _sized(panel, size)


def bar_gauge_panel(
    title: str,
    description: str,
    query: prometheus.Dataquery,
    *,
    unit: str,
    size: tuple[int, int],
    steps: Sequence[tuple[str, float | None]],
    display: models.BarGaugeDisplayMode,
) -> bargauge.Panel:
    """Horizontal bars, one per series, coloured by the thresholds."""
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query)
        .unit(unit)
        .thresholds(thresholds(*steps))
        .reduce_options(_last_value())
        .orientation(models.VizOrientation.HORIZONTAL)
        .display_mode(display)
        .show_unfilled(True)
        .value_mode(models.BarGaugeValueMode.COLOR)
        .name_placement(models.BarGaugeNamePlacement.AUTO)
        .sizing(models.BarGaugeSizing.AUTO)
        .min_viz_height(16)
        .min_viz_width(8)
        .max_viz_height(300)
    )
    return _sized(panel, size)


def lines(
    title: str,
    description: str,
    *queries: prometheus.Dataquery,
    unit: str,
    size: tuple[int, int],
    stacked: bool = False,
    log_scale: bool = False,
) -> timeseries.Panel:
    """A line per series; the axis starts at zero, or is logarithmic for latencies spanning microseconds to seconds."""
    panel = _timeseries(title, description, queries, unit, size, stacked=stacked)
    panel.draw_style(models.GraphDrawStyle.LINE).fill_opacity(10)
    if log_scale:
        panel.scale_distribution(common_builders.ScaleDistributionConfig().type(models.ScaleDistribution.LOG).log(10))
    else:
        panel.axis_soft_min(0)
    return panel


def bars(
    title: str,
    description: str,
    *queries: prometheus.Dataquery,
    unit: str,
    size: tuple[int, int],
    stacked: bool = True,
) -> timeseries.Panel:
    """Events per interval as bars (counts from `increase`), stacked unless the series should be compared."""
    panel = _timeseries(title, description, queries, unit, size, stacked=stacked)
    panel.draw_style(models.GraphDrawStyle.BARS).fill_opacity(80).axis_soft_min(0)
    return panel


def table_panel(
    title: str,
    description: str,
    query: prometheus.Dataquery,
    *,
    size: tuple[int, int],
    unit: str = "none",
    hide: Sequence[str] = ("Time", "Value"),
    rename: Mapping[str, str] | None = None,
    sort_by: str | None = None,
) -> table.Panel:
    """One row per series, its labels as columns; the timestamp (and the value, for info metrics) hidden."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query)
        .unit(unit)
        .show_header(True)
        .cell_height(models.TableCellHeight.SM)
        .footer(common_builders.TableFooterOptions().show(False).reducer(["sum"]))  # hidden: no sums of labels
        .with_transformation(
            dashboard_models.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {name: True for name in hide},
                    "renameByName": dict(rename or {}),
                    "indexByName": {},
                },
            )
        )
    )
    if sort_by is not None:
        panel.sort_by([common_builders.TableSortByFieldState().display_name(sort_by).desc(False)])
    return _sized(panel, size)


def state_timeline(
    title: str,
    description: str,
    query: prometheus.Dataquery,
    *,
    size: tuple[int, int],
    mappings: list[dashboard_models.ValueMapping],
    steps: Sequence[tuple[str, float | None]],
) -> statetimeline.Panel:
    """A band per series, coloured by its state over time: which pair, server or node failed, and when."""
    panel = (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query)
        .unit("none")
        .thresholds(thresholds(*steps))
        .mappings(mappings)
        .show_value(models.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.9)
        .fill_opacity(80)
        .line_width(0)
        .align_value(models.TimelineValueAlignment.LEFT)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(models.LegendDisplayMode.LIST)
            .placement(models.LegendPlacement.BOTTOM)
            .show_legend(False)
        )
        .tooltip(common_builders.VizTooltipOptions().mode(models.TooltipDisplayMode.SINGLE))
    )
    return _sized(panel, size)


def histogram_heatmap(
    title: str, description: str, buckets_expr: str, *, unit: str, size: tuple[int, int]
) -> heatmap.Panel:
    """A histogram's buckets as Prometheus counted them (no re-bucketing): `buckets_expr` sums by `le`."""
    width, height = size
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(series(buckets_expr, "{{le}}").format(prometheus_models.PromQueryFormat.HEATMAP))
        .unit(unit)
        .scale_distribution(common_builders.ScaleDistributionConfig().type(models.ScaleDistribution.LINEAR))
        .hide_from(common_builders.HideSeriesConfig().legend(False).tooltip(False).viz(False))
        .calculate(False)
        .cell_gap(1)
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_models.HeatmapColorMode.SCHEME)
            .scheme("Oranges")
            .exponent(0.5)
            .fill("dark-orange")
            .reverse(False)
            .scale(heatmap_models.HeatmapColorScale.EXPONENTIAL)
            .steps(64)
        )
        .filter_values(heatmap.FilterValueRange().le(1e-09))
        .show_legend()
        .rows_frame(heatmap.RowsHeatmapOptions().layout(models.HeatmapCellLayout.AUTO))
        .mode(models.TooltipDisplayMode.SINGLE)
        .hide_y_histogram()
        .show_color_scale(False)
        .y_axis(heatmap.YAxisConfig().axis_placement(models.AxisPlacement.LEFT).reverse(False).unit(unit))
        .cell_values(heatmap.CellValues().unit("short"))
        .span(width)
        .height(height)
    )


def _timeseries(
    title: str,
    description: str,
    queries: Sequence[prometheus.Dataquery],
    unit: str,
    size: tuple[int, int],
    *,
    stacked: bool,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(queries))
        .unit(unit)
        .line_width(1)
        .show_points(models.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            common_builders.StackingConfig()
            .mode(models.StackingMode.NORMAL if stacked else models.StackingMode.NONE)
            .group("A")
        )
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(models.LegendDisplayMode.TABLE)
            .placement(models.LegendPlacement.RIGHT)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions().mode(models.TooltipDisplayMode.MULTI).sort(models.SortOrder.DESCENDING)
        )
    )
    return _sized(panel, size)


def _last_value() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def _sized(panel: _P, size: tuple[int, int]) -> _P:
    width, height = size
    return panel.span(width).height(height)


# --- Variables -------------------------------------------------------------------------------------------------


def query_variable(name: str, values_of: str, *, all_value: str) -> dashboard_builders.QueryVariable:
    """A multi-select variable listing `name`'s values in `values_of`, refreshed when the time range changes."""
    query = f"label_values({values_of}, {name})"
    return (
        dashboard_builders.QueryVariable(name)
        .label(name.title())
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .regex("")
        .sort(dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .hide(dashboard_models.VariableHide.DONT_HIDE)
        .include_all(True)
        .multi(True)
        .all_value(all_value)
        .current(dashboard_models.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .options([])
    )
