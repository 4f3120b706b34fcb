"""Serving stimulus audio to the player by opaque per-session token, checked against its checksum."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from codecbench.listening_test.flow import LinkNotValidError
from codecbench.storage.listening_tables import StimulusAudioRow, StimulusRow, TrialStimulusRow

# Verified stimulus audio, keyed by its SHA-256 (content-addressed, so safe across databases).
CACHE_MAX_BYTES = 256 * 1024 * 1024


class StimulusIntegrityError(RuntimeError):
    """Stored stimulus audio no longer matches the checksum recorded when it was made."""


@dataclass(frozen=True)
class StimulusAudio:
    data: bytes
    media_type: str
    sha256: str


def stimulus_audio(session: Session, stimulus_token: str) -> StimulusAudio:
    """The audio behind a trial-stimulus token.

    Raises:
        LinkNotValidError: no stimulus has this token.
        StimulusIntegrityError: the stored bytes fail their checksum (the file is not served).
    """
    found = session.execute(
        select(StimulusRow.id, StimulusRow.sha256)
        .join(TrialStimulusRow, TrialStimulusRow.stimulus_id == StimulusRow.id)
        .where(TrialStimulusRow.token == stimulus_token)
    ).first()
    if found is None:
        raise LinkNotValidError("No such stimulus.")
    stimulus_id, sha256 = found
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
