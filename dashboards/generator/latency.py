"""Latency: how long each probe phase takes, its distribution, and the p99 the latency warning watches."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import heatmap
from grafana_foundation_sdk.models import common as models
from grafana_foundation_sdk.models import heatmap as heatmap_models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from .common import DATASOURCE, TARGET, Row, by, lines, rate, selector, series

_BUCKETS = selector("nats_connectivity_probe_latency_seconds_bucket", TARGET)


def row() -> Row:
    return Row(
        "Latency",
        [
            lines(
                "Phase latency percentiles",
                "p50, p90 and p99 of each probe phase, from the probe_latency_seconds histogram (buckets 0.25ms to "
                "10s), over the selected targets. Logarithmic axis: DNS and TCP take microseconds, TLS handshakes "
                "milliseconds.",
                series(_quantile("0.5"), "p50 {{phase}}", "A"),
                series(_quantile("0.9"), "p90 {{phase}}", "B"),
                series(_quantile("0.99"), "p99 {{phase}}", "C"),
                unit="s",
                size=(12, 8),
                log_scale=True,
            ),
            _distribution(),
            lines(
                "p99 per target and phase (5m)",
                "p99 of each phase over 5 minutes, per target (recording rule "
                "target_phase:nats_connectivity_probe_latency_seconds:p99_rate5m). NATSConnectivityHighLatency warns "
                "above 100ms for rtt and pubsub and above 500ms for dns, tcp and connect, for 10 minutes.",
                series(
                    selector("target_phase:nats_connectivity_probe_latency_seconds:p99_rate5m", TARGET),
                    "{{target}} {{phase}}",
                ),
                unit="s",
                size=(24, 7),
                log_scale=True,
            ),
        ],
    )


def _quantile(q: str) -> str:
    return f"histogram_quantile({q}, {by('sum', 'phase, le', rate(_BUCKETS))})"


def _distribution() -> heatmap.Panel:
    """The chosen phase's times over the histogram's buckets, as Prometheus counted them (no re-bucketing)."""
    buckets = selector("nats_connectivity_probe_latency_seconds_bucket", TARGET, 'phase=~"$phase"')
    return (
        heatmap.Panel()
        .title("Latency distribution: $phase")
        .description(
            "How the selected phase's times are distributed over the histogram's buckets (choose the phase with the "
            "Phase variable). A second band means some probes take another path, e.g. one slow NATS pod behind the "
            "Service."
        )
        .datasource(DATASOURCE)
        .with_target(series(by("sum", "le", rate(buckets)), "{{le}}").format(prometheus_models.PromQueryFormat.HEATMAP))
        .unit("s")
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
        .exemplars_color("rgba(255,0,255,0.7)")
        .filter_values(heatmap.FilterValueRange().le(1e-09))
        .show_legend()
        .rows_frame(heatmap.RowsHeatmapOptions().layout(models.HeatmapCellLayout.AUTO))
        .mode(models.TooltipDisplayMode.SINGLE)
        .hide_y_histogram()
        .show_color_scale(False)
        .y_axis(heatmap.YAxisConfig().axis_placement(models.AxisPlacement.LEFT).reverse(False).unit("s"))
        .cell_values(heatmap.CellValues().unit("short"))
        .span(12)
        .height(8)
    )
