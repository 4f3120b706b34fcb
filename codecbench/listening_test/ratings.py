"""Reading what participants did out of SQL: the rating table every analysis starts from, and progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.listening_test.design import find_test
from codecbench.listening_test.flow import LABELS
from codecbench.storage.listening_tables import (
    ConditionRow,
    HeadphoneCheckRow,
    ItemRow,
    ParticipantAnswersRow,
    ParticipantRow,
    RatingRow,
    SessionRow,
    StimulusRow,
    TrialRow,
    TrialStimulusRow,
)

# One row per rating. ``participant`` is the crowd ID, or ``P<number>`` for lab participants.
# The participant's headphone check (``passed``, ``failed``, empty: not taken or not part of the
# test) and questionnaire answers (empty: not asked or not answered) repeat on each of their rows.
RATING_COLUMNS = (
    "test_id", "participant", "item", "condition", "kind", "rating", "training",
    "trial_position", "label", "submitted_at", "stimulus_sha256",
    "headphone_check", "headphone_correct", "age_range", "hearing_problems", "device",
)


def participant_name(external_id: str | None, participant_id: int) -> str:
    return external_id if external_id else f"P{participant_id}"


def load_ratings(session: Session, test_id: int, *, include_training: bool = False) -> pd.DataFrame:
    """Every stored rating of a test (training trials left out unless asked), in condition order.

    Raises:
        TestNotFoundError: no such test.
    """
    find_test(session, test_id)
    query = (
        select(
            ParticipantRow.external_id, ParticipantRow.id, ItemRow.name, ConditionRow.name, ConditionRow.kind,
            RatingRow.value, TrialRow.is_training, TrialRow.position, TrialStimulusRow.slot,
            TrialRow.submitted_at, StimulusRow.sha256, ConditionRow.position,
            HeadphoneCheckRow.passed, HeadphoneCheckRow.num_correct, ParticipantAnswersRow.age_range,
            ParticipantAnswersRow.hearing_problems, ParticipantAnswersRow.device,
        )
        .select_from(RatingRow)
        .join(TrialStimulusRow, TrialStimulusRow.id == RatingRow.trial_stimulus_id)
        .join(TrialRow, TrialRow.id == TrialStimulusRow.trial_id)
        .join(SessionRow, SessionRow.id == TrialRow.session_id)
        .join(ParticipantRow, ParticipantRow.id == SessionRow.participant_id)
        .join(StimulusRow, StimulusRow.id == TrialStimulusRow.stimulus_id)
        .join(ItemRow, ItemRow.id == StimulusRow.item_id)
        .join(ConditionRow, ConditionRow.id == StimulusRow.condition_id)
        .outerjoin(HeadphoneCheckRow, HeadphoneCheckRow.session_id == SessionRow.id)
        .outerjoin(ParticipantAnswersRow, ParticipantAnswersRow.session_id == SessionRow.id)
        .where(ParticipantRow.test_id == test_id)
    )
    if not include_training:
        query = query.where(TrialRow.is_training.is_(False))
    rows = session.execute(query.order_by(ParticipantRow.id, TrialRow.position, TrialStimulusRow.slot)).all()
    records = [
        {
            "test_id": test_id,
            "participant": participant_name(external_id, participant_id),
            "item": item,
            "condition": condition,
            "kind": kind,
            "rating": float(value),
            "training": bool(training),
            "trial_position": position,
            "label": LABELS[slot - 1],
            "submitted_at": _utc(submitted_at).isoformat(),
            "stimulus_sha256": sha,
            "headphone_check": "" if passed is None else ("passed" if passed else "failed"),
            "headphone_correct": correct,
            "age_range": age_range or "",
            "hearing_problems": hearing_problems or "",
            "device": device or "",
            "_condition_order": condition_position,
        }
        for (external_id, participant_id, item, condition, kind, value, training, position, slot,
             submitted_at, sha, condition_position, passed, correct, age_range, hearing_problems, device) in rows
    ]
    if not records:
        return pd.DataFrame(columns=list(RATING_COLUMNS))
    table = pd.DataFrame.from_records(records)
    table = table.sort_values(["participant", "trial_position", "_condition_order"], kind="stable")
    return table.drop(columns=["_condition_order"]).reset_index(drop=True)


def condition_order(session: Session, test_id: int) -> list[str]:
    """Rated condition names in the test's order (reference, anchors, systems)."""
    return list(
        session.scalars(
            select(ConditionRow.name)
            .where(ConditionRow.test_id == test_id, ConditionRow.rated.is_(True))
            .order_by(ConditionRow.position)
        )
    )


@dataclass(frozen=True)
class Progress:
    """How far a test has got, for the Admin page."""

    started: int
    in_instructions: int
    in_level_check: int
    rating: int
    completed: int
    ratings_per_item: dict[str, int]
    last_activity: datetime | None


def progress_of(session: Session, test_id: int) -> Progress:
    """Participants per stage and submitted test trials per item."""
    test = find_test(session, test_id)
    stages = dict(
        session.execute(
            select(SessionRow.stage, func.count(SessionRow.id))
            .join(ParticipantRow)
            .where(ParticipantRow.test_id == test_id)
            .group_by(SessionRow.stage)
        ).all()
    )
    per_item = dict.fromkeys((item.name for item in test.items), 0)
    per_item.update(
        session.execute(
            select(ItemRow.name, func.count(TrialRow.id))
            .join(TrialRow, TrialRow.item_id == ItemRow.id)
            .where(ItemRow.test_id == test_id, TrialRow.is_training.is_(False), TrialRow.submitted_at.is_not(None))
            .group_by(ItemRow.name)
        ).all()
    )
    last = session.scalar(
        select(func.max(SessionRow.last_active_at)).join(ParticipantRow).where(ParticipantRow.test_id == test_id)
    )
    return Progress(
        started=sum(stages.values()),
        in_instructions=stages.get("instructions", 0),
        in_level_check=stages.get("level_check", 0),
        rating=stages.get("trials", 0),
        completed=stages.get("complete", 0),
        ratings_per_item=per_item,
        last_activity=_utc(last) if last else None,
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
