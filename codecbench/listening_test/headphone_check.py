"""The antiphase headphone check (Woods, Siegel, Traer & McDermott 2017), graded on the server.

Each of :data:`NUM_TRIALS` trials plays three 200 Hz tones; one is 6 dB quieter, one is played
in antiphase between the left and right channels. Over headphones the antiphase tone sounds as
loud as the normal one, so the quiet one is easy to pick; over loudspeakers the two channels
partly cancel in the air and the antiphase tone sounds quietest. The participant picks the
quietest tone of each trial; :data:`PASS_MIN_CORRECT` of six pass (as in the paper and in
ITU-T P.808 crowd tests).

The order of the tones is drawn per session with :mod:`secrets` and kept in the database
(:class:`HeadphoneCheckRow`); the browser gets one stereo WAV per trial by session token and
trial number, so neither a URL nor a response field names the answer. Grading happens once:
the first answer is final.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass

import numpy as np
import soundfile
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from codecbench.listening_test.errors import LinkNotValidError, SubmissionRefusedError
from codecbench.listening_test.flow import find_session
from codecbench.listening_test.spec import TestSettings
from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import HeadphoneCheckRow, SessionRow

NUM_TRIALS = 6
PASS_MIN_CORRECT = 5
TONE_HZ = 200.0
TONE_S = 1.0
GAP_S = 0.5
RAMP_S = 0.1
QUIET_DB = -6.0
SAMPLE_RATE_HZ = 16_000
TONE_PEAK = 0.3  # about -10 dBFS: comfortable once the level is set
TONE_KINDS = "NQA"  # normal, quiet, antiphase


@dataclass(frozen=True)
class HeadphoneCheckResult:
    """A graded headphone check."""

    num_correct: int
    num_trials: int
    passed: bool


def start_check(session: Session, session_token: str, browser_key: str | None = None) -> int:
    """Make (or find) the session's check; returns the number of trials.

    Raises:
        LinkNotValidError: unknown session, or the test has no headphone check.
        ParticipantRefusedError: the session belongs to another browser.
    """
    row = _checked_session(session, session_token, browser_key)
    _check_row(session, row, create=True)
    return NUM_TRIALS


def is_answered(session: Session, session_token: str, browser_key: str | None = None) -> bool:
    """Whether the session's check was already answered (a reloaded page then goes straight on:
    its picks are gone, and a second, different answer would be refused)."""
    row = _checked_session(session, session_token, browser_key)
    check = _check_row(session, row, create=False)
    return check is not None and check.responses is not None


def trial_audio(session: Session, session_token: str, trial: int, browser_key: str | None = None) -> bytes:
    """Trial ``trial`` (1-based) as 16-bit stereo WAV: three tones, 0.5 s apart."""
    if not 1 <= trial <= NUM_TRIALS:
        raise LinkNotValidError(f"There is no headphone check trial {trial}; there are {NUM_TRIALS}.")
    row = _checked_session(session, session_token, browser_key)
    check = _check_row(session, row, create=False)
    if check is None:
        raise SubmissionRefusedError("Please start the headphone check first.")
    return tones_wav(check.layout.split(",")[trial - 1])


def grade(session: Session, session_token: str, responses: list[int], browser_key: str | None = None
          ) -> HeadphoneCheckResult:
    """Grade the participant's picks (1, 2 or 3 per trial); the first answer is final.

    Raises:
        SubmissionRefusedError: not one pick from 1-3 per trial, the check was never started,
            or it was already answered differently.
    """
    if len(responses) != NUM_TRIALS or any(r not in (1, 2, 3) for r in responses):
        raise SubmissionRefusedError(f"Please pick the quietest tone (1, 2 or 3) in each of the {NUM_TRIALS} trials.")
    row = _checked_session(session, session_token, browser_key)
    check = _check_row(session, row, create=False)
    if check is None:
        raise SubmissionRefusedError("Please play the headphone check first.")
    picked = "".join(str(r) for r in responses)
    if check.responses is not None:
        if check.responses != picked:
            raise SubmissionRefusedError("The headphone check was already answered; the first answer is final.")
        return _result(check)
    answers = [order.index("Q") + 1 for order in check.layout.split(",")]
    check.responses = picked
    check.num_correct = sum(a == r for a, r in zip(answers, responses))
    check.passed = check.num_correct >= PASS_MIN_CORRECT
    check.answered_at = utc_now()
    session.flush()
    return _result(check)


def headphone_check_passed(session: Session, session_row: SessionRow) -> bool | None:
    """For screening: ``True``/``False`` once answered, ``None`` if the session has no answer."""
    check = session.scalars(select(HeadphoneCheckRow).where(HeadphoneCheckRow.session_id == session_row.id)).first()
    return None if check is None or check.passed is None else bool(check.passed)


def tones_wav(order: str, rng: np.random.Generator | None = None) -> bytes:
    """Three tones in ``order`` (``N``/``Q``/``A`` each once) as 16-bit stereo WAV bytes.

    Each call draws a common gain (0 to -2 dB) and TPDF dither of one LSB, so the same order
    never gives the same bytes twice: a script cannot look the answer up by the file's hash. (It
    can still measure the levels, as any audio a browser plays can be measured: the check tells
    loudspeakers from headphones, not people from bots.)
    """
    if sorted(order) != sorted(TONE_KINDS):
        raise ValueError(f"tone order {order!r}: expected N, Q and A once each")
    rng = rng or np.random.default_rng(secrets.randbits(64))
    n = int(TONE_S * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    ramp_n = int(RAMP_S * SAMPLE_RATE_HZ)
    envelope = np.ones(n)
    rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp_n) / ramp_n)
    envelope[:ramp_n], envelope[-ramp_n:] = rise, rise[::-1]
    tone = TONE_PEAK * 10 ** (rng.uniform(-2.0, 0.0) / 20) * envelope * np.sin(2 * np.pi * TONE_HZ * t)
    gap = np.zeros((int(GAP_S * SAMPLE_RATE_HZ), 2))
    parts = []
    for kind in order:
        if kind == "N":
            stereo = np.stack([tone, tone], axis=1)
        elif kind == "Q":
            quiet = tone * 10 ** (QUIET_DB / 20)
            stereo = np.stack([quiet, quiet], axis=1)
        else:
            stereo = np.stack([tone, -tone], axis=1)
        parts += [stereo, gap]
    signal = np.concatenate(parts[:-1])
    lsb = 1.0 / 32768
    dither = lsb * (rng.uniform(-0.5, 0.5, (len(signal), 1)) + rng.uniform(-0.5, 0.5, (len(signal), 1)))
    signal = signal + dither  # the same in both ears, so the normal tone stays identical in both
    buffer = io.BytesIO()
    soundfile.write(buffer, signal, SAMPLE_RATE_HZ, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _new_layout() -> str:
    orders = []
    for _ in range(NUM_TRIALS):
        kinds = list(TONE_KINDS)
        for i in range(len(kinds) - 1, 0, -1):  # Fisher-Yates with a CSPRNG
            j = secrets.randbelow(i + 1)
            kinds[i], kinds[j] = kinds[j], kinds[i]
        orders.append("".join(kinds))
    return ",".join(orders)


def _checked_session(session: Session, session_token: str, browser_key: str | None) -> SessionRow:
    row = find_session(session, session_token, browser_key)
    if not TestSettings.from_json(row.participant.test.settings_json).headphone_check:
        raise LinkNotValidError("This test has no headphone check.")
    return row


def _check_row(session: Session, row: SessionRow, *, create: bool) -> HeadphoneCheckRow | None:
    check = session.scalars(
        select(HeadphoneCheckRow).where(HeadphoneCheckRow.session_id == row.id).with_for_update()
    ).first()
    if check is None and create:
        try:
            with session.begin_nested():  # two first requests at once: the second reads the first's
                check = HeadphoneCheckRow(session_id=row.id, layout=_new_layout())
                session.add(check)
        except IntegrityError:
            check = session.scalars(select(HeadphoneCheckRow).where(HeadphoneCheckRow.session_id == row.id)).one()
    return check


def _result(check: HeadphoneCheckRow) -> HeadphoneCheckResult:
    return HeadphoneCheckResult(num_correct=check.num_correct or 0, num_trials=NUM_TRIALS, passed=bool(check.passed))
