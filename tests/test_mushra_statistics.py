"""Statistics of MUSHRA ratings, checked against scipy and numpy computed independently."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from codecbench.listening_test.statistics import (
    condition_summary,
    correlate_with_objective,
    holm,
    item_condition_summary,
    paired_comparisons,
    t_interval,
)


@pytest.fixture
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    means = {"reference": 97, "lowpass_3500": 25, "opus@6": 62, "opus@8": 66}
    for assessor in range(12):
        for item in range(4):
            for condition, mean in means.items():
                value = float(np.clip(np.round(mean + rng.normal(0, 9)), 0, 100))
                rows.append({"participant": f"P{assessor}", "item": f"i{item}", "condition": condition,
                             "kind": "system", "rating": value})
    return pd.DataFrame(rows)


def test_t_interval_matches_scipy():
    values = [55, 61, 70, 48, 66, 59, 73]
    low, high = t_interval(values)
    expected = scipy.stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=scipy.stats.sem(values))
    assert (low, high) == pytest.approx(expected, rel=1e-12)
    assert all(math.isnan(v) for v in t_interval([50]))


def test_condition_summary_matches_numpy_and_scipy(ratings):
    summary = condition_summary(ratings, order=["reference", "lowpass_3500", "opus@6", "opus@8"])
    assert list(summary.index) == ["reference", "lowpass_3500", "opus@6", "opus@8"]
    for condition, row in summary.iterrows():
        values = ratings.loc[ratings["condition"] == condition, "rating"].to_numpy()
        assert row["n_ratings"] == 48 and row["n_raters"] == 12
        assert row["mean"] == pytest.approx(values.mean())
        expected = scipy.stats.t.interval(0.95, values.size - 1, loc=values.mean(), scale=scipy.stats.sem(values))
        assert (row["ci95_low"], row["ci95_high"]) == pytest.approx(expected)
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        assert (row["q1"], row["median"], row["q3"], row["iqr"]) == pytest.approx((q1, median, q3, q3 - q1))


def test_item_condition_summary_has_one_row_per_pair(ratings):
    per_item = item_condition_summary(ratings)
    assert len(per_item) == 16
    row = per_item.loc[("i2", "opus@6")]
    values = ratings[(ratings["item"] == "i2") & (ratings["condition"] == "opus@6")]["rating"]
    assert row["n_ratings"] == 12 and row["mean"] == pytest.approx(values.mean())


def test_holm_matches_the_textbook_procedure():
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    # Sorted valid p: 0.005, 0.01, 0.03, 0.04 with m = 4 -> 0.02, 0.03, 0.06, 0.06 (monotone).
    assert holm(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(holm(p)[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_paired_comparisons_are_wilcoxon_on_matched_trials_with_holm(ratings):
    comparisons = paired_comparisons(ratings, order=["reference", "lowpass_3500", "opus@6", "opus@8"])
    assert len(comparisons) == 6
    wide = ratings.pivot_table(index=["participant", "item"], columns="condition", values="rating")
    for _, row in comparisons.iterrows():
        expected = scipy.stats.wilcoxon(wide[row["condition_a"]], wide[row["condition_b"]])
        assert row["n_pairs"] == 48
        assert row["statistic"] == pytest.approx(expected.statistic)
        assert row["p_value"] == pytest.approx(expected.pvalue)
        assert row["mean_difference"] == pytest.approx((wide[row["condition_a"]] - wide[row["condition_b"]]).mean())
    np.testing.assert_allclose(comparisons["p_holm"], holm(comparisons["p_value"]))
    by_pair = comparisons.set_index(["condition_a", "condition_b"])
    assert by_pair.loc[("reference", "lowpass_3500"), "significant"]


def test_pairs_with_only_zero_differences_have_no_p_value():
    rows = [{"participant": f"P{i}", "item": "x", "condition": c, "kind": "system", "rating": 50.0}
            for i in range(5) for c in ("a", "b")]
    comparisons = paired_comparisons(pd.DataFrame(rows))
    assert comparisons.loc[0, "n_pairs"] == 5
    assert math.isnan(comparisons.loc[0, "p_value"]) and math.isnan(comparisons.loc[0, "p_holm"])
    assert not comparisons.loc[0, "significant"]


def test_correlation_with_objective_scores_matches_scipy():
    means = pd.Series({"a": 20.0, "b": 45.0, "c": 61.0, "d": 88.0})
    scores = pd.Series({"a": 1.4, "b": 2.2, "c": 3.5, "d": 4.1, "unrated": 2.0})
    result = correlate_with_objective(means, scores, "pesq_wb")
    assert result.n_conditions == 4
    assert result.pearson_r == pytest.approx(scipy.stats.pearsonr([20, 45, 61, 88], [1.4, 2.2, 3.5, 4.1]).statistic)
    assert result.spearman_rho == pytest.approx(1.0)
    assert math.isnan(correlate_with_objective(means[:2], scores, "pesq_wb").pearson_r)


def test_intervals_are_clipped_to_the_scale_and_cells_with_few_raters_are_marked():
    """Two raters at 50 and 90: the bare t-interval is 70 ± 254 (t(0.975, 1) = 12.7); the scale ends at 0 and 100."""
    from codecbench.listening_test.report import summary_display

    two = pd.DataFrame({"participant": ["A", "B"], "item": ["i0", "i0"], "condition": ["opus@6"] * 2,
                        "kind": ["system"] * 2, "rating": [50.0, 90.0]})
    bare_low, bare_high = t_interval([50.0, 90.0])
    assert bare_low < -100 and bare_high > 200
    row = condition_summary(two).loc["opus@6"]
    assert (row["ci95_low"], row["ci95_high"]) == (0.0, 100.0)
    assert bool(row["few_raters"]) is True and row["n_raters"] == 2
    shown = summary_display(item_condition_summary(two)).iloc[0]
    assert (shown["item"], shown["n_raters"], shown["ci95"], shown["note"]) == ("i0", 2, "0.0-100.0", "fewer than 3 raters")


def test_cells_with_three_raters_are_not_marked(ratings):
    from codecbench.listening_test.report import summary_display

    three = ratings[ratings["participant"].isin(["P0", "P1", "P2"])]
    summary = condition_summary(three)
    assert not summary["few_raters"].any()
    assert set(summary_display(summary)["note"]) == {""}
