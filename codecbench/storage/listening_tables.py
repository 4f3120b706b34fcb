"""Tables of MUSHRA listening tests: the design (tests, items, conditions, stimuli) and what
participants did (participants, sessions, trials, ratings, play events).

The design is written once by ``codecbench mushra create`` before anyone rates; stimulus audio
is stored in the database itself (WAV, with its SHA-256), so a shared PostgreSQL deployment
needs no shared file system. Every opaque token a browser sees (test link, session, trial,
trial stimulus) is a random string with a unique index; none encodes a name or an id.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from codecbench.storage.base import Base, utc_now

TOKEN_BYTES = 18  # 24 URL-safe characters, 144 random bits


def new_token() -> str:
    """A fresh opaque token for links and browser-visible identifiers."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class ListeningTestRow(Base):
    """One MUSHRA test: its definition as given, its resolved settings, and its participant link."""

    __tablename__ = "mushra_tests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    link_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    spec_yaml: Mapped[str] = mapped_column(Text)
    settings_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    items: Mapped[list[ItemRow]] = relationship(
        back_populates="test", order_by="ItemRow.position", cascade="all, delete-orphan"
    )
    conditions: Mapped[list[ConditionRow]] = relationship(
        back_populates="test", order_by="ConditionRow.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"ListeningTestRow(id={self.id}, name={self.name!r}, status={self.status!r})"


class ItemRow(Base):
    """One excerpt of a test (the reference signal every condition is made from)."""

    __tablename__ = "mushra_items"
    __table_args__ = (UniqueConstraint("test_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("mushra_tests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(2000))
    source_sha256: Mapped[str] = mapped_column(String(64))
    sample_rate_hz: Mapped[int] = mapped_column(Integer)
    num_samples: Mapped[int] = mapped_column(Integer)

    test: Mapped[ListeningTestRow] = relationship(back_populates="items")
    stimuli: Mapped[list[StimulusRow]] = relationship(back_populates="item", cascade="all, delete-orphan")

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate_hz


class ConditionRow(Base):
    """One condition: the hidden reference, an anchor, or a system under test."""

    __tablename__ = "mushra_conditions"
    __table_args__ = (UniqueConstraint("test_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("mushra_tests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # reference | anchor_low | anchor_mid | system
    rated: Mapped[bool] = mapped_column(Boolean)  # the reference is unrated without a hidden reference
    definition_json: Mapped[str] = mapped_column(Text)

    test: Mapped[ListeningTestRow] = relationship(back_populates="conditions")


class StimulusRow(Base):
    """The audio one condition made of one item, with the checks it passed."""

    __tablename__ = "mushra_stimuli"
    __table_args__ = (UniqueConstraint("item_id", "condition_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mushra_items.id", ondelete="CASCADE"), index=True)
    condition_id: Mapped[int] = mapped_column(ForeignKey("mushra_conditions.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    sample_rate_hz: Mapped[int] = mapped_column(Integer)
    num_samples: Mapped[int] = mapped_column(Integer)
    checks_json: Mapped[str] = mapped_column(Text)

    item: Mapped[ItemRow] = relationship(back_populates="stimuli")
    condition: Mapped[ConditionRow] = relationship()


class StimulusAudioRow(Base):
    """The encoded audio of a stimulus, apart from its metadata so listings never load it."""

    __tablename__ = "mushra_stimulus_audio"

    stimulus_id: Mapped[int] = mapped_column(
        ForeignKey("mushra_stimuli.id", ondelete="CASCADE"), primary_key=True
    )
    media_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ParticipantRow(Base):
    """A person taking a test; ``external_id`` is the crowd platform's ID (``None`` in the lab)."""

    __tablename__ = "mushra_participants"
    __table_args__ = (UniqueConstraint("test_id", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("mushra_tests.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    link_params_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    test: Mapped[ListeningTestRow] = relationship()
    session: Mapped[SessionRow | None] = relationship(back_populates="participant", uselist=False)


class SessionRow(Base):
    """A participant's way through a test: where they are, and their trials."""

    __tablename__ = "mushra_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("mushra_participants.id", ondelete="CASCADE"), unique=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    stage: Mapped[str] = mapped_column(String(16))  # instructions | level_check | trials | complete
    completion_code: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_active_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    participant: Mapped[ParticipantRow] = relationship(back_populates="session")
    trials: Mapped[list[TrialRow]] = relationship(
        back_populates="session", order_by="TrialRow.position", cascade="all, delete-orphan"
    )


class TrialRow(Base):
    """One screen of the test: one item, all its stimuli in a random order under blind labels."""

    __tablename__ = "mushra_trials"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("mushra_sessions.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mushra_items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    is_training: Mapped[bool] = mapped_column(Boolean, default=False)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    session: Mapped[SessionRow] = relationship(back_populates="trials")
    item: Mapped[ItemRow] = relationship()
    stimuli: Mapped[list[TrialStimulusRow]] = relationship(
        back_populates="trial", order_by="TrialStimulusRow.slot", cascade="all, delete-orphan"
    )


class TrialStimulusRow(Base):
    """A stimulus as one trial shows it: slot 0 is the open reference, 1.. are rated blind."""

    __tablename__ = "mushra_trial_stimuli"
    __table_args__ = (UniqueConstraint("trial_id", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("mushra_trials.id", ondelete="CASCADE"), index=True)
    stimulus_id: Mapped[int] = mapped_column(ForeignKey("mushra_stimuli.id", ondelete="CASCADE"), index=True)
    slot: Mapped[int] = mapped_column(Integer)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)

    trial: Mapped[TrialRow] = relationship(back_populates="stimuli")
    stimulus: Mapped[StimulusRow] = relationship()
    rating: Mapped[RatingRow | None] = relationship(back_populates="trial_stimulus", uselist=False)

    @property
    def is_open_reference(self) -> bool:
        return self.slot == 0


class RatingRow(Base):
    """The final score (0-100) a participant gave one trial stimulus; at most one each."""

    __tablename__ = "mushra_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_stimulus_id: Mapped[int] = mapped_column(
        ForeignKey("mushra_trial_stimuli.id", ondelete="CASCADE"), unique=True
    )
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    trial_stimulus: Mapped[TrialStimulusRow] = relationship(back_populates="rating")


class PlayEventRow(Base):
    """The player reporting that a stimulus became audible (``start``) or stopped (``stop``), and
    the server noting when it first sent the stimulus's audio (``served``)."""

    __tablename__ = "mushra_play_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_stimulus_id: Mapped[int] = mapped_column(
        ForeignKey("mushra_trial_stimuli.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # start | stop | served (the audio was sent to the player)
    position_s: Mapped[float] = mapped_column(Float)
    listened_s: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SessionGuardRow(Base):
    """What ties a session to the browser that started it, and where it came from.

    ``browser_key_sha256``: SHA-256 of the random key the server gave that browser (in a
    cookie) when the session started; only requests carrying the key reach the session.
    ``address_sha256``: SHA-256 of the client address salted with the test's link token, so
    that new sessions per address can be counted without storing addresses. A table of its
    own, so that databases made before it gain it without a migration (their sessions are
    bound to the first browser that comes back).
    """

    __tablename__ = "mushra_session_guards"

    session_id: Mapped[int] = mapped_column(ForeignKey("mushra_sessions.id", ondelete="CASCADE"), primary_key=True)
    browser_key_sha256: Mapped[str] = mapped_column(String(64))
    address_sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now, index=True)


class HeadphoneCheckRow(Base):
    """A session's headphone check (Woods et al. 2017 antiphase test), graded on the server.

    A table of its own (not columns of ``mushra_sessions``), so that ``create_all`` adds it to
    databases made before it existed. ``layout`` holds, per trial, the order of the three
    tones: ``N`` normal, ``Q`` 6 dB quieter, ``A`` in antiphase between the channels, e.g.
    ``NQA,AQN,...``; it never leaves the server. ``responses`` is the participant's pick per
    trial (``1``-``3``, one digit per trial) once answered.
    """

    __tablename__ = "mushra_headphone_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("mushra_sessions.id", ondelete="CASCADE"), unique=True)
    layout: Mapped[str] = mapped_column(String(64))
    responses: Mapped[str | None] = mapped_column(String(16))
    num_correct: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ParticipantAnswersRow(Base):
    """What a participant agreed to and answered before the test (consent, questionnaire).

    A table of its own so that ``create_all`` adds it to existing databases. Answers are one
    of the fixed choices of :mod:`codecbench.listening_test.participant_info` (``None``: not
    asked or not answered).
    """

    __tablename__ = "mushra_participant_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("mushra_sessions.id", ondelete="CASCADE"), unique=True)
    consent_given_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    age_range: Mapped[str | None] = mapped_column(String(32))
    hearing_problems: Mapped[str | None] = mapped_column(String(32))
    device: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
