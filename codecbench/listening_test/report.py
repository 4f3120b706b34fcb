"""Results of a MUSHRA test: screened tables, text for the terminal, CSV, and plotly charts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from codecbench.listening_test.design import TestInfo, get_test
from codecbench.listening_test.ratings import RATING_COLUMNS, condition_order, load_ratings
from codecbench.listening_test.screening import ScreeningResult, ScreeningRule, require_headphone_check
from codecbench.listening_test.sources import objective_scores
from codecbench.listening_test.statistics import (
    MIN_RATERS,
    ObjectiveCorrelation,
    condition_summary,
    correlate_with_objective,
    item_condition_summary,
    paired_comparisons,
)
from codecbench.listening_test.suspicion import suspicious_sessions
from codecbench.untrusted_text import spreadsheet_safe, terminal_safe


@dataclass(frozen=True)
class TestResults:
    """Everything the results view shows for one test under one screening rule.

    Attributes:
        all_ratings: every stored test rating (unscreened).
        ratings: the ratings of the assessors the screening keeps.
        conditions: :func:`condition_summary` of ``ratings``.
        items: :func:`item_condition_summary` of ``ratings``.
        comparisons: :func:`paired_comparisons` of ``ratings``.
        correlations: condition means against stored objective scores, one per metric.
        suspicious: :func:`~codecbench.listening_test.suspicion.suspicious_sessions` (flags, no verdict).
    """

    __test__ = False  # not a pytest test class

    test: TestInfo
    screening: ScreeningResult
    all_ratings: pd.DataFrame
    ratings: pd.DataFrame
    conditions: pd.DataFrame
    items: pd.DataFrame
    comparisons: pd.DataFrame
    correlations: tuple[ObjectiveCorrelation, ...] = ()
    suspicious: pd.DataFrame = field(default_factory=pd.DataFrame)


def compute_results(session: Session, test_id: int, rule: ScreeningRule, *,
                    require_headphones: bool = False) -> TestResults:
    """Load, screen and summarise the ratings of a test; with ``require_headphones``, who
    failed the headphone check is excluded as well.

    Raises:
        TestNotFoundError: no such test.
    """
    test = get_test(session, test_id)
    order = condition_order(session, test_id)
    all_ratings = load_ratings(session, test_id)
    screening = screen(rule, all_ratings, require_headphones=require_headphones)
    ratings = screening.kept(all_ratings)
    conditions = condition_summary(ratings, order)
    correlations: tuple[ObjectiveCorrelation, ...] = ()
    scores = objective_scores(session, test_id)
    if scores is not None and len(ratings):
        correlations = tuple(
            correlate_with_objective(conditions["mean"], group.set_index("condition")["score"], metric)
            for metric, group in scores.groupby("metric")
        )
    return TestResults(
        test=test,
        screening=screening,
        all_ratings=all_ratings,
        ratings=ratings,
        conditions=conditions,
        items=item_condition_summary(ratings, order),
        comparisons=paired_comparisons(ratings, order) if len(ratings) else pd.DataFrame(),
        correlations=correlations,
        suspicious=suspicious_sessions(session, test_id),
    )


def screen(rule: ScreeningRule, ratings: pd.DataFrame, *, require_headphones: bool = False) -> ScreeningResult:
    """Apply ``rule`` to a rating table, and the headphone-check requirement if asked."""
    result = rule.screen(ratings)
    return require_headphone_check(result, ratings) if require_headphones else result


def participants_table(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per assessor: their headphone check and questionnaire answers."""
    columns = ["participant", "headphone_check", "headphone_correct", "age_range", "hearing_problems", "device"]
    if ratings.empty:
        return pd.DataFrame(columns=columns)
    table = ratings.drop_duplicates("participant")[columns].reset_index(drop=True)
    return table.assign(headphone_correct=[
        "" if pd.isna(value) or value == "" else str(int(value)) for value in table["headphone_correct"]])


