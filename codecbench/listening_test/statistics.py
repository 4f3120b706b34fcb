"""Statistics of MUSHRA ratings, as ITU-R BS.1534-3 §9 asks for them.

* Per condition (and per item x condition): number of ratings and of raters, mean with its 95 %
  confidence interval from the t-distribution (mean ± t(0.975, N−1)·s/√N, s the sample standard
  deviation), median, quartiles and IQR (linear interpolation between order statistics, numpy's
  default). With one rating the interval is undefined and reported as NaN. The interval is
  clipped to the rating scale (0-100): with few raters t(0.975, N-1) is large (12.7 for two)
  and the bare formula runs past the scale's ends, where no mean can lie. Cells with fewer than
  :data:`MIN_RATERS` raters are marked (``few_raters``) wherever they are shown.
* Paired comparisons: MUSHRA is a repeated-measures design, so two conditions are compared on the
  trials that rated both (one pair per assessor and item), with the Wilcoxon signed-rank test
  (two-sided; zero differences dropped, scipy's default) and Holm's step-down correction over all
  the pairs compared. A pair whose differences are all zero has no test statistic; its p-value
  is NaN and it is left out of the correction.
* Correlation of condition means with objective scores (Pearson and Spearman), for tests made
  from a scored test set.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

CONFIDENCE = 0.95
#: The MUSHRA rating scale; confidence intervals are clipped to it.
RATING_SCALE = (0.0, 100.0)
#: Fewer raters than this make a cell's mean and interval too weak to read; such cells are marked.
MIN_RATERS = 3
SUMMARY_COLUMNS = (
    "n_ratings", "n_raters", "mean", "ci95_low", "ci95_high", "median", "q1", "q3", "iqr", "few_raters",
)
COMPARISON_COLUMNS = (
    "condition_a", "condition_b", "n_pairs", "mean_difference", "median_difference",
    "statistic", "p_value", "p_holm", "significant",
)


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t-distribution confidence interval of the mean; (NaN, NaN) for fewer than two values."""
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        return math.nan, math.nan
    mean = float(data.mean())
    half_width = scipy.stats.t.ppf(0.5 + confidence / 2, data.size - 1) * data.std(ddof=1) / math.sqrt(data.size)
    return mean - half_width, mean + half_width


def describe(values: Sequence[float], raters: Sequence[str] | None = None) -> dict[str, float]:
    """The summary statistics of one set of ratings (see the module docstring)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {column: math.nan for column in SUMMARY_COLUMNS} | {"n_ratings": 0, "n_raters": 0, "few_raters": True}
    low, high = t_interval(data)
    q1, median, q3 = np.percentile(data, [25, 50, 75])
    n_raters = int(len(set(raters))) if raters is not None else int(data.size)
    return {
        "n_ratings": int(data.size),
        "n_raters": n_raters,
        "mean": float(data.mean()),
        "ci95_low": _clip_to_scale(low),
        "ci95_high": _clip_to_scale(high),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "few_raters": n_raters < MIN_RATERS,
    }


def _clip_to_scale(value: float) -> float:
    return value if math.isnan(value) else min(max(value, RATING_SCALE[0]), RATING_SCALE[1])


def condition_summary(table: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per condition (index ``condition``) with ``kind`` and :data:`SUMMARY_COLUMNS`."""
    conditions = _order(table, order)
    rows = []
    for condition in conditions:
        ratings = table[table["condition"] == condition]
        kind = ratings["kind"].iloc[0] if len(ratings) else ""
        rows.append({"condition": condition, "kind": kind, **describe(ratings["rating"], ratings["participant"])})
    return pd.DataFrame(rows, columns=["condition", "kind", *SUMMARY_COLUMNS]).set_index("condition")


def item_condition_summary(table: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per item and condition (BS.1534-3: do not pool items blindly)."""
    rows = []
    for item in dict.fromkeys(table["item"]):
        for condition in _order(table, order):
            ratings = table[(table["item"] == item) & (table["condition"] == condition)]
            if len(ratings):
                rows.append({"item": item, "condition": condition,
                             **describe(ratings["rating"], ratings["participant"])})
    return pd.DataFrame(rows, columns=["item", "condition", *SUMMARY_COLUMNS]).set_index(["item", "condition"])


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaNs stay NaN and are not counted in the family)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    running_max = 0.0
    for rank, index in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running_max = max(running_max, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running_max
    return adjusted


def paired_comparisons(
    table: pd.DataFrame, order: Sequence[str] | None = None, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Wilcoxon signed-rank tests between every two conditions, Holm-corrected (see module docstring).

    ``mean_difference`` and ``median_difference`` are condition_a minus condition_b.
    """
    wide = table.pivot_table(index=["participant", "item"], columns="condition", values="rating", aggfunc="mean")
    rows = []
    for a, b in itertools.combinations(_order(table, order), 2):
        pairs = wide[[a, b]].dropna()
        differences = (pairs[a] - pairs[b]).to_numpy()
        statistic = p_value = math.nan
        if np.any(differences != 0):
            result = scipy.stats.wilcoxon(pairs[a], pairs[b])
            statistic, p_value = float(result.statistic), float(result.pvalue)
        rows.append({
            "condition_a": a,
            "condition_b": b,
            "n_pairs": int(differences.size),
            "mean_difference": float(differences.mean()) if differences.size else math.nan,
            "median_difference": float(np.median(differences)) if differences.size else math.nan,
            "statistic": statistic,
            "p_value": p_value,
        })
    result = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS[:-2]))
    result["p_holm"] = holm(result["p_value"].to_numpy()) if len(result) else []
    result["significant"] = result["p_holm"] < alpha
    return result


@dataclass(frozen=True)
class ObjectiveCorrelation:
    """How condition means follow an objective metric across conditions."""

    metric: str
    n_conditions: int
    pearson_r: float
    pearson_p: float
    spearman_rho: float
    spearman_p: float


def correlate_with_objective(means: pd.Series, scores: pd.Series, metric: str) -> ObjectiveCorrelation:
    """Pearson and Spearman correlation of MUSHRA means with objective scores, over shared conditions.

    Fewer than three shared conditions give NaN (no meaningful correlation).
    """
    shared = means.index.intersection(scores.index)
    x, y = means.loc[shared].to_numpy(float), scores.loc[shared].to_numpy(float)
    if len(shared) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return ObjectiveCorrelation(metric, len(shared), math.nan, math.nan, math.nan, math.nan)
    pearson = scipy.stats.pearsonr(x, y)
    spearman = scipy.stats.spearmanr(x, y)
    return ObjectiveCorrelation(
        metric, len(shared), float(pearson.statistic), float(pearson.pvalue),
        float(spearman.statistic), float(spearman.pvalue),
    )


def _order(table: pd.DataFrame, order: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(table["condition"]))
    if order is None:
        return present
    return [c for c in order if c in present] + [c for c in present if c not in order]
