"""Serving stimulus audio to the player by opaque per-session token, checked against its checksum,
dithered per token, and noted as sent (for :mod:`codecbench.listening_test.pacing`)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from codecbench.listening_test import pacing
from codecbench.listening_test.dither import dithered_wav
from codecbench.listening_test.flow import LinkNotValidError, find_session
from codecbench.storage.base import utc_now
from codecbench.storage.listening_tables import StimulusAudioRow, StimulusRow, TrialStimulusRow

# Verified stimulus audio, keyed by its SHA-256 (content-addressed, so safe across databases).
CACHE_MAX_BYTES = 256 * 1024 * 1024


class StimulusIntegrityError(RuntimeError):
    """Stored stimulus audio no longer matches the checksum recorded when it was made."""


@dataclass(frozen=True)
class StimulusAudio:
    """Audio as sent; ``sha256`` is the stored (undithered) audio's."""

    data: bytes
    media_type: str
    sha256: str


def stimulus_audio(
    session: Session, stimulus_token: str, *, browser_key: str | None = None, now: datetime | None = None
) -> StimulusAudio:
    """The audio behind a trial-stimulus token, with the token's own dither
    (:mod:`codecbench.listening_test.dither`); notes when it was first sent.

    ``browser_key``: the requesting browser's key (``None``: an in-process caller).

    Raises:
        LinkNotValidError: no stimulus has this token.
        ParticipantRefusedError: the stimulus belongs to another browser's session.
        StimulusIntegrityError: the stored bytes fail their checksum (the file is not served).
    """
    return with_dither(served_stimulus(session, stimulus_token, browser_key=browser_key, now=now), stimulus_token)


def served_stimulus(
    session: Session, stimulus_token: str, *, browser_key: str | None = None, now: datetime | None = None
) -> StimulusAudio:
    """:func:`stimulus_audio` before its dither: the database's part, which the server does in a
    short transaction and dithers after it (SQLite has one writer at a time)."""
    trial_stimulus = session.scalars(select(TrialStimulusRow).where(TrialStimulusRow.token == stimulus_token)).first()
    if trial_stimulus is None:
        raise LinkNotValidError("No such stimulus.")
    find_session(session, trial_stimulus.trial.session.token, browser_key)
    pacing.mark_served(session, trial_stimulus, now or utc_now())
    return _verified_audio(session, trial_stimulus.stimulus_id)


def with_dither(verified: StimulusAudio, stimulus_token: str) -> StimulusAudio:
    """The stored audio with the token's own dither.

    Seeded by the token and the stored audio's SHA-256, which never leaves the server: knowing
    the token and this code, a client still cannot regenerate the dither and remove it.
    """
    return StimulusAudio(data=dithered_wav(verified.data, f"{verified.sha256}:{stimulus_token}"),
                         media_type=verified.media_type, sha256=verified.sha256)


def _verified_audio(session: Session, stimulus_id: int) -> StimulusAudio:
    """A stimulus's stored audio, checked against its SHA-256 (and cached once checked)."""
    sha256 = session.scalar(select(StimulusRow.sha256).where(StimulusRow.id == stimulus_id))
    cached = _CACHE.get(sha256)
    if cached is not None:
        return cached
    row = session.get(StimulusAudioRow, stimulus_id)
    if row is None or hashlib.sha256(row.data).hexdigest() != sha256:
        raise StimulusIntegrityError(f"stimulus {stimulus_id}: stored audio does not match its SHA-256 {sha256}.")
    audio = StimulusAudio(data=bytes(row.data), media_type=row.media_type, sha256=sha256)
    _CACHE.put(sha256, audio)
    return audio


def clear_stimulus_cache() -> None:
    """Forget the verified audio (it is then read and checked again on its next request)."""
    _CACHE.clear()


class _VerifiedAudioCache:
    """A least-recently-used cache bounded in bytes, shared by the server's threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, StimulusAudio] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> StimulusAudio | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def put(self, key: str, audio: StimulusAudio) -> None:
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = audio
            self._size += len(audio.data)
            while self._size > self.max_bytes and len(self._entries) > 1:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted.data)


_CACHE = _VerifiedAudioCache(CACHE_MAX_BYTES)
