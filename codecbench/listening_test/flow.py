"""A participant's way through a MUSHRA test, kept in SQL so that a reload resumes it.

Stages: ``instructions`` -> ``level_check`` (if the test has one) -> ``headphone_check`` (if
the test has one; :mod:`codecbench.listening_test.headphone_check`) -> ``trials`` (the training
trial first, if any, then the assigned items in random order) -> ``complete``. Each stage is
left by an explicit step (:func:`advance`, or submitting the last trial), so repeating a
request never skips anything. The browser only ever sees opaque tokens: the session token, one
token per trial and one per stimulus of a trial, and letters as stimulus labels.
"""

from __future__ import annotations

import json
import random
import secrets
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codecbench.listening_test import guard
from codecbench.listening_test.assignment import item_rating_counts, least_rated_items
from codecbench.listening_test.errors import (  # noqa: F401  (re-exported: the flow's errors)
    FlowError,
    LinkNotValidError,
    ParticipantRefusedError,
    SubmissionRefusedError,
    TooManySessionsError,
)
from codecbench.listening_test.spec import TestSettings
from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import (
    HeadphoneCheckRow,
    ItemRow,
    ListeningTestRow,
    ParticipantAnswersRow,
    ParticipantRow,
    PlayEventRow,
    SessionRow,
    StimulusRow,
    TrialRow,
    TrialStimulusRow,
)

LABELS = string.ascii_uppercase[:12]
# Keys of the link that are stored with the participant (crowd IDs and the like), and limits on them.
MAX_LINK_PARAMS = 20
MAX_LINK_VALUE_CHARS = 200
COMPLETION_CODE_CHARS = string.ascii_uppercase + string.digits

DEFAULT_INSTRUCTIONS = """\
**Thank you for taking part.** Please use headphones in a quiet room.

In each trial you hear a **reference** recording and several versions of it, labelled with
letters. Rate how close each version sounds to the reference, from 0 (**Bad**) to
100 (**Excellent**). One of the versions is the reference itself: if you find it, rate it 100.
Some versions are deliberately degraded, so use the whole scale.

* Switch between the reference and the versions with the buttons or the keys (**R**, **1**, **2**, …);
  **space** starts and stops playback. Switching keeps the playback position.
* Drag across the waveform to loop a part of the recording; double-click it to loop the whole.
* Every version must be played before you can go on. You can listen as often as you like.

The first trial is for practice. Your progress is saved: if the page reloads, you continue
where you were.
"""


#: Shown to participants when a test has no ``title``: the internal name may say what is tested.
PUBLIC_TITLE = "Listening test"


@dataclass(frozen=True)
class StimulusButton:
    label: str
    token: str
    played: bool


@dataclass(frozen=True)
class TrialView:
    """What the player needs for one trial, and nothing that names a condition."""

    token: str
    number: int  # 1-based among the test trials; 0 for the training trial
    total: int  # number of test trials
    is_training: bool
    reference_token: str
    stimuli: tuple[StimulusButton, ...]
    sample_rate_hz: int
    duration_s: float
    require_100: bool
    min_listen_s: float


