"""Where item audio comes from: audio files, or utterances of a test set the database knows.

Test sets, their utterances and their objective scores are the evaluation engine's tables.
Until that engine stores them, the two hooks below say so clearly; they are the only places
the listening test needs to change when it does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from codecbench.audio import Audio, AudioError, AudioLimits, load_audio
from codecbench.listening_test.spec import FileItem, SpecError, TestSetItems, TestSpec


@dataclass(frozen=True)
class ItemAudio:
    """An item's reference audio and where it came from."""

    name: str
    audio: Audio
    source: str
    source_sha256: str


def load_items(spec: TestSpec, session: Session | None = None) -> list[ItemAudio]:
    """The reference audio of every item of ``spec``.

    Raises:
        SpecError: an item cannot be read, is too long, or its test set is unknown.
    """
    limits = AudioLimits(max_duration_s=spec.max_item_duration_s)
    if isinstance(spec.items, TestSetItems):
        return [load_test_set_utterance(session, spec.items.test_set, utterance, limits)
                for utterance in spec.items.utterances]
    return [_load_file_item(item, limits) for item in spec.items]


def _load_file_item(item: FileItem, limits: AudioLimits) -> ItemAudio:
    try:
        audio = load_audio(item.path, limits=limits)
    except AudioError as error:
        raise SpecError(f"item {item.name}: {error}") from None
    return ItemAudio(name=item.name, audio=audio, source=str(item.path), source_sha256=file_sha256(item.path))


def load_test_set_utterance(
    session: Session | None, test_set: str, utterance_id: str, limits: AudioLimits
) -> ItemAudio:
    """The audio of one utterance of a test set stored by the evaluation engine.

    Raises:
        SpecError: always, for now: this database has no test-set tables yet.
    """
    raise SpecError(
        f"items from test set {test_set!r} (utterance {utterance_id!r}) need the evaluation engine's "
        "test-set tables, which this codecbench does not have yet. List the audio files under "
        "`items:` instead."
    )


def objective_scores(session: Session, test_id: int) -> pd.DataFrame | None:
    """Stored objective scores (columns ``condition``, ``metric``, ``score``) for a test whose items
    come from a scored test set; ``None`` when there are none (always, until the evaluation
    engine stores scores)."""
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
