"""Leaderboards: stored scores of one metric and protocol, per test set and condition.

Every cell is one test set under one condition (a codec at an operating point): the mean over
its utterances with a value, the 95 % confidence interval of that mean (Student's t), n, and
how many utterances failed (the unit failed, or this metric failed on it). Tables come in the
shape published codec papers use, per codec (rows: test sets; columns: operating points with
kbps and tokens/s), and across codecs (rows: conditions; columns: test sets); a plotly chart
per test set plots quality against bitrate.

Cells of token (neural) codecs also carry their token figures over the test set: the
entropy-coded bitrate, the entropy's bitrate, mean codebook utilisation and mean entropy per
token (:mod:`codecbench.evaluation.token_summary`); they are empty for classical codecs and
anchors, which send no tokens.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy.orm import Session

from codecbench.evaluation.conditions import operating_point_label, short_checkpoint
from codecbench.evaluation.metrics.registry import lower_is_better
from codecbench.evaluation.results import (
    MetricNotStoredError,
    load_scores,
    load_unit_requests,
    load_units,
    resolve_metric_names,
    stored_metrics,
    unit_failed_under,
)
from codecbench.evaluation.token_summary import TOKEN_CELL_COLUMNS, token_cells

CONFIDENCE = 0.95

CELL_COLUMNS = (
    "testset", "testset_kind", "testset_utterances", "sample", "condition_id", "codec", "operating_point", "column",
    "nominal_kbps", "tokens_per_second", "measured_kbps", *TOKEN_CELL_COLUMNS, "checkpoint", "codec_implementation",
    "metric", "protocol", "metric_implementation", "n", "failures", "mean", "std", "ci95_low", "ci95_high",
    "codecbench_version",
)
CSV_COLUMNS = tuple(column for column in CELL_COLUMNS if column != "condition_id")


class LeaderboardError(ValueError):
    """No leaderboard can be made as asked; the message lists what the database holds."""


def resolve_metric_choice(available: Sequence[tuple[str, str]], metric: str, protocol: str | None) -> tuple[str, str]:
    """The stored (metric, protocol) a user means by ``metric`` and ``protocol``.

    ``pesq`` means whichever of ``pesq_wb`` and ``pesq_nb`` is stored; the protocol may be
    left out when the metric has only one.

    Raises:
        LeaderboardError: nothing stored matches; the message lists what is stored.
    """
    stored = sorted(set(available))
    if not stored:
        raise LeaderboardError("the database holds no scores yet; run `codecbench evaluate` first.")
    listing = ", ".join(f"{m} --protocol {p}" for m, p in stored)
    try:
        names = resolve_metric_names(metric, sorted({m for m, _ in stored}), listing)
    except MetricNotStoredError as error:
        raise LeaderboardError(str(error)) from None
    if len(names) > 1:
        raise LeaderboardError(f"{metric} is stored as {' and '.join(names)}; choose one with --metric.")
    name = names[0]
    protocols = [p for m, p in stored if m == name]
    if protocol is None:
        if len(protocols) > 1:
            raise LeaderboardError(f"{name} is stored under several protocols ({', '.join(protocols)}); choose one with --protocol.")
        return name, protocols[0]
    if protocol not in protocols:
        raise LeaderboardError(f"no {name} scores under protocol {protocol!r} are stored; stored: {', '.join(protocols)}.")
    return name, protocol


def confidence_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t-interval of the mean of ``values`` (NaN, NaN for fewer than two values)."""
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean = float(np.mean(values))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * np.std(values, ddof=1) / math.sqrt(n))
    return mean - half, mean + half


