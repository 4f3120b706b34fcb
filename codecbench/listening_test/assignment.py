"""Which items a new participant rates: those with the fewest ratings so far.

"Ratings so far" counts every test trial already submitted plus those still open in sessions
active within the last :data:`ASSIGNMENT_HOLD_S` seconds: participants who start at the same
moment then spread over the items instead of all getting the same ones, and an abandoned
session stops holding its items after an hour.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import ItemRow, ParticipantRow, SessionRow, TrialRow

ASSIGNMENT_HOLD_S = 3600.0


def least_rated_items(counts: Mapping[int, int], num_items: int, rng: random.Random) -> list[int]:
    """``num_items`` item ids with the fewest counts, ties broken at random, in random order."""
    if not 0 < num_items <= len(counts):
        raise ValueError(f"cannot choose {num_items} of {len(counts)} items")
    ids = list(counts)
    rng.shuffle(ids)
    ids.sort(key=lambda item_id: counts[item_id])  # stable: equal counts keep their random order
    chosen = ids[:num_items]
    rng.shuffle(chosen)
    return chosen


def item_rating_counts(
    session: Session, test_id: int, *, now: datetime | None = None, hold_s: float = ASSIGNMENT_HOLD_S
) -> dict[int, int]:
    """Item id -> test trials submitted or held by recently active sessions (see module docstring)."""
    cutoff = (now or utc_now()) - timedelta(seconds=hold_s)
    counts = dict.fromkeys(session.scalars(select(ItemRow.id).where(ItemRow.test_id == test_id)), 0)
    rows = session.execute(
        select(TrialRow.item_id, func.count(TrialRow.id))
        .join(SessionRow, SessionRow.id == TrialRow.session_id)
        .join(ParticipantRow, ParticipantRow.id == SessionRow.participant_id)
        .where(
            ParticipantRow.test_id == test_id,
            TrialRow.is_training.is_(False),
            or_(TrialRow.submitted_at.is_not(None), SessionRow.last_active_at >= cutoff),
        )
        .group_by(TrialRow.item_id)
    ).all()
    counts.update({item_id: count for item_id, count in rows})
    return counts