def results_text(results: TestResults, *, per_item: bool = False) -> str:
    """The report ``codecbench mushra results`` prints (control and format characters escaped)."""
    test = results.test
    kept = results.screening.kept_assessors
    lines = [
        f"MUSHRA test {test.id}: {test.name} ({test.status})",
        f"{len(results.screening.assessors)} assessor(s) with ratings; {len(kept)} kept after screening "
        f"'{results.screening.rule}'; {len(results.ratings)} ratings used.",
        "",
        results.screening.summary(),
        "",
        "Per condition (mean with 95 % t-interval, clipped to 0-100; median and IQR):",
        format_table(summary_display(results.conditions)),
    ]
    if per_item and len(results.items):
        lines += ["", "Per item and condition:", format_table(summary_display(results.items.reset_index()))]
    if len(results.comparisons):
        lines += ["", "Paired comparisons (Wilcoxon signed-rank, Holm-corrected over all pairs):",
                  format_table(_comparison_display(results.comparisons))]
    participants = participants_table(results.all_ratings)
    answered = participants[(participants.drop(columns=["participant", "headphone_correct"]) != "").any(axis=1)]
    if len(answered):
        lines += ["", "Headphone check and questionnaire:", format_table(answered)]
    if len(results.suspicious):
        lines += ["", f"Suspicious sessions ({len(results.suspicious)}; flagged for you to check, not excluded):",
                  format_table(results.suspicious)]
    else:
        lines += ["", "Suspicious sessions: none (too fast, flat, same pattern, same ratings, shared address)."]
    for correlation in results.correlations:
        lines.append(
            f"Correlation with {correlation.metric} over {correlation.n_conditions} conditions: "
            f"Pearson r = {correlation.pearson_r:.3f} (p = {correlation.pearson_p:.3g}), "
            f"Spearman rho = {correlation.spearman_rho:.3f} (p = {correlation.spearman_p:.3g})"
        )
    return terminal_safe("\n".join(lines))  # crowd IDs and names are strangers' text


def export_ratings_csv(ratings: pd.DataFrame, path: str | Path) -> Path:
    """Write one row per rating (columns :data:`RATING_COLUMNS`) to ``path``; text a spreadsheet
    would run as a formula (a crowd ID ``=HYPERLINK(...)``) is written with a leading ``'``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spreadsheet_safe(ratings.reindex(columns=list(RATING_COLUMNS))).to_csv(path, index=False)
    return path


def format_table(table: pd.DataFrame) -> str:
    """A plain-text table with aligned columns (no index)."""
    if table.empty:
        return "  (none)"
    cells = [list(map(str, table.columns))] + [[_cell(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  " + "  ".join(c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(row, widths)))
                     for row in cells)


def results_figures(results: TestResults):
    """Two plotly figures: ratings per condition as box plots (raw points shown), and means with 95 % CIs."""
    import plotly.graph_objects as go

    order = list(results.conditions.index)
    box = go.Figure()
    for condition in order:
        values = results.ratings.loc[results.ratings["condition"] == condition, "rating"]
        box.add_trace(go.Box(y=values, name=condition, boxpoints="all", jitter=0.4, pointpos=0))
    box.update_layout(title="Ratings per condition", yaxis={"range": [0, 100], "title": "MUSHRA score"}, showlegend=False)
    summary = results.conditions
    intervals = go.Figure(
        go.Scatter(
            x=order,
            y=summary["mean"],
            mode="markers",
            marker={"size": 10},
            error_y={"type": "data", "symmetric": False,
                     "array": (summary["ci95_high"] - summary["mean"]).fillna(0),
                     "arrayminus": (summary["mean"] - summary["ci95_low"]).fillna(0)},
        )
    )
    intervals.update_layout(title="Mean and 95 % confidence interval",
                            yaxis={"range": [0, 100], "title": "MUSHRA score"})
    return box, intervals


def summary_display(table: pd.DataFrame) -> pd.DataFrame:
    """A per-condition (or per item and condition) summary as shown to people: the interval as
    ``low-high`` (already clipped to the scale), and a note on cells with too few raters."""
    shown = table.reset_index() if "condition" not in table.columns else table
    columns = [c for c in ("item", "condition", "kind", "n_ratings", "n_raters", "mean") if c in shown.columns]
    display = shown[columns].copy()
    display["ci95"] = [_interval_text(low, high) for low, high in zip(shown["ci95_low"], shown["ci95_high"])]
    display["median"], display["iqr"] = shown["median"], shown["iqr"]
    display["note"] = [f"fewer than {MIN_RATERS} raters" if few else "" for few in shown["few_raters"]]
    return display


def _interval_text(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"{low:.1f}-{high:.1f}"


def _comparison_display(table: pd.DataFrame) -> pd.DataFrame:
    return table[["condition_a", "condition_b", "n_pairs", "median_difference", "p_value", "p_holm", "significant"]]


def _cell(value) -> str:
    """Scores with one decimal, p-values with three (or two significant digits when tiny), NaN as -."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value == 0 or abs(value) >= 1:
            return f"{value:.1f}"
        return f"{value:.2g}" if abs(value) < 1e-3 else f"{value:.3f}"
    return str(value)
