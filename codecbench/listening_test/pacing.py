"""Play events and submissions checked against the server's clock.

The player reports what was audible, and a script can report anything. What it cannot fake
is time on the server: a stimulus cannot have been heard before its audio was sent, the
listening time reported for a trial cannot exceed the time since the trial's audio was first
sent, and a trial cannot be submitted faster than its versions can each be heard in part.
The server notes when it first sends each stimulus of a trial (a ``served`` play event).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.listening_test.errors import SubmissionRefusedError
from codecbench.storage.listening_tables import PlayEventRow, TrialRow, TrialStimulusRow

#: Allowance for clocks, network delays and the player's own rounding, in seconds.
SLACK_S = 2.0
#: The least time in which a version can be heard in part, in seconds (or the item's duration
#: if shorter); the test's ``min_listen_s`` raises it.
MIN_HEARD_S = 0.5


def mark_served(session: Session, stimulus: TrialStimulusRow, now: datetime) -> None:
    """Note when the stimulus's audio was first sent to the player."""
    already = session.scalar(
        select(PlayEventRow.id).where(PlayEventRow.trial_stimulus_id == stimulus.id, PlayEventRow.kind == "served")
    )
    if already is None:
        session.add(PlayEventRow(trial_stimulus_id=stimulus.id, kind="served", position_s=0.0, listened_s=0.0,
                                 created_at=now))
        session.flush()


def check_play(session: Session, stimulus: TrialStimulusRow, kind: str, listened_s: float, now: datetime) -> None:
    """Refuse a play event the clock rules out.

    Raises:
        SubmissionRefusedError: the stimulus was never sent, or the trial's reported listening
            time would exceed the time since its audio was first sent.
    """
    served = _first_served(session, [stimulus.id])
    if served is None:
        raise SubmissionRefusedError("This version has not been loaded by your player yet; please reload the page.")
    if kind != "stop":
        return
    trial_ids = [s.id for s in stimulus.trial.stimuli]
    reported = session.scalar(
        select(func.coalesce(func.sum(PlayEventRow.listened_s), 0.0))
        .where(PlayEventRow.trial_stimulus_id.in_(trial_ids), PlayEventRow.kind == "stop")
    )
    elapsed = _seconds(now - _first_served(session, trial_ids))
    if reported + listened_s > elapsed + SLACK_S:
        raise SubmissionRefusedError(
            f"Your player reports {reported + listened_s:.1f} s of listening in this trial, but its audio was sent "
            f"{elapsed:.1f} s ago. Please reload the page.")


def check_submission_time(session: Session, trial: TrialRow, min_listen_s: float, now: datetime) -> None:
    """Refuse ratings submitted faster than every version of the trial can be heard in part.

    Raises:
        SubmissionRefusedError: naming the time taken and the time needed.
    """
    served = _first_served(session, [s.id for s in trial.stimuli])
    rated = sum(1 for s in trial.stimuli if s.slot > 0)
    needed = rated * min(trial.item.duration_s, max(min_listen_s, MIN_HEARD_S))
    elapsed = 0.0 if served is None else _seconds(now - served)
    if elapsed < needed:  # both times are the server's: no allowance needed
        raise SubmissionRefusedError(
            f"These ratings came {elapsed:.1f} s after the trial's audio was sent; hearing each of its {rated} "
            f"versions takes at least {needed:.1f} s. Please listen to every version before rating.")


def _first_served(session: Session, trial_stimulus_ids: list[int]) -> datetime | None:
    first = session.scalar(
        select(func.min(PlayEventRow.created_at))
        .where(PlayEventRow.trial_stimulus_id.in_(trial_stimulus_ids), PlayEventRow.kind == "served")
    )
    # SQLite hands datetimes back without their zone (they are stored in UTC).
    return first if first is None or first.tzinfo is not None else first.replace(tzinfo=UTC)


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()
