"""Consent and the optional questionnaire a participant answers before the test.

Both are optional per test (``consent:`` text and ``questionnaire: true`` in test.yaml). Every
answer is one of a fixed set of choices, checked here on the server (the page's dropdowns are
only a convenience: requests can be forged), and stored with the session in
:class:`~codecbench.storage.listening_tables.ParticipantAnswersRow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from codecbench.listening_test.errors import SubmissionRefusedError
from codecbench.listening_test.flow import find_session
from codecbench.listening_test.spec import TestSettings
from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import ParticipantAnswersRow, SessionRow

NOT_SAID = "prefer not to say"
#: question -> its choices; the keys are the table's columns.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "age_range": ("18-24", "25-34", "35-44", "45-54", "55-64", "65 or older", NOT_SAID),
    "hearing_problems": ("no", "yes", "not sure", NOT_SAID),
    "device": ("over-ear headphones", "on-ear headphones", "earbuds / in-ear", "loudspeakers", "other", NOT_SAID),
}
LABELS = {
    "age_range": "Your age",
    "hearing_problems": "Do you have any hearing problems?",
    "device": "What are you listening with?",
}


@dataclass(frozen=True)
class ParticipantAnswers:
    consent_given: bool
    age_range: str | None = None
    hearing_problems: str | None = None
    device: str | None = None


def record(session: Session, session_token: str, *, consent_given: bool, answers: Mapping[str, object],
           browser_key: str | None = None) -> None:
    """Store consent and answers before the session leaves the instructions.

    Raises:
        SubmissionRefusedError: consent is required and not given, or an answer is not one of
            the question's choices (the message names the question).
    """
    row = find_session(session, session_token, browser_key)
    settings = TestSettings.from_json(row.participant.test.settings_json)
    if settings.consent and not consent_given:
        raise SubmissionRefusedError("Please read the consent information and tick the box to take part.")
    checked = checked_answers(answers) if settings.questionnaire else {}
    if row.stage != "instructions":  # a late retry: what was stored stays
        return
    stored = _row(session, row)
    if stored is None:
        stored = ParticipantAnswersRow(session_id=row.id)
        session.add(stored)
    stored.consent_given_at = utc_now() if settings.consent else None
    for question in QUESTIONS:
        setattr(stored, question, checked.get(question))
    session.flush()


def checked_answers(answers: Mapping[str, object]) -> dict[str, str]:
    """The answers given, each checked against its choices; empty answers are left out."""
    if not isinstance(answers, Mapping) or len(answers) > len(QUESTIONS):
        raise SubmissionRefusedError("The questionnaire's answers could not be read.")
    checked = {}
    for question, answer in answers.items():
        if question not in QUESTIONS:
            raise SubmissionRefusedError("The questionnaire has no such question.")
        if answer is None or answer == "":
            continue
        if not isinstance(answer, str) or answer not in QUESTIONS[question]:
            raise SubmissionRefusedError(f"{LABELS[question]}: please choose one of the answers offered.")
        checked[question] = answer
    return checked


def participant_answers(session: Session, session_row: SessionRow) -> ParticipantAnswers | None:
    """What the session's participant agreed to and answered, or ``None`` if nothing was stored."""
    stored = _row(session, session_row)
    if stored is None:
        return None
    return ParticipantAnswers(consent_given=stored.consent_given_at is not None, age_range=stored.age_range,
                              hearing_problems=stored.hearing_problems, device=stored.device)


def _row(session: Session, row: SessionRow) -> ParticipantAnswersRow | None:
    return session.scalars(select(ParticipantAnswersRow).where(ParticipantAnswersRow.session_id == row.id)).first()
