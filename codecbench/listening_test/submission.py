"""What the player sends while a participant rates: play events, and the ratings of a trial.

Everything is checked on the server, whatever the page did: the trial must be this session's
current one, every rated stimulus must carry one finite rating in 0-100, every stimulus must
have been played (from the logged play events), and, if the test says so, one must be rated
100, and the trial must not come faster than its versions can be heard (see
:mod:`codecbench.listening_test.pacing`). Submitting the same ratings again (a retry after a lost connection) succeeds without
storing anything twice; different ratings for a submitted trial are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from codecbench.listening_test import pacing
from codecbench.listening_test.flow import (
    LABELS,
    FlowError,
    SessionView,
    SubmissionRefusedError,
    current_trial,
    find_session,
    played_stimuli,
    session_view,
)
from codecbench.listening_test.spec import TestSettings
from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import PlayEventRow, RatingRow, SessionRow, TrialRow, TrialStimulusRow

PLAY_EVENT_KINDS = ("start", "stop")
MAX_LISTENED_S = 3600.0
RATING_RANGE = (0.0, 100.0)


@dataclass(frozen=True)
class SubmitResult:
    """The view after a submission; ``duplicate`` when these ratings had already been stored."""

    view: SessionView
    duplicate: bool = False


def log_play(
    session: Session,
    session_token: str,
    stimulus_token: str,
    kind: str,
    *,
    position_s: float,
    listened_s: float = 0.0,
    browser_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record that a stimulus became audible (``start``) or stopped after ``listened_s`` (``stop``).

    Events for trials already submitted are ignored (a late retry of the player's queue).

    ``now``: the server's time of the event (default: the clock; see :mod:`codecbench.listening_test.pacing`).

    Raises:
        FlowError: unknown kind or numbers out of range.
        SubmissionRefusedError: the stimulus is not in this session, was never sent to the
            player, or more listening is reported than time has passed.
    """
    if kind not in PLAY_EVENT_KINDS:
        raise FlowError(f"play event kind {kind!r}; allowed: {', '.join(PLAY_EVENT_KINDS)}.")
    position_s = _finite(position_s, "position_s", 0.0, 24 * 3600.0)
    listened_s = _finite(listened_s, "listened_s", 0.0, MAX_LISTENED_S)
    now = now or utc_now()
    row = find_session(session, session_token, browser_key)
    stimulus = session.scalars(
        select(TrialStimulusRow)
        .join(TrialRow, TrialRow.id == TrialStimulusRow.trial_id)
        .where(TrialStimulusRow.token == stimulus_token, TrialRow.session_id == row.id)
    ).first()
    if stimulus is None:
        raise SubmissionRefusedError("This stimulus is not part of your session.")
    row.last_active_at = now
    if stimulus.trial.submitted_at is not None:
        return
    pacing.check_play(session, stimulus, kind, listened_s, now)
    session.add(PlayEventRow(trial_stimulus_id=stimulus.id, kind=kind, position_s=position_s, listened_s=listened_s,
                             created_at=now))
    session.flush()


def submit_trial(
    session: Session, session_token: str, trial_token: str, ratings: Mapping[str, object], *,
    browser_key: str | None = None, now: datetime | None = None,
) -> SubmitResult:
    """Store the ratings of the session's current trial (stimulus token -> 0..100) and move on.

    Raises:
        LinkNotValidError: unknown session.
        ParticipantRefusedError: the session belongs to another browser.
        SubmissionRefusedError: the submission breaks a rule (including coming faster than
            the trial's versions can be heard); the message says which.
    """
    now = now or utc_now()
    row = find_session(session, session_token, browser_key)
    trial = session.scalars(
        select(TrialRow).where(TrialRow.token == trial_token, TrialRow.session_id == row.id).with_for_update()
    ).first()
    if trial is None:
        raise SubmissionRefusedError("This trial is not part of your session.")
    if row.stage in ("instructions", "level_check"):
        raise SubmissionRefusedError("Please read the instructions (and check the level) first.")
    if trial.submitted_at is not None:
        stored = {s.token: s.rating.value for s in trial.stimuli if s.rating is not None}
        if stored == _checked_ratings(trial, ratings):
            return SubmitResult(session_view(session, row.token, browser_key), duplicate=True)
        raise SubmissionRefusedError("This trial was already submitted; its ratings are final.")
    if current_trial(row) is not trial:
        raise SubmissionRefusedError("Please rate the trials in the order they are shown.")
    values = _checked_ratings(trial, ratings)

    settings = TestSettings.from_json(row.participant.test.settings_json)
    rated = [s for s in trial.stimuli if s.slot > 0]
    played = played_stimuli(session, trial, settings.min_listen_s)
    unplayed = [LABELS[s.slot - 1] for s in rated if s.id not in played]
    if unplayed:
        wanted = "play" if settings.min_listen_s <= 0 else f"listen for at least {settings.min_listen_s:g} s to"
        raise SubmissionRefusedError(f"Please {wanted} every version before going on (not yet: {', '.join(unplayed)}).")
    if settings.require_100 and not any(value == RATING_RANGE[1] for value in values.values()):
        raise SubmissionRefusedError("Please rate at least one version 100 (the one you find identical to the reference).")
    pacing.check_submission_time(session, trial, settings.min_listen_s, now)

    for stimulus in rated:
        session.add(RatingRow(trial_stimulus_id=stimulus.id, value=values[stimulus.token], created_at=now))
    trial.submitted_at = now
    row.last_active_at = now
    if current_trial(row) is None:
        _complete(row, now)
    session.flush()
    return SubmitResult(session_view(session, row.token, browser_key))


def _checked_ratings(trial: TrialRow, ratings: Mapping[str, object]) -> dict[str, float]:
    if not isinstance(ratings, Mapping):
        raise SubmissionRefusedError("Ratings must map each version to a number.")
    expected = {s.token: LABELS[s.slot - 1] for s in trial.stimuli if s.slot > 0}
    unknown = [token for token in ratings if token not in expected]
    if unknown:
        raise SubmissionRefusedError(f"{len(unknown)} rating(s) are for versions not in this trial.")
    missing = sorted(label for token, label in expected.items() if token not in ratings)
    if missing:
        raise SubmissionRefusedError(f"Please rate every version (missing: {', '.join(missing)}).")
    values = {}
    for token, value in ratings.items():
        label = expected[token]
        number = _number(value)
        if number is None or math.isnan(number):
            raise SubmissionRefusedError(f"The rating of {label} is not a number.")
        low, high = RATING_RANGE
        if not low <= number <= high:
            raise SubmissionRefusedError(f"The rating of {label} is {number:g}; ratings go from {low:g} to {high:g}.")
        values[token] = number
    return values


def _complete(row: SessionRow, now: datetime) -> None:
    row.stage = "complete"
    row.completed_at = now


def _number(value: object) -> float | None:
    """``value`` as a float (an integer too large for one as infinity); ``None`` if it is no number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # a JSON integer of hundreds of digits
        return math.inf if value > 0 else -math.inf


def _finite(value: object, name: str, low: float, high: float) -> float:
    number = _number(value)
    if number is None or not math.isfinite(number):
        raise FlowError(f"{name} must be a number.")
    if not low <= number <= high:
        raise FlowError(f"{name} {number:g} is outside {low:g}-{high:g}.")
    return number