@dataclass(frozen=True)
class SessionView:
    """Everything the participant page shows for the session's current stage."""

    stage: str
    session_token: str
    test_name: str  # the public title (test.yaml ``title``), never the internal name
    instructions: str
    level_check_token: str | None = None
    trial: TrialView | None = None
    completion_code: str | None = None
    redirect_url: str | None = None
    consent: str | None = None  # shown with the instructions; must be agreed to
    questionnaire: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def start_session(
    session: Session,
    link_token: str,
    link_params: Mapping[str, str],
    *,
    user_agent: str = "",
    rng: random.Random | None = None,
    browser_key: str | None = None,
    address: str = "",
) -> SessionView:
    """Open a test link: resume the participant's session, or start one with assigned trials.

    ``link_params`` are the link's query parameters. ``session=TOKEN`` resumes that session;
    the crowd ID parameter (e.g. ``PROLIFIC_PID``) resumes that participant's session, or shows
    the completion page again if they finished: nobody takes a test twice under one ID.

    ``browser_key``: the key the requesting browser holds (see :mod:`codecbench.listening_test.guard`);
    a session is resumed only for the browser that started it. ``address``: the client's
    network address, counted (hashed) against the test's cap of new sessions per address.

    Raises:
        LinkNotValidError: no test has this link, or the session token is unknown.
        ParticipantRefusedError: the ID is missing where the test needs one, the test is
            closed, or the session was started in another browser.
        TooManySessionsError: the test's cap of new sessions (per minute, per address) is reached.
    """
    test = None if not _is_token(link_token) else session.scalars(
        select(ListeningTestRow).where(ListeningTestRow.link_token == link_token).with_for_update()
    ).first()
    if test is None:
        raise LinkNotValidError("This test link is not valid. Please check the address you were given.")
    settings = TestSettings.from_json(test.settings_json)

    session_token = link_params.get("session")
    if session_token and not _is_token(session_token):
        raise LinkNotValidError("This session is not known. Please open the test link you were given again.")
    if session_token:
        row = find_session(session, session_token, browser_key)
        if row.participant.test_id != test.id:
            raise LinkNotValidError("This session belongs to another test.")
        return _touch_and_view(session, row)

    external_id = _external_id(link_params, settings)
    if external_id is not None:
        existing = _participant_session(session, test.id, external_id)
        if existing is not None:
            return _touch_and_view(session, _checked_browser(session, existing, browser_key))
    if test.status != "open":
        raise ParticipantRefusedError("This test is closed and takes no new participants. Thank you for your interest.")

    now = utc_now()
    address_sha256 = guard.address_digest(address, link_token)
    guard.check_new_session_allowed(session, test.id, settings, address_sha256, now)
    rng = rng or random.Random(secrets.randbits(64))
    try:
        with session.begin_nested():
            row = _create_session(session, test, settings, external_id, link_params, user_agent, rng)
            guard.guard_new_session(session, row, browser_key, address_sha256, now)
            session.flush()
    except IntegrityError:
        # The same ID arrived twice at once (PostgreSQL); the other request created the session.
        existing = _participant_session(session, test.id, external_id) if external_id else None
        if existing is None:
            raise
        row = _checked_browser(session, existing, browser_key)
    return session_view(session, row.token)


def session_view(session: Session, session_token: str, browser_key: str | None = None) -> SessionView:
    """The current view of a session.

    Raises:
        LinkNotValidError: unknown session token.
        ParticipantRefusedError: the session belongs to another browser.
    """
    row = find_session(session, session_token, browser_key)
    test = row.participant.test
    settings = TestSettings.from_json(test.settings_json)
    crowd = settings.crowd
    base = dict(
        stage=row.stage,
        session_token=row.token,
        test_name=settings.title or PUBLIC_TITLE,
        instructions=settings.instructions or DEFAULT_INSTRUCTIONS,
    )
    if row.stage == "instructions":
        return SessionView(**base, consent=settings.consent, questionnaire=settings.questionnaire)
    if row.stage == "complete":
        return SessionView(**base, completion_code=row.completion_code, redirect_url=crowd.redirect_url if crowd else None)
    if row.stage == "level_check":
        first_reference = row.trials[0].stimuli[0]
        return SessionView(**base, level_check_token=first_reference.token)
    if row.stage == "trials":
        return SessionView(**base, trial=_trial_view(session, row, settings))
    return SessionView(**base)


#: Stages left by :func:`advance`, in order; a test skips those it does not have.
ADVANCE_STAGES = ("instructions", "level_check", "headphone_check")


