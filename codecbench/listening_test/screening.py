"""Post-screening of assessors: switchable rules, each reporting whom it excludes and why.

Screening never deletes anything: a rule returns a :class:`ScreeningResult` (who is excluded,
for which reason, and which items it did not use), and :meth:`ScreeningResult.kept` filters a
rating table. Fractions are taken over the items an assessor rated (test trials only), so a
participant who rates a random subset of items is judged on that subset.

Rules:

* ``bs1534`` (ITU-R BS.1534-3 §4.1.2): exclude an assessor who rates the hidden reference
  below 90 for more than 15 % of their items, or the mid anchor above 90 for more than 15 % of
  their items. An item where more than 25 % of its assessors rate the mid anchor above 90 is
  not used for the mid-anchor criterion (the anchor may not degrade that item enough).
  With few assessors that guard is coarse (of two, one alone is 50 %), so the result says, for
  each assessor, on how many of their items a guard switched the criterion off, and flags an
  assessor who rates the low anchor as high as the mid-anchor criterion forbids (BS.1534 has no
  low-anchor criterion; the flag excludes nobody).
* ``bs1534-low-anchor``: ``bs1534`` plus that low-anchor criterion (low anchor above 90 for
  more than 15 % of items, no item guard: the 3.5 kHz anchor is always clearly degraded).
* ``encodec`` (Défossez et al. 2022, crowd MUSHRA): exclude an annotator who rates the
  reference below 90 in at least 20 % of cases, or the low anchor above 80 in more than 50 %.
* ``none``: keeps everyone.

pyMUSHRA's filter drops an assessor after a single hidden-reference rating below 90 because it
counts the whole boolean series instead of its true entries; here the count is the number of
items that break the threshold, compared with the stated fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import pandas as pd

from codecbench.listening_test import screening_names

#: Trials of the headphone check (codecbench.listening_test.headphone_check.NUM_TRIALS; not
#: imported from there, which needs the database layer).
NUM_HEADPHONE_TRIALS = 6


@dataclass(frozen=True)
class ScreeningResult:
    """What one rule decided.

    Attributes:
        rule: the rule's name (``bs1534``, ``encodec``, ``none``).
        description: the rule with its thresholds, in words.
        assessors: everyone the rule looked at.
        excluded: assessor -> the reasons they are excluded.
        unused_items: items the rule did not use for a criterion (with the reason).
        notes: criteria that could not be applied (e.g. the test has no mid anchor).
        flags: assessor -> what the rule noticed without excluding them for it: criteria an item
            guard switched off on their items, a criterion outside the rule they would break.
    """

    rule: str
    description: str
    assessors: tuple[str, ...]
    excluded: dict[str, tuple[str, ...]]
    unused_items: dict[str, str]
    notes: tuple[str, ...] = ()
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def kept_assessors(self) -> tuple[str, ...]:
        return tuple(a for a in self.assessors if a not in self.excluded)

    def kept(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``table`` from assessors this rule keeps."""
        return table[~table["participant"].isin(list(self.excluded))].reset_index(drop=True)

    def summary(self) -> str:
        """One paragraph: how many are excluded, who, and why."""
        lines = [f"{self.rule}: {self.description}",
                 f"  excluded {len(self.excluded)} of {len(self.assessors)} assessor(s)"]
        for assessor, reasons in self.excluded.items():
            lines.append(f"  - {assessor}: {'; '.join(reasons)}")
        for assessor, flags in self.flags.items():
            decision = "excluded" if assessor in self.excluded else "kept"
            lines.append(f"  ! {assessor} ({decision}): {'; '.join(flags)}")
        for item, reason in self.unused_items.items():
            lines.append(f"  item {item} not used: {reason}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class NoScreening:
    name = screening_names.NO_SCREENING

    def describe(self) -> str:
        return "no post-screening; every assessor is kept."

    def screen(self, table: pd.DataFrame) -> ScreeningResult:
        return ScreeningResult(self.name, self.describe(), _assessors(table), {}, {})


@dataclass(frozen=True)
class BS1534Screening:
    """ITU-R BS.1534-3 post-screening (see the module docstring); thresholds are configurable."""

    reference_below: float = 90.0
    reference_max_fraction: float = 0.15
    mid_anchor_above: float = 90.0
    mid_anchor_max_fraction: float = 0.15
    item_guard_fraction: float = 0.25
    low_anchor_above: float = 90.0
    low_anchor_max_fraction: float = 0.15
    name = screening_names.BS1534
    #: Whether the low-anchor criterion excludes (``bs1534-low-anchor``) or only flags (``bs1534``).
    excludes_on_low_anchor = False

    def describe(self) -> str:
        text = (
            f"ITU-R BS.1534-3: hidden reference < {self.reference_below:g} for more than "
            f"{self.reference_max_fraction:.0%} of items, or mid anchor > {self.mid_anchor_above:g} for more "
            f"than {self.mid_anchor_max_fraction:.0%} of items (items where more than "
            f"{self.item_guard_fraction:.0%} of assessors do so are not used)"
        )
        if self.excludes_on_low_anchor:
            return text + (f", or low anchor > {self.low_anchor_above:g} for more than "
                           f"{self.low_anchor_max_fraction:.0%} of items (not in BS.1534; no item guard).")
        return text + "."

    def screen(self, table: pd.DataFrame) -> ScreeningResult:
        excluded: dict[str, list[str]] = {}
        flags: dict[str, list[str]] = {}
        notes = []
        unused: dict[str, str] = {}

        reference = _per_item(table, "reference")
        if reference.empty:
            notes.append("the test has no hidden reference: the reference criterion was not applied.")
        for assessor, ratings in reference.groupby("participant"):
            low = ratings["rating"] < self.reference_below
            if low.sum() > self.reference_max_fraction * len(ratings):
                excluded.setdefault(assessor, []).append(
                    f"hidden reference < {self.reference_below:g} in {low.sum()} of {len(ratings)} items "
                    f"({low.mean():.0%} > {self.reference_max_fraction:.0%})"
                )

        mid = _per_item(table, "anchor_mid")
        if mid.empty:
            notes.append("the test has no mid anchor: the mid-anchor criterion was not applied.")
        else:
            self._screen_mid_anchor(mid, excluded, flags, unused, notes)
        self._screen_low_anchor(_per_item(table, "anchor_low"), excluded, flags, notes)
        return _result(self, table, excluded, unused, notes, flags)

    def _screen_mid_anchor(self, mid: pd.DataFrame, excluded: dict, flags: dict, unused: dict, notes: list) -> None:
        mid = mid.assign(high=mid["rating"] > self.mid_anchor_above)
        by_item = mid.groupby("item")["high"]
        share_high, raters = by_item.mean(), by_item.size()
        guarded = share_high[share_high > self.item_guard_fraction]
        for item, share in guarded.items():
            unused[item] = (
                f"{share:.0%} of its {raters[item]} assessor(s) rate the mid anchor above {self.mid_anchor_above:g} "
                f"(more than {self.item_guard_fraction:.0%}), so it is not used for the mid-anchor criterion"
            )
        # With fewer assessors than this on an item, one assessor alone is more than the guard's share.
        coarse = [item for item in guarded.index if raters[item] * self.item_guard_fraction < 1]
        if coarse:
            notes.append(
                f"{len(coarse)} item(s) were guarded with fewer than {math.floor(1 / self.item_guard_fraction) + 1} "
                f"assessors, where one assessor alone is more than {self.item_guard_fraction:.0%}: "
                "the guard may hide an assessor who cannot hear the mid anchor (see the flags)."
            )
        in_guarded = mid["item"].isin(list(guarded.index))
        for assessor, ratings in mid[in_guarded].groupby("participant"):
            total = int((mid["participant"] == assessor).sum())
            flags.setdefault(assessor, []).append(
                f"mid-anchor criterion switched off by the item guard on {len(ratings)} of their {total} items "
                f"(they rate the mid anchor > {self.mid_anchor_above:g} on {int(ratings['high'].sum())} of those)"
            )
        for assessor, ratings in mid[~in_guarded].groupby("participant"):
            if ratings["high"].sum() > self.mid_anchor_max_fraction * len(ratings):
                excluded.setdefault(assessor, []).append(
                    f"mid anchor > {self.mid_anchor_above:g} in {ratings['high'].sum()} of {len(ratings)} "
                    f"usable items ({ratings['high'].mean():.0%} > {self.mid_anchor_max_fraction:.0%})"
                )

    def _screen_low_anchor(self, low: pd.DataFrame, excluded: dict, flags: dict, notes: list) -> None:
        if low.empty:
            if self.excludes_on_low_anchor:
                notes.append("the test has no low anchor: the low-anchor criterion was not applied.")
            return
        for assessor, ratings in low.groupby("participant"):
            high = ratings["rating"] > self.low_anchor_above
            if high.sum() <= self.low_anchor_max_fraction * len(ratings):
                continue
            finding = (f"low anchor > {self.low_anchor_above:g} in {high.sum()} of {len(ratings)} items "
                       f"({high.mean():.0%} > {self.low_anchor_max_fraction:.0%})")
            if self.excludes_on_low_anchor:
                excluded.setdefault(assessor, []).append(finding)
            else:
                flags.setdefault(assessor, []).append(
                    f"{finding}: not a BS.1534 criterion; the bs1534-low-anchor rule excludes this")


@dataclass(frozen=True)
class BS1534LowAnchorScreening(BS1534Screening):
    """``bs1534`` that also excludes on the low anchor (see the module docstring)."""

    name = screening_names.BS1534_LOW_ANCHOR
    excludes_on_low_anchor = True


@dataclass(frozen=True)
class EnCodecScreening:
    """EnCodec's crowd rule (see the module docstring); thresholds are configurable."""

    reference_below: float = 90.0
    reference_min_fraction: float = 0.20
    low_anchor_above: float = 80.0
    low_anchor_max_fraction: float = 0.50
    name = screening_names.ENCODEC

    def describe(self) -> str:
        return (
            f"EnCodec crowd rule: reference < {self.reference_below:g} in at least "
            f"{self.reference_min_fraction:.0%} of cases, or low anchor > {self.low_anchor_above:g} in more than "
            f"{self.low_anchor_max_fraction:.0%} of cases."
        )

    def screen(self, table: pd.DataFrame) -> ScreeningResult:
        excluded: dict[str, list[str]] = {}
        notes = []
        reference = _per_item(table, "reference")
        if reference.empty:
            notes.append("the test has no hidden reference: the reference criterion was not applied.")
        for assessor, ratings in reference.groupby("participant"):
            low = ratings["rating"] < self.reference_below
            if low.sum() >= self.reference_min_fraction * len(ratings) and low.sum() > 0:
                excluded.setdefault(assessor, []).append(
                    f"reference < {self.reference_below:g} in {low.sum()} of {len(ratings)} cases "
                    f"({low.mean():.0%} >= {self.reference_min_fraction:.0%})"
                )
        anchor = _per_item(table, "anchor_low")
        if anchor.empty:
            notes.append("the test has no low anchor: the low-anchor criterion was not applied.")
        for assessor, ratings in anchor.groupby("participant"):
            high = ratings["rating"] > self.low_anchor_above
            if high.sum() > self.low_anchor_max_fraction * len(ratings):
                excluded.setdefault(assessor, []).append(
                    f"low anchor > {self.low_anchor_above:g} in {high.sum()} of {len(ratings)} cases "
                    f"({high.mean():.0%} > {self.low_anchor_max_fraction:.0%})"
                )
        return _result(self, table, excluded, {}, notes)


ScreeningRule = NoScreening | BS1534Screening | BS1534LowAnchorScreening | EnCodecScreening
SCREENING_RULES: dict[str, type] = {
    rule.name: rule for rule in (NoScreening, BS1534Screening, BS1534LowAnchorScreening, EnCodecScreening)
}
assert tuple(SCREENING_RULES) == screening_names.SCREENING_RULE_NAMES, "a rule is missing from screening_names"


def screening_rule(name: str, thresholds: dict[str, float] | None = None) -> ScreeningRule:
    """The rule called ``name`` with some thresholds changed.

    Raises:
        ValueError: unknown rule or threshold; the message lists what exists.
    """
    if name not in SCREENING_RULES:
        raise ValueError(f"unknown screening rule {name!r}; choose one of {', '.join(SCREENING_RULES)}.")
    rule = SCREENING_RULES[name]()
    if not thresholds:
        return rule
    allowed = [f.name for f in fields(rule)]
    unknown = sorted(set(thresholds) - set(allowed))
    if unknown:
        raise ValueError(
            f"screening rule {name} has no threshold {', '.join(unknown)}; "
            f"its thresholds are: {', '.join(allowed) or 'none'}."
        )
    for key, value in thresholds.items():
        if key.endswith("fraction") and not 0 <= value <= 1:
            raise ValueError(f"{key} is a fraction between 0 and 1, got {value:g}.")
    return replace(rule, **thresholds)


def screening_report(table: pd.DataFrame) -> list[ScreeningResult]:
    """Every rule with its default thresholds, applied to the same table."""
    return [rule().screen(table) for rule in SCREENING_RULES.values()]


def require_headphone_check(result: ScreeningResult, table: pd.DataFrame) -> ScreeningResult:
    """``result`` with every assessor who failed the headphone check excluded too.

    The check is the antiphase test (:mod:`codecbench.listening_test.headphone_check`), read
    from the rating table's ``headphone_check`` column; an assessor without a result (the test
    has no check) is kept. Combines with any rule, as a switch of its own.
    """
    if "headphone_check" not in table.columns:
        return result
    by_assessor = table.drop_duplicates("participant").set_index("participant")
    excluded = {assessor: list(reasons) for assessor, reasons in result.excluded.items()}
    notes = list(result.notes)
    if not (by_assessor["headphone_check"] != "").any():
        notes.append("nobody has a headphone check result: the headphone criterion was not applied.")
    for assessor in result.assessors:
        if by_assessor.at[assessor, "headphone_check"] == "failed":
            correct = by_assessor.at[assessor, "headphone_correct"]
            score = "" if pd.isna(correct) else f" ({int(correct)} of {NUM_HEADPHONE_TRIALS} right)"
            excluded.setdefault(assessor, []).append(f"failed the headphone check{score}")
    ordered = {a: tuple(excluded[a]) for a in result.assessors if a in excluded}
    return replace(result, rule=f"{result.rule} + headphones",
                   description=f"{result.description} Also: who failed the headphone check is excluded.",
                   excluded=ordered, notes=tuple(notes))


def _per_item(table: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The ratings of one condition kind, one per assessor and item (test trials only)."""
    rows = table[(table["kind"] == kind) & ~table.get("training", pd.Series(False, index=table.index)).astype(bool)]
    return rows[["participant", "item", "rating"]]


def _assessors(table: pd.DataFrame) -> tuple[str, ...]:
    return tuple(dict.fromkeys(table["participant"]))


def _result(
    rule, table: pd.DataFrame, excluded: dict[str, list[str]], unused: dict[str, str], notes: list[str],
    flags: dict[str, list[str]] | None = None,
) -> ScreeningResult:
    assessors = _assessors(table)
    ordered = {a: tuple(excluded[a]) for a in assessors if a in excluded}
    flagged = {a: tuple(flags[a]) for a in assessors if flags and a in flags}
    return ScreeningResult(rule.name, rule.describe(), assessors, ordered, unused, tuple(notes), flagged)
