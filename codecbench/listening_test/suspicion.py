"""Sessions that look scripted or careless: a report for the experimenter, never an automatic verdict.

Screening rules (:mod:`codecbench.listening_test.screening`) judge ratings against the hidden
reference and the anchors, which a script that spots the hidden reference passes. This report
looks at what a script finds harder to fake, and flags a session (it excludes nobody):

* **too fast**: its median trial, from the trial's audio being sent to its ratings arriving,
  is shorter than the item itself (nobody heard the reference once through);
* **flat**: every rating of every trial is the same number;
* **same pattern in every trial**: the ratings by button position are the same in every
  trial although the versions behind the buttons are shuffled per trial;
* **same ratings as another session**: two sessions rated every item they share identically;
* **shared address**: started from the same client address as other sessions of the test
  (addresses are compared as salted hashes).
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.listening_test.ratings import load_ratings, participant_name
from codecbench.storage.listening_tables import (
    ItemRow,
    ParticipantRow,
    PlayEventRow,
    SessionGuardRow,
    SessionRow,
    TrialRow,
    TrialStimulusRow,
)

SUSPICION_COLUMNS = ("participant", "trials", "median_trial_s", "item_s", "flags")
#: Sessions from one address beyond which each is flagged.
SHARED_ADDRESS_SESSIONS = 3


def suspicious_sessions(session: Session, test_id: int) -> pd.DataFrame:
    """One row per session with at least one flag (columns :data:`SUSPICION_COLUMNS`), flags as
    ``"; "``-joined sentences; empty when nothing looks suspicious."""
    timing = _trial_times(session, test_id)
    ratings = load_ratings(session, test_id)
    flags: dict[str, list[str]] = defaultdict(list)
    for participant, group in timing.groupby("participant"):
        median_s, item_s = group["trial_s"].median(), group["item_s"].median()
        if median_s < item_s:
            flags[participant].append(f"too fast: median trial {median_s:.1f} s, shorter than the item ({item_s:.1f} s)")
    for participant, group in ratings.groupby("participant"):
        if group["rating"].nunique() == 1 and len(group) > 1:
            flags[participant].append(f"flat: all {len(group)} ratings are {group['rating'].iloc[0]:g}")
        by_trial = group.groupby("trial_position").apply(
            lambda trial: tuple(trial.sort_values("label")["rating"]), include_groups=False)
        if len(by_trial) >= 2 and by_trial.nunique() == 1 and group["rating"].nunique() > 1:
            flags[participant].append(f"same pattern in every trial: {by_trial.iloc[0]} by button in all {len(by_trial)} trials")
    for participant, others in _identical_raters(ratings).items():
        flags[participant].append(f"same ratings as {', '.join(sorted(others))} on every shared item")
    for participant, count in _shared_addresses(session, test_id).items():
        flags[participant].append(f"shared address: {count} sessions of this test came from the same address")
    rows = []
    for participant in sorted(flags):
        group = timing[timing["participant"] == participant]
        rows.append({
            "participant": participant,
            "trials": int(len(group)),
            "median_trial_s": float(group["trial_s"].median()) if len(group) else float("nan"),
            "item_s": float(group["item_s"].median()) if len(group) else float("nan"),
            "flags": "; ".join(flags[participant]),
        })
    return pd.DataFrame(rows, columns=list(SUSPICION_COLUMNS))


def _trial_times(session: Session, test_id: int) -> pd.DataFrame:
    """Per submitted test trial: participant, seconds from first audio sent to submission, item length."""
    first_served = (
        select(TrialStimulusRow.trial_id, func.min(PlayEventRow.created_at).label("served_at"))
        .join(PlayEventRow, PlayEventRow.trial_stimulus_id == TrialStimulusRow.id)
        .where(PlayEventRow.kind == "served")
        .group_by(TrialStimulusRow.trial_id)
        .subquery()
    )
    rows = session.execute(
        select(ParticipantRow.external_id, ParticipantRow.id, first_served.c.served_at, TrialRow.submitted_at,
               ItemRow.num_samples, ItemRow.sample_rate_hz)
        .select_from(TrialRow)
        .join(first_served, first_served.c.trial_id == TrialRow.id)
        .join(SessionRow, SessionRow.id == TrialRow.session_id)
        .join(ParticipantRow, ParticipantRow.id == SessionRow.participant_id)
        .join(ItemRow, ItemRow.id == TrialRow.item_id)
        .where(ParticipantRow.test_id == test_id, TrialRow.submitted_at.is_not(None), TrialRow.is_training.is_(False))
    ).all()
    records = [
        {"participant": participant_name(external_id, participant_id),
         "trial_s": (_naive(submitted) - _naive(served)).total_seconds(), "item_s": num_samples / rate}
        for external_id, participant_id, served, submitted, num_samples, rate in rows
    ]
    return pd.DataFrame(records, columns=["participant", "trial_s", "item_s"])


def _identical_raters(ratings: pd.DataFrame) -> dict[str, set[str]]:
    """Participants whose ratings equal another's on every item they share (at least two items)."""
    vectors = {
        participant: group.set_index(["item", "condition"])["rating"]
        for participant, group in ratings.groupby("participant")
    }
    found: dict[str, set[str]] = defaultdict(set)
    names = sorted(vectors)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            shared = vectors[first].index.intersection(vectors[second].index)
            if shared.get_level_values("item").nunique() >= 2 and \
                    (vectors[first].loc[shared] == vectors[second].loc[shared]).all():
                found[first].add(second)
                found[second].add(first)
    return found


def _shared_addresses(session: Session, test_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ParticipantRow.external_id, ParticipantRow.id, SessionGuardRow.address_sha256)
        .select_from(SessionGuardRow)
        .join(SessionRow, SessionRow.id == SessionGuardRow.session_id)
        .join(ParticipantRow, ParticipantRow.id == SessionRow.participant_id)
        .where(ParticipantRow.test_id == test_id, SessionGuardRow.address_sha256 != "")
    ).all()
    by_address: dict[str, list[str]] = defaultdict(list)
    for external_id, participant_id, address in rows:
        by_address[address].append(participant_name(external_id, participant_id))
    return {name: len(names) for names in by_address.values() if len(names) >= SHARED_ADDRESS_SESSIONS
            for name in names}


def _naive(moment):
    """Compare datetimes whether or not the database kept their zone (all are UTC)."""
    return moment.replace(tzinfo=None)