def advance(session: Session, session_token: str, from_stage: str, browser_key: str | None = None) -> SessionView:
    """Leave ``from_stage`` (instructions, level check or headphone check); a repeated or stale
    request changes nothing. The headphone check is left only once it was answered (whatever
    the result: screening decides what a failed check means, and the ratings are kept).
    """
    if from_stage not in ADVANCE_STAGES:
        raise FlowError(f"cannot advance from {from_stage!r}; only from {', '.join(ADVANCE_STAGES)}.")
    row = find_session(session, session_token, browser_key)
    if row.stage == from_stage:
        settings = TestSettings.from_json(row.participant.test.settings_json)
        if from_stage == "headphone_check" and not _headphone_check_answered(session, row):
            raise SubmissionRefusedError("Please answer the headphone check first.")
        if from_stage == "instructions" and settings.consent and not _consent_given(session, row):
            raise SubmissionRefusedError("Please read the consent information and tick the box to take part.")
        wanted = {"level_check": settings.level_check, "headphone_check": settings.headphone_check}
        later = ADVANCE_STAGES[ADVANCE_STAGES.index(from_stage) + 1:]
        row.stage = next((stage for stage in later if wanted[stage]), "trials")
    return _touch_and_view(session, row)


def _consent_given(session: Session, row: SessionRow) -> bool:
    stored = session.scalars(select(ParticipantAnswersRow).where(ParticipantAnswersRow.session_id == row.id)).first()
    return stored is not None and stored.consent_given_at is not None


def _headphone_check_answered(session: Session, row: SessionRow) -> bool:
    check = session.scalars(select(HeadphoneCheckRow).where(HeadphoneCheckRow.session_id == row.id)).first()
    return check is not None and check.responses is not None


def current_trial(row: SessionRow) -> TrialRow | None:
    """The first trial not yet submitted, or ``None`` when all are."""
    return next((trial for trial in row.trials if trial.submitted_at is None), None)


def played_stimuli(session: Session, trial: TrialRow, min_listen_s: float) -> set[int]:
    """Ids of the trial's stimuli the player reported audible (for at least ``min_listen_s`` in total)."""
    events = session.execute(
        select(PlayEventRow.trial_stimulus_id, PlayEventRow.kind, PlayEventRow.listened_s)
        .join(TrialStimulusRow, TrialStimulusRow.id == PlayEventRow.trial_stimulus_id)
        .where(TrialStimulusRow.trial_id == trial.id)
    ).all()
    started = {stimulus_id for stimulus_id, kind, _ in events if kind == "start"}
    if min_listen_s <= 0:
        return started
    listened: dict[int, float] = {}
    for stimulus_id, kind, listened_s in events:
        if kind == "stop":
            listened[stimulus_id] = listened.get(stimulus_id, 0.0) + listened_s
    return {stimulus_id for stimulus_id in started if listened.get(stimulus_id, 0.0) >= min_listen_s - 1e-6}


# ------------------------------------------------------------------------------------------


def _external_id(link_params: Mapping[str, str], settings: TestSettings) -> str | None:
    crowd = settings.crowd
    if crowd is None:
        return None
    value = (link_params.get(crowd.id_param) or "").strip()
    if not value and crowd.require_id:
        raise ParticipantRefusedError(
            f"This link lacks your participant ID ({crowd.id_param}). Please open the study again "
            "from the platform you came from."
        )
    if len(value) > MAX_LINK_VALUE_CHARS:
        raise ParticipantRefusedError(f"The participant ID ({crowd.id_param}) is too long.")
    if any(unicodedata.category(character) in ("Cc", "Cf", "Cs") for character in value):
        raise ParticipantRefusedError(
            f"The participant ID ({crowd.id_param}) holds control characters. Please open the study again "
            "from the platform you came from.")
    return value or None


def _participant_session(session: Session, test_id: int, external_id: str) -> SessionRow | None:
    return session.scalars(
        select(SessionRow)
        .join(ParticipantRow)
        .where(ParticipantRow.test_id == test_id, ParticipantRow.external_id == external_id)
    ).first()