def leaderboard_cells(
    units: pd.DataFrame, scores: pd.DataFrame, metric: str, protocol: str, requests: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per test set × condition (:data:`CELL_COLUMNS`) from :func:`load_units`, the
    :func:`load_scores` of one metric and protocol, and the :func:`load_unit_requests` of the
    failed units; the token figures empty (:meth:`Leaderboard.stored` reads them with
    :func:`~codecbench.evaluation.token_summary.token_cells`).

    A unit counts towards ``n`` if it has a value for the metric, towards ``failures`` if it
    has none because this metric failed, or because the unit failed when this metric was asked
    of it (``requests=None``: under every metric); units never scored with this metric count
    towards neither.
    """
    scores = scores[(scores["metric"] == metric) & (scores["protocol"] == protocol)]
    units = units.assign(unit_failed=unit_failed_under(units, requests, [metric], protocol))
    merged = units.merge(scores, on="unit_id", how="left")
    has_value = merged["value"].notna()
    failed = ~has_value & (merged["unit_failed"] | merged["error"].notna())
    merged = merged[has_value | failed].assign(has_value=has_value, failed=failed)
    rows = []
    for (testset, condition_id), group in merged.groupby(["testset", "condition_id"], sort=False):
        values = group.loc[group["has_value"], "value"].to_numpy(dtype=float)
        first = group.iloc[0]
        low, high = confidence_interval(values)
        versions = group.loc[group["has_value"], "codecbench_version"].dropna()
        if versions.empty:
            versions = group["unit_codecbench_version"]
        rows.append({
            "testset": testset,
            "testset_kind": first["testset_kind"],
            "testset_utterances": int(first["testset_utterances"]),
            "sample": "; ".join(sorted(group["sample"].unique())),
            "condition_id": int(condition_id),
            "codec": first["codec"],
            "operating_point": first["operating_point"],
            "column": operating_point_label(first["operating_point"], _optional(first["nominal_kbps"]),
                                            _optional(first["tokens_per_second"])),
            "nominal_kbps": _optional(first["nominal_kbps"]),
            "tokens_per_second": _optional(first["tokens_per_second"]),
            "measured_kbps": _optional(group.loc[group["has_value"], "measured_kbps"].mean()),
            "checkpoint": first["checkpoint"],
            "codec_implementation": first["codec_implementation"],
            "metric": metric,
            "protocol": protocol,
            "metric_implementation": "; ".join(sorted(group["metric_implementation"].dropna().unique())),
            "n": len(values),
            "failures": int(group["failed"].sum()),
            "mean": float(np.mean(values)) if len(values) else math.nan,
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
            "ci95_low": low,
            "ci95_high": high,
            "codecbench_version": "; ".join(sorted(versions.unique())),
            **dict.fromkeys(TOKEN_CELL_COLUMNS),  # filled in from the database by token_cells
        })
    cells = pd.DataFrame(rows, columns=list(CELL_COLUMNS))
    return _disambiguate_checkpoints(cells)


def _optional(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _disambiguate_checkpoints(cells: pd.DataFrame) -> pd.DataFrame:
    """Columns of one codec at one operating point with different checkpoints get the checkpoint's short id."""
    if cells.empty:
        return cells
    clashes = cells.groupby(["codec", "column"])["checkpoint"].transform("nunique") > 1
    cells.loc[clashes, "column"] = cells.loc[clashes, "column"] + " [" + cells.loc[clashes, "checkpoint"].map(short_checkpoint) + "]"
    return cells


@dataclass(frozen=True)
class Leaderboard:
    """The cells of one metric and protocol, and the tables, text, CSV and charts made from them."""

    metric: str
    protocol: str
    cells: pd.DataFrame

    @classmethod
    def from_database(
        cls,
        session: Session,
        metric: str,
        protocol: str | None = None,
        *,
        testsets: Sequence[str] | None = None,
        codecs: Sequence[str] | None = None,
    ) -> Leaderboard:
        """The leaderboard of ``metric`` (and ``protocol``) over the chosen test sets and codecs (default all).

        Raises:
            LeaderboardError: no such metric or protocol is stored.
        """
        metric, protocol = resolve_metric_choice(stored_metrics(session), metric, protocol)
        return cls.stored(session, metric, protocol, testsets=testsets, codecs=codecs)

    @classmethod
    def stored(
        cls,
        session: Session,
        metric: str,
        protocol: str,
        *,
        testsets: Sequence[str] | None = None,
        codecs: Sequence[str] | None = None,
    ) -> Leaderboard:
        """The leaderboard of exactly this stored ``metric`` and ``protocol``, without resolving
        aliases or checking what is stored: a metric with no stored scores gives only the cells of
        units that failed when it was asked of them (n = 0), or none. ``codecbench reproduce``
        reads its cells here, after runs that may have stored failures only."""
        units = load_units(session, testsets=testsets, codecs=codecs)
        scores = load_scores(session, metric=metric, protocol=protocol, testsets=testsets, codecs=codecs)
        requests = load_unit_requests(session, units.loc[units["unit_error"].notna(), "unit_id"])
        cells = leaderboard_cells(units, scores, metric, protocol, requests)
        return cls(metric, protocol, _ordered(token_cells(session, cells).reindex(columns=list(CELL_COLUMNS))))

    @property
    def title(self) -> str:
        direction = "lower is better" if lower_is_better(self.metric) else "higher is better"
        return f"{self.metric} ({self.protocol}; {direction}): mean ± 95 % CI (n)"

    @property
    def testsets(self) -> list[str]:
        return list(dict.fromkeys(self.cells["testset"]))

    @property
    def codecs(self) -> list[str]:
        return list(dict.fromkeys(self.cells["codec"]))

    def cell(self, testset: str, condition_id: int) -> pd.Series:
        match = self.cells[(self.cells["testset"] == testset) & (self.cells["condition_id"] == condition_id)]
        if match.empty:
            raise KeyError(f"no cell for test set {testset!r} and condition {condition_id}")
        return match.iloc[0]

    def codec_table(self, codec: str) -> pd.DataFrame:
        """Rows: test sets; columns: the codec's operating points; cells: ``mean ± ci (n=..)``."""
        cells = self.cells[self.cells["codec"] == codec]
        texts = cells.assign(text=cells.apply(format_cell, axis=1))
        table = texts.pivot(index="testset", columns="column", values="text")
        table = table.reindex(index=list(dict.fromkeys(cells["testset"])), columns=list(dict.fromkeys(cells["column"])))
        table.index.name, table.columns.name = "test set", None
        return table.fillna("")

    def cross_codec_table(self) -> pd.DataFrame:
        """Rows: conditions (codec and operating point); columns: test sets."""
        texts = self.cells.assign(text=self.cells.apply(format_cell, axis=1),
                                  condition=self.cells["codec"] + " " + self.cells["column"])
        table = texts.pivot(index="condition", columns="testset", values="text")
        table = table.reindex(index=list(dict.fromkeys(texts["condition"])), columns=self.testsets)
        table.index.name, table.columns.name = "condition", None
        return table.fillna("")

    def csv_frame(self) -> pd.DataFrame:
        """One row per cell with its provenance (:data:`CSV_COLUMNS`)."""
        return self.cells.reindex(columns=list(CSV_COLUMNS))

    def text(self) -> str:
        """The tables as plain text: one per codec, then the cross-codec table."""
        if self.cells.empty:
            return f"{self.title}\n  (no scores for the chosen test sets and codecs)"
        blocks = [self.title]
        for codec in self.codecs:
            blocks.append(f"{codec}\n{self.codec_table(codec).to_string()}")
        if len(self.codecs) > 1:
            blocks.append(f"all codecs\n{self.cross_codec_table().to_string()}")
        return "\n\n".join(blocks)

    def chart(self, testset: str):
        """Quality against bitrate on one test set (plotly): a line per codec with 95 % CI bars
        (none for a cell without an interval, n = 1), codecs without a bitrate (anchors) as
        dashed horizontal lines; a token codec's line again, dotted in the same colour, at its
        entropy-coded bitrate (``CODEC (entropy-coded)``). Hover text gives every rate."""
        import plotly.graph_objects as go
        from plotly.colors import qualitative

        cells = self.cells[(self.cells["testset"] == testset) & (self.cells["n"] > 0)]
        figure = go.Figure()
        palette = qualitative.Plotly
        entropy_coded = False
        for index, codec in enumerate(dict.fromkeys(cells["codec"])):
            color = palette[index % len(palette)]
            points = cells[(cells["codec"] == codec) & cells["nominal_kbps"].notna()].sort_values("nominal_kbps")
            if not points.empty:
                hover = [f"{codec} {row['column']}<br>{format_cell(row)}" + _rates_hover(row) for _, row in points.iterrows()]
                figure.add_trace(go.Scatter(
                    x=points["nominal_kbps"], y=points["mean"], mode="lines+markers", name=codec, legendgroup=codec,
                    line={"color": color}, text=hover, hoverinfo="text",
                ))
                # Bars only where there is an interval: plotly draws a missing value as a zero-width bar.
                with_interval = points[points["ci95_low"].notna() & points["ci95_high"].notna()]
                if not with_interval.empty:
                    figure.add_trace(go.Scatter(
                        x=with_interval["nominal_kbps"], y=with_interval["mean"], mode="markers",
                        name=f"{codec} 95 % CI", legendgroup=codec, showlegend=False, hoverinfo="skip",
                        marker={"color": color},
                        error_y={"type": "data", "symmetric": False, "color": color,
                                 "array": with_interval["ci95_high"] - with_interval["mean"],
                                 "arrayminus": with_interval["mean"] - with_interval["ci95_low"]},
                    ))
                coded = points["entropy_coded_kbps"].map(_optional_rate).notna()
                if coded.any():
                    entropy_coded = True
                    # In the order of the entropy-coded rate, which need not follow the nominal one.
                    texts = pd.Series(hover, index=points.index)[coded]
                    along = points.loc[coded].assign(rate=points.loc[coded, "entropy_coded_kbps"].astype(float))
                    order = along.sort_values("rate", kind="stable").index
                    figure.add_trace(go.Scatter(
                        x=along.loc[order, "rate"], y=along.loc[order, "mean"],
                        mode="lines+markers", name=f"{codec} (entropy-coded)", legendgroup=codec,
                        line={"color": color, "dash": "dot"}, marker={"color": color, "symbol": "circle-open"},
                        text=list(texts.loc[order]), hoverinfo="text",
                    ))
            for row in cells[(cells["codec"] == codec) & cells["nominal_kbps"].isna()].itertuples():
                figure.add_hline(y=row.mean, line_dash="dash", annotation_text=f"{codec} {row.column}",
                                 annotation_position="bottom right")
        axis = "bitrate (kbps; solid: nominal, dotted: entropy-coded)" if entropy_coded else "bitrate (kbps, nominal)"
        figure.update_layout(
            title=f"{testset}: {self.metric} ({self.protocol}) against bitrate",
            xaxis={"title": axis, "type": "log"},
            yaxis={"title": f"{self.metric} ({self.protocol})"},
            legend={"title": "codec"},
        )
        return figure


def _optional_rate(value) -> float | None:
    """A rate of a cell, or ``None`` where there is none (``None``, NaN, or the empty text of a CSV)."""
    if value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _rates_hover(cell: pd.Series) -> str:
    """The hover lines of a cell's rates besides the nominal one: measured, entropy-coded (token codecs)."""
    lines = [f"nominal {cell['nominal_kbps']:g} kbps"] if _optional_rate(cell["nominal_kbps"]) is not None else []
    for name, column in (("measured", "measured_kbps"), ("entropy-coded", "entropy_coded_kbps")):
        rate = _optional_rate(cell.get(column))
        if rate is not None:
            lines.append(f"{name} {rate:.2f} kbps")
    return "".join(f"<br>{line}" for line in lines)


def format_cell(cell: pd.Series) -> str:
    """``3.93 ± 0.02 (n=200)``, ``3.93 ± 0.02 (n=198, 2 failed)``, ``- (n=0, 3 failed)``."""
    n, failures, mean, low = int(cell["n"]), int(cell["failures"]), cell["mean"], cell["ci95_low"]
    count = f"n={n}" + (f", {failures} failed" if failures else "")
    if n == 0:
        return f"- ({count})"
    decimals = 1 if abs(mean) >= 100 else 2 if abs(mean) >= 1 else 3
    if math.isnan(low):
        return f"{mean:.{decimals}f} ({count})"
    return f"{mean:.{decimals}f} ± {mean - low:.{decimals}f} ({count})"


def _ordered(cells: pd.DataFrame) -> pd.DataFrame:
    """Test sets in the order of the named ones (then by name), codecs in registry order, then bitrate."""
    from codecbench.codecs import registry_entries
    from codecbench.evaluation.datasets import NAMED_TESTSETS

    testset_rank = {name: index for index, name in enumerate(NAMED_TESTSETS)}
    codec_rank = {entry.name: index for index, entry in enumerate(registry_entries())}
    keys = pd.DataFrame({
        "testset_rank": cells["testset"].map(lambda name: testset_rank.get(name, len(testset_rank))),
        "codec_rank": cells["codec"].map(lambda name: codec_rank.get(name, len(codec_rank))),
        "kbps": cells["nominal_kbps"].fillna(-1.0),
    }, index=cells.index)
    order = pd.concat([keys, cells[["testset", "codec", "column"]]], axis=1).sort_values(
        ["testset_rank", "testset", "codec_rank", "codec", "kbps", "column"], kind="stable").index
    return cells.loc[order].reset_index(drop=True)
