"""Where item audio comes from: audio files, or utterances of a test set the database knows.

Test sets, their utterances and their objective scores are the evaluation engine's tables
(``codecbench evaluate`` fills them): an item taken from a test set is read from where that
engine last found the utterance, and remembers it in its source (``testset:NAME:UTTERANCE``),
so that a test's results can be set beside the objective scores stored for the same
utterances and conditions.
"""

from __future__ import annotations

import hashlib
import json
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


TEST_SET_SOURCE_PREFIX = "testset:"


def testset_item_source(test_set: str, utterance_id: str) -> str:
    """The source recorded for an item taken from a test set (test set names hold no ``:``)."""
    return f"{TEST_SET_SOURCE_PREFIX}{test_set}:{utterance_id}"


def parse_testset_item_source(source: str) -> tuple[str, str] | None:
    """(test set, utterance id) of an item's source, or ``None`` for an item from a file."""
    if not source.startswith(TEST_SET_SOURCE_PREFIX):
        return None
    test_set, separator, utterance_id = source[len(TEST_SET_SOURCE_PREFIX):].partition(":")
    return (test_set, utterance_id) if separator else None


def load_test_set_utterance(
    session: Session | None, test_set: str, utterance_id: str, limits: AudioLimits
) -> ItemAudio:
    """The audio of one utterance of a test set stored by the evaluation engine.

    Raises:
        SpecError: no database session, an unknown test set or utterance, or audio that cannot
            be read (or is longer than the test allows).
    """
    from codecbench.evaluation.datasets import AudioFile
    from codecbench.evaluation.results import NotStoredError, stored_utterance

    if session is None:
        raise SpecError(
            f"items from test set {test_set!r} are read from the database that holds the test set; "
            "open one (codecbench mushra create --db URL) or list the audio files under `items:` instead."
        )
    try:
        utterance = stored_utterance(session, test_set, utterance_id)
        audio = utterance.read_audio(limits)
    except NotStoredError as error:
        raise SpecError(f"item {utterance_id}: {error}") from None
    except (AudioError, OSError) as error:
        raise SpecError(f"item {utterance_id} of test set {test_set}: {error}") from None
    if isinstance(utterance.source, AudioFile):
        digest = file_sha256(utterance.source.path)
    else:  # a span of a recording or an archive member: the samples are what identifies it
        digest = hashlib.sha256(audio.samples.tobytes()).hexdigest()
    return ItemAudio(name=utterance_id, audio=audio, source=testset_item_source(test_set, utterance_id),
                     source_sha256=digest)


def objective_scores(session: Session, test_id: int) -> pd.DataFrame | None:
    """Stored objective scores (columns ``condition``, ``metric``, ``score``) of the conditions of a
    test whose items come from a scored test set; ``None`` when there are none.

    A condition's score for a metric is its mean over exactly the test's items, and exists only
    if every item has a stored value (a mean over other utterances would not be comparable).
    The metric is named as stored, with the protocol for ViSQOL (``visqol (speech)``).
    """
    from codecbench.evaluation.results import condition_means
    from codecbench.storage.listening_tables import ListeningTestRow

    test = session.get(ListeningTestRow, test_id)
    if test is None:
        return None
    sources = [parse_testset_item_source(item.source) for item in test.items]
    if not sources or any(source is None for source in sources) or len({source[0] for source in sources}) != 1:
        return None
    test_set = sources[0][0]
    utterance_ids = [utterance_id for _, utterance_id in sources]
    rows = []
    for condition in test.conditions:
        definition = json.loads(condition.definition_json)
        if definition.get("type") != "codec":
            continue
        means = condition_means(session, test_set, utterance_ids, definition["codec"], definition.get("bitrate_kbps"))
        rows += [{"condition": condition.name, "metric": f"{metric} ({protocol})" if metric == "visqol" else metric,
                  "score": mean} for (metric, protocol), mean in means.items()]
    return pd.DataFrame(rows, columns=["condition", "metric", "score"]) if rows else None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
