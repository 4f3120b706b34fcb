"""Screening rules on hand-made rating tables."""

from __future__ import annotations

import pandas as pd
import pytest

from codecbench.listening_test.screening import (
    SCREENING_RULES,
    BS1534LowAnchorScreening,
    BS1534Screening,
    EnCodecScreening,
    NoScreening,
    screening_report,
    screening_rule,
)
from codecbench.listening_test.screening_names import SCREENING_RULE_NAMES


def table(assessors: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    """assessor -> kind -> one rating per item (item i gets the i-th value)."""
    kinds = {"reference": "reference", "anchor_low": "lowpass_3500", "anchor_mid": "lowpass_7000", "system": "opus@6"}
    rows = []
    for assessor, by_kind in assessors.items():
        for kind, values in by_kind.items():
            for index, value in enumerate(values):
                rows.append({"participant": assessor, "item": f"item{index}", "condition": kinds[kind],
                             "kind": kind, "rating": float(value), "training": False})
    return pd.DataFrame(rows)


GOOD = {"reference": [100] * 10, "anchor_low": [20] * 10, "anchor_mid": [60] * 10, "system": [70] * 10}


def test_a_single_low_reference_rating_excludes_nobody_under_bs1534():
    """pyMUSHRA drops an assessor after one reference rating below 90; the standard says > 15 % of items."""
    one_slip = {**GOOD, "reference": [100, 100, 85, 100, 100, 100, 100, 100, 100, 100]}
    result = BS1534Screening().screen(table({"A": GOOD, "B": one_slip}))
    assert result.excluded == {}
    assert result.kept_assessors == ("A", "B")


def test_two_low_reference_ratings_in_ten_items_exclude_under_bs1534():
    two_slips = {**GOOD, "reference": [100, 80, 85, 100, 100, 100, 100, 100, 100, 100]}
    result = BS1534Screening().screen(table({"A": GOOD, "B": two_slips}))
    assert list(result.excluded) == ["B"]
    assert result.excluded["B"] == ("hidden reference < 90 in 2 of 10 items (20% > 15%)",)


def test_fractions_are_taken_over_the_items_each_assessor_rated():
    # One low rating in five items is 20 % (> 15 %): excluded, even though the same slip in ten would not be.
    five_items = {kind: values[:5] for kind, values in GOOD.items()}
    five_items["reference"] = [100, 100, 80, 100, 100]
    result = BS1534Screening().screen(table({"A": GOOD, "B": five_items}))
    assert list(result.excluded) == ["B"]


def test_the_mid_anchor_rule_excludes_an_assessor_who_cannot_hear_the_anchor():
    deaf_to_anchor = {**GOOD, "anchor_mid": [95, 95, 60, 60, 60, 60, 60, 60, 60, 60]}
    others = {f"ok{i}": GOOD for i in range(7)}
    result = BS1534Screening().screen(table({**others, "X": deaf_to_anchor}))
    assert list(result.excluded) == ["X"]
    assert "mid anchor > 90 in 2 of 10 usable items" in result.excluded["X"][0]
    assert result.unused_items == {}


def test_the_25_percent_guard_takes_an_item_out_of_the_mid_anchor_rule():
    # On item0 three of eight assessors (37.5 % > 25 %) rate the mid anchor above 90: item0 is not used.
    def high_on(items):
        return {**GOOD, "anchor_mid": [95 if i in items else 60 for i in range(10)]}
    ratings = table({"A": high_on({0, 1}), "B": high_on({0}), "C": high_on({0}),
                     **{f"ok{i}": GOOD for i in range(5)}})
    result = BS1534Screening().screen(ratings)
    assert list(result.unused_items) == ["item0"]
    assert "38% of its 8 assessor(s) rate the mid anchor above 90" in result.unused_items["item0"]
    # Without item0, A has one high rating in 9 usable items (11 %): kept. With the guard off, A is excluded.
    assert result.excluded == {}
    unguarded = BS1534Screening(item_guard_fraction=1.0).screen(ratings)
    assert list(unguarded.excluded) == ["A"]


def test_the_encodec_rule_uses_at_least_20_percent_and_more_than_half():
    exactly_20 = {**GOOD, "reference": [80, 80] + [100] * 8}
    half_low_anchor = {**GOOD, "anchor_low": [90] * 5 + [20] * 5}
    most_low_anchor = {**GOOD, "anchor_low": [90] * 6 + [20] * 4}
    result = EnCodecScreening().screen(table({"A": GOOD, "R": exactly_20, "H": half_low_anchor, "M": most_low_anchor}))
    assert list(result.excluded) == ["R", "M"]
    assert result.excluded["R"] == ("reference < 90 in 2 of 10 cases (20% >= 20%)",)
    assert result.excluded["M"] == ("low anchor > 80 in 6 of 10 cases (60% > 50%)",)
    # BS.1534-3 has no low-anchor criterion: it keeps H and M.
    assert list(BS1534Screening().screen(table({"H": half_low_anchor, "M": most_low_anchor})).excluded) == []


def test_thresholds_are_configurable_by_name():
    strict = screening_rule("bs1534", {"reference_below": 101})
    assert isinstance(strict, BS1534Screening) and strict.reference_below == 101
    assert list(strict.screen(table({"A": GOOD})).excluded) == ["A"]
    with pytest.raises(ValueError, match="has no threshold reference_bellow; its thresholds are: reference_below"):
        screening_rule("bs1534", {"reference_bellow": 80})
    with pytest.raises(ValueError, match="unknown screening rule 'itu'; choose one of none, bs1534, bs1534-low-anchor, encodec"):
        screening_rule("itu")
    with pytest.raises(ValueError, match="is a fraction between 0 and 1"):
        screening_rule("encodec", {"low_anchor_max_fraction": 50})


def test_screening_keeps_the_unscreened_data_and_reports_every_rule():
    ratings = table({"A": GOOD, "B": {**GOOD, "reference": [50] * 10, "anchor_low": [95] * 10}})
    results = {r.rule: r for r in screening_report(ratings)}
    assert list(results) == ["none", "bs1534", "bs1534-low-anchor", "encodec"]
    assert results["none"].excluded == {}
    assert list(results["encodec"].excluded["B"]) == [
        "reference < 90 in 10 of 10 cases (100% >= 20%)", "low anchor > 80 in 10 of 10 cases (100% > 50%)"]
    kept = results["bs1534"].kept(ratings)
    assert set(kept["participant"]) == {"A"} and len(ratings) == 80  # the input is untouched
    assert "excluded 1 of 2 assessor(s)" in results["bs1534"].summary()


def test_a_test_without_anchors_says_which_criteria_were_not_applied():
    ratings = table({"A": {"system": [50] * 4}})
    result = BS1534Screening().screen(ratings)
    assert result.excluded == {} and len(result.notes) == 2
    assert NoScreening().screen(ratings).kept_assessors == ("A",)


def test_with_two_assessors_the_guard_is_reported_for_whom_it_switched_the_mid_anchor_criterion_off():
    """One of two assessors is 50 % of an item's assessors: the guard takes every item they rated
    the mid anchor high on out of the criterion. The result says so instead of keeping them silently."""
    everything_100 = {"reference": [100] * 3, "anchor_low": [100] * 3, "anchor_mid": [100] * 3, "system": [100] * 3}
    careful = {kind: values[:3] for kind, values in GOOD.items()}
    result = BS1534Screening().screen(table({"careful": careful, "all100": everything_100}))
    assert result.excluded == {} and set(result.unused_items) == {"item0", "item1", "item2"}
    assert result.flags["all100"][0] == (
        "mid-anchor criterion switched off by the item guard on 3 of their 3 items "
        "(they rate the mid anchor > 90 on 3 of those)")
    assert "low anchor > 90 in 3 of 3 items (100% > 15%): not a BS.1534 criterion" in result.flags["all100"][1]
    assert any("guarded with fewer than 5 assessors" in note for note in result.notes)
    assert "! all100 (kept): mid-anchor criterion switched off" in result.summary()
    # The careful assessor also rated those items, so the guard switched the criterion off for them too.
    assert result.flags["careful"] == (
        "mid-anchor criterion switched off by the item guard on 3 of their 3 items "
        "(they rate the mid anchor > 90 on 0 of those)",)


def test_the_low_anchor_rule_excludes_an_assessor_who_rates_the_low_anchor_high():
    everything_100 = {"reference": [100] * 3, "anchor_low": [100] * 3, "anchor_mid": [100] * 3, "system": [100] * 3}
    careful = {kind: values[:3] for kind, values in GOOD.items()}
    one_slip = {**careful, "anchor_low": [95, 20, 20]}  # 33 % of items > 15 %
    ratings = table({"careful": careful, "all100": everything_100, "slip": one_slip})
    rule = screening_rule("bs1534-low-anchor")
    assert isinstance(rule, BS1534LowAnchorScreening)
    result = rule.screen(ratings)
    assert result.excluded == {"all100": ("low anchor > 90 in 3 of 3 items (100% > 15%)",),
                               "slip": ("low anchor > 90 in 1 of 3 items (33% > 15%)",)}
    assert "or low anchor > 90 for more than 15% of items" in result.description
    relaxed = screening_rule("bs1534-low-anchor", {"low_anchor_max_fraction": 0.5}).screen(ratings)
    assert list(relaxed.excluded) == ["all100"]


def test_a_test_without_a_low_anchor_says_the_low_anchor_rule_was_not_applied():
    ratings = table({"A": {"reference": [100] * 4, "system": [50] * 4}})
    result = BS1534LowAnchorScreening().screen(ratings)
    assert "the test has no low anchor: the low-anchor criterion was not applied." in result.notes


def test_the_command_line_offers_every_screening_rule():
    assert tuple(SCREENING_RULES) == SCREENING_RULE_NAMES


def test_the_headphone_trial_count_matches_the_check():
    from codecbench.listening_test.headphone_check import NUM_TRIALS
    from codecbench.listening_test.screening import NUM_HEADPHONE_TRIALS

    assert NUM_HEADPHONE_TRIALS == NUM_TRIALS