def _create_session(
    session: Session,
    test: ListeningTestRow,
    settings: TestSettings,
    external_id: str | None,
    link_params: Mapping[str, str],
    user_agent: str,
    rng: random.Random,
) -> SessionRow:
    stored_params = {
        _printable(str(key))[:MAX_LINK_VALUE_CHARS]: _printable(str(value))[:MAX_LINK_VALUE_CHARS]
        for key, value in list(link_params.items())[:MAX_LINK_PARAMS]
        if key not in ("test", "session")
    }
    participant = ParticipantRow(test_id=test.id, external_id=external_id, link_params_json=json.dumps(stored_params))
    crowd = settings.crowd
    code = crowd.completion_code if crowd and crowd.completion_code else _new_completion_code()
    row = SessionRow(participant=participant, stage="instructions", completion_code=code, user_agent=user_agent[:400])
    session.add(row)

    items = {item.id: item for item in test.items}
    chosen = least_rated_items(item_rating_counts(session, test.id), settings.items_per_participant, rng)
    plan = [(items[item_id], False) for item_id in chosen]
    if settings.training:
        training_item = next(item for item in test.items if item.name == settings.training_item)
        plan.insert(0, (training_item, True))
    rated_conditions = {c.id for c in test.conditions if c.rated}
    reference_condition = next(c.id for c in test.conditions if c.kind == "reference")
    for position, (item, is_training) in enumerate(plan):
        trial = TrialRow(item_id=item.id, position=position, is_training=is_training)
        stimuli = {stimulus.condition_id: stimulus for stimulus in _item_stimuli(session, item)}
        trial.stimuli.append(TrialStimulusRow(stimulus_id=stimuli[reference_condition].id, slot=0))
        rated = [stimuli[condition_id] for condition_id in sorted(rated_conditions)]
        rng.shuffle(rated)
        for slot, stimulus in enumerate(rated, start=1):
            trial.stimuli.append(TrialStimulusRow(stimulus_id=stimulus.id, slot=slot))
        row.trials.append(trial)
    session.flush()
    return row


def _printable(text: str) -> str:
    """``text`` without control and format characters (NUL, bidirectional overrides, ...)."""
    return "".join(character for character in text if unicodedata.category(character) not in ("Cc", "Cf", "Cs"))


def _item_stimuli(session: Session, item: ItemRow) -> list[StimulusRow]:
    return list(session.scalars(select(StimulusRow).where(StimulusRow.item_id == item.id)))


def _trial_view(session: Session, row: SessionRow, settings: TestSettings) -> TrialView:
    trial = current_trial(row)
    assert trial is not None, "a session in the trials stage has a trial left"
    played = played_stimuli(session, trial, settings.min_listen_s)
    test_trials = [t for t in row.trials if not t.is_training]
    rated = [s for s in trial.stimuli if s.slot > 0]
    return TrialView(
        token=trial.token,
        number=0 if trial.is_training else test_trials.index(trial) + 1,
        total=len(test_trials),
        is_training=trial.is_training,
        reference_token=trial.stimuli[0].token,
        stimuli=tuple(StimulusButton(LABELS[s.slot - 1], s.token, s.id in played) for s in rated),
        sample_rate_hz=trial.item.sample_rate_hz,
        duration_s=trial.item.duration_s,
        require_100=settings.require_100,
        min_listen_s=settings.min_listen_s,
    )


def _is_token(text: str) -> bool:
    """Whether ``text`` could be a token the server issued (URL-safe base64): anything else is
    refused before it reaches the database."""
    return 0 < len(text) <= 64 and all(character.isascii() and (character.isalnum() or character in "-_")
                                       for character in text)


def find_session(session: Session, session_token: str, browser_key: str | None = None) -> SessionRow:
    """The session with this token, for a request from the browser holding ``browser_key``
    (``None``: an in-process caller, not checked).

    Raises:
        LinkNotValidError: there is none.
        ParticipantRefusedError: it belongs to another browser.
    """
    row = session.scalars(select(SessionRow).where(SessionRow.token == session_token)).first() \
        if _is_token(session_token) else None
    if row is None:
        raise LinkNotValidError("This session is not known. Please open the test link you were given again.")
    return _checked_browser(session, row, browser_key)


def _checked_browser(session: Session, row: SessionRow, browser_key: str | None) -> SessionRow:
    if not guard.browser_may_act(session, row, browser_key):
        raise ParticipantRefusedError(guard.ANOTHER_BROWSER_MESSAGE)
    return row


def _touch_and_view(session: Session, row: SessionRow) -> SessionView:
    row.last_active_at = utc_now()
    session.flush()
    return session_view(session, row.token)


def _new_completion_code() -> str:
    return "".join(secrets.choice(COMPLETION_CODE_CHARS) for _ in range(10))
