"""A :class:`~codecbench.evaluation.reproduce.Reproduction` as markdown, CSV and a plotly chart.

Every form says where the table comes from (source and URL), which model and checkpoint ran,
which metric under which protocol and why, and, per test set × operating point, the published
value, the measured mean with its 95 % confidence interval and n, Δ = measured − published, and
whether the published value lies inside the interval. Measured cells are written the way the
leaderboard writes them (:func:`~codecbench.evaluation.leaderboard.format_cell`).
"""

from __future__ import annotations

import math

import pandas as pd

from codecbench.evaluation.leaderboard import format_cell
from codecbench.evaluation.reproduce import MEASURED, NOT_RUN, ComparisonRow, Reproduction

CSV_COLUMNS = (
    "table", "source_kind", "source_title", "source_url", "codec", "checkpoint", "codec_implementation", "metric",
    "protocol", "metric_implementation", "testset", "published_as", "operating_point", "column", "nominal_kbps",
    "tokens_per_second", "published", "status", "reason", "n", "failures", "mean", "std", "ci95_low", "ci95_high",
    "delta", "published_in_ci", "sample", "testset_utterances", "measured_kbps", "codecbench_version",
)


def markdown(reproduction: Reproduction) -> str:
    """A header naming source, model, metric, protocol and why, then one table row per test set ×
    operating point, then the notes on how published rows map to codecbench's test sets."""
    table, request = reproduction.table, reproduction.request
    points = ", ".join(f"{point.label} = {table.codec}@{point.kbps:g}" for point in table.points)
    checkpoints = ", ".join(dict.fromkeys(condition.checkpoint for condition in reproduction.conditions))
    lines = [
        f"## Reproducing {table.name}",
        "",
        f"- **Source:** {table.source.kind}, {table.source.title}: <{table.source.url}>",
        f"- **Model:** `{table.codec}` ({checkpoints}); operating points {points}",
        f"- **Metric:** `{table.metric}`, protocol `{table.protocol}`. Why: {table.protocol_reason}",
        f"- **Measured:** per test set and operating point, the cell `codecbench leaderboard --metric {table.metric} "
        f"--protocol {table.protocol}` shows: mean ± half-width of its 95 % confidence interval (Student's t) over "
        "every utterance stored for it in this database, n utterances with a value, and failures. This run drew "
        f"{'whole test sets' if request.limit is None else request.sample}. Δ = measured − published; "
        "\"in CI\": whether the published value lies inside the measured interval.",
        "",
        "| test set | published as | operating point | published | measured: mean ± 95 % CI (n) | Δ | in CI |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in reproduction.rows:
        lines.append("| " + " | ".join([
            row.testset, row.published_as, f"{row.point.label} ({row.column})", table.format_value(row.published),
            _measured_text(row), _delta_text(row, table.decimals), _in_ci_text(row),
        ]) + " |")
    notes = [row for row in table.rows if row.note]
    if notes:
        lines += ["", "Notes:"]
        lines += [f"- `{row.published_as}` → `{row.testset}`: {row.note}" for row in notes]
    return "\n".join(lines) + "\n"


def _measured_text(row: ComparisonRow) -> str:
    if row.status == NOT_RUN:
        return f"not run: {_escape(row.reason)}"
    cell = pd.Series({"n": row.n, "failures": row.failures, "mean": row.mean, "ci95_low": row.ci95_low})
    text = format_cell(cell)
    return text if row.status == MEASURED else f"{text}: {_escape(row.reason)}"


def _delta_text(row: ComparisonRow, decimals: int) -> str:
    return "" if math.isnan(row.delta) else f"{row.delta:+.{decimals}f}"


def _in_ci_text(row: ComparisonRow) -> str:
    inside = row.published_in_ci
    if inside is None:
        return "no CI (n=1)" if row.n == 1 else ""
    return "yes" if inside else "no"


def _escape(text: str) -> str:
    """Keep a free-text reason inside its markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def csv_frame(reproduction: Reproduction) -> pd.DataFrame:
    """One row per test set × operating point (:data:`CSV_COLUMNS`), with provenance."""
    table = reproduction.table
    records = []
    for row in reproduction.rows:
        records.append({
            "table": table.name, "source_kind": table.source.kind, "source_title": table.source.title,
            "source_url": table.source.url, "codec": table.codec, "checkpoint": row.checkpoint,
            "codec_implementation": row.codec_implementation, "metric": table.metric, "protocol": table.protocol,
            "metric_implementation": row.metric_implementation, "testset": row.testset,
            "published_as": row.published_as, "operating_point": row.point.label, "column": row.column,
            "nominal_kbps": row.point.kbps, "tokens_per_second": row.point.tokens_per_second,
            "published": row.published, "status": row.status, "reason": row.reason,
            "n": row.n, "failures": row.failures, "mean": row.mean, "std": row.std,
            "ci95_low": row.ci95_low, "ci95_high": row.ci95_high, "delta": row.delta,
            "published_in_ci": row.published_in_ci, "sample": row.sample,
            "testset_utterances": row.testset_utterances, "measured_kbps": row.measured_kbps,
            "codecbench_version": row.codecbench_version,
        })
    return pd.DataFrame(records, columns=list(CSV_COLUMNS))


def chart(reproduction: Reproduction):
    """Published and measured values per test set (plotly): for each operating point, the
    published value as an open diamond and the measured mean with its 95 % CI as an error bar;
    rows not run show only the published value."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    table = reproduction.table
    figure = go.Figure()
    categories = [row.testset for row in table.rows]
    for index, point in enumerate(table.points):
        color = qualitative.Plotly[index % len(qualitative.Plotly)]
        rows = [row for row in reproduction.rows if row.point == point]
        figure.add_trace(go.Scatter(
            x=[row.testset for row in rows], y=[row.published for row in rows], mode="markers",
            name=f"published, {point.label}", offsetgroup=point.label, legendgroup=point.label,
            marker={"symbol": "diamond-open", "size": 11, "color": color},
            text=[f"{row.published_as}: {table.format_value(row.published)} published" for row in rows],
            hoverinfo="text",
        ))
        measured = [row for row in rows if row.n > 0]
        figure.add_trace(go.Scatter(
            x=[row.testset for row in measured], y=[row.mean for row in measured], mode="markers",
            name=f"measured, {point.label}", offsetgroup=point.label, legendgroup=point.label,
            marker={"symbol": "circle", "size": 8, "color": color},
            error_y={"type": "data", "symmetric": False, "color": color,
                     "array": [_half(row.ci95_high - row.mean) for row in measured],
                     "arrayminus": [_half(row.mean - row.ci95_low) for row in measured]},
            text=[f"{row.testset} {row.column}: {_measured_text(row)}, Δ {_delta_text(row, table.decimals)}"
                  for row in measured],
            hoverinfo="text",
        ))
    figure.update_layout(
        title=f"{table.name}: published vs measured {table.metric} ({table.protocol}); bars: 95 % CI",
        scattermode="group",
        xaxis={"title": "test set", "categoryorder": "array", "categoryarray": categories},
        yaxis={"title": f"{table.metric} ({table.protocol})"},
        legend={"title": "value, operating point"},
    )
    return figure


def _half(value: float) -> float:
    """An interval half-width for plotly (0 where there is none: n = 1)."""
    return 0.0 if math.isnan(value) else value
