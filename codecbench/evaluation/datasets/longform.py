"""Long-form corpora described by one JSON file: segments (spans) of long Opus recordings.

WenetSpeech and GigaSpeech share the shape ``{"audios": [{"aid", "path", "duration",
"segments": [{"sid", "begin_time", "end_time", "subsets", <text>}]}]}``; what differs (the
file's name, the text field, speakers, which segments are garbage) is a :class:`LongFormCorpus`.
An utterance is an :class:`AudioSpan` of the recording at ``<root>/<path>``; only the span is
decoded when it is read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.evaluation.datasets.longform_json import evaluation_audios, normalized_subset
from codecbench.evaluation.datasets.sources import AudioSpan
from codecbench.evaluation.datasets.utterance import (
    CorpusListing,
    SkippedUtterance,
    TestSetError,
    Utterance,
    skip,
    unique_by_id,
)

logger = logging.getLogger(__name__)

# A segment may end this much after the recording's stated duration (rounding in the metadata).
END_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class LongFormCorpus:
    """What distinguishes one JSON-described long-form corpus from another.

    Args:
        name: for messages (``WenetSpeech``).
        json_name: the metadata file at the corpus root.
        evaluation_subsets: subsets (normalised, see ``normalized_subset``) kept in the cache.
        text_key: the segment field holding the transcript.
        language: ISO 639-1 code of the corpus.
        sample_rate_hz: the rate the recordings were made at, delivered when a span is read
            (the Opus files decode at 48 kHz). An audio entry's ``sample_rate`` overrides it.
        speaker_key: the segment field naming the speaker, if any.
        is_garbage: segments it returns true for (given their text) are not utterances.
        layout_hint: what the root should hold, for error messages.
    """

    name: str
    json_name: str
    evaluation_subsets: frozenset[str]
    text_key: str
    language: str
    sample_rate_hz: int = 16_000
    speaker_key: str | None = None
    is_garbage: Callable[[str], bool] = lambda text: False
    layout_hint: str = ""

    def find_json(self, root: Path) -> Path:
        """The metadata file: ``<root>/<json_name>``, or ``root`` itself if it is that file."""
        if root.is_file() and root.suffix.lower() == ".json":
            return root
        if (root / self.json_name).is_file():
            return root / self.json_name
        if not root.exists():
            raise TestSetError(f"{self.name}: no such folder {root}. {self.layout_hint}")
        raise TestSetError(f"{self.name}: no {self.json_name} in {root}. {self.layout_hint}")


def load_longform(corpus: LongFormCorpus, root: Path, subset: str) -> CorpusListing:
    """The segments of one subset, as spans of their recordings, in recording then time order."""
    subset = normalized_subset(subset)
    if subset not in corpus.evaluation_subsets:
        raise ValueError(
            f"unknown {corpus.name} evaluation subset {subset!r}; expected one of {', '.join(sorted(corpus.evaluation_subsets))}"
        )
    json_path = corpus.find_json(root)
    base_dir = json_path.parent
    utterances: list[Utterance] = []
    skipped: list[SkippedUtterance] = []
    garbage = 0
    for audio in evaluation_audios(json_path, corpus.name.lower(), corpus.evaluation_subsets):
        segments = [
            segment
            for segment in audio["segments"]
            if subset in {normalized_subset(name) for name in segment.get("subsets") or ()}
        ]
        if not segments:
            continue
        recording = _recording_path(base_dir, audio)
        if isinstance(recording, str):
            logger.warning("skipping %d %s segment(s): %s", len(segments), subset, recording)
            skipped += [skip(str(segment.get("sid")), base_dir / str(audio.get("path")), recording, warn=False) for segment in segments]
            continue
        duration_s = _number(audio.get("duration"))
        sample_rate_hz = audio.get("sample_rate") if isinstance(audio.get("sample_rate"), int) else corpus.sample_rate_hz
        for segment in sorted(segments, key=lambda segment: _number(segment.get("begin_time")) or 0.0):
            text = " ".join(str(segment.get(corpus.text_key) or "").split())
            if corpus.is_garbage(text):
                garbage += 1
                continue
            span = _span(segment, duration_s)
            if isinstance(span, str):
                skipped.append(skip(str(segment.get("sid")), recording, span))
                continue
            speaker = segment.get(corpus.speaker_key) if corpus.speaker_key else None
            utterances.append(
                Utterance(
                    id=str(segment["sid"]),
                    source=AudioSpan(recording, span[0], span[1] - span[0], sample_rate_hz),
                    speaker=speaker if isinstance(speaker, str) and speaker not in ("", "N/A") else None,
                    language=corpus.language,
                    text=text or None,
                )
            )
    if garbage:
        logger.info("%s %s: left out %d garbage segment(s) (silence, music, noise, other)", corpus.name, subset, garbage)
    if not utterances and not skipped:
        raise TestSetError(f"{corpus.name}: {json_path} has no segments in the subset {subset}.")
    return unique_by_id(utterances, skipped)


def _recording_path(base_dir: Path, audio: dict[str, Any]) -> Path | str:
    """The recording's file, or why there is none. A ``.wav`` made from the ``.opus`` is accepted too."""
    relative = audio.get("path")
    if not isinstance(relative, str) or not relative:
        return f"the audio entry {audio.get('aid')!r} has no path"
    path = base_dir / relative
    if path.is_file():
        return path
    if path.with_suffix(".wav").is_file():
        return path.with_suffix(".wav")
    return f"no such file: {path}"


def _span(segment: dict[str, Any], duration_s: float | None) -> tuple[float, float] | str:
    if not isinstance(segment.get("sid"), str) or not segment["sid"]:
        return "the segment has no sid"
    begin_s, end_s = _number(segment.get("begin_time")), _number(segment.get("end_time"))
    if begin_s is None or end_s is None:
        return f"begin_time and end_time must be numbers, got {segment.get('begin_time')!r} and {segment.get('end_time')!r}"
    if begin_s < 0 or end_s <= begin_s:
        return f"garbage span {begin_s}-{end_s} s (it must start at 0 s or later and end after it starts)"
    if duration_s is not None:
        if begin_s >= duration_s or end_s > duration_s + END_TOLERANCE_S:
            return f"the span {begin_s}-{end_s} s is not inside the recording (0-{duration_s} s)"
        end_s = min(end_s, duration_s)
    return begin_s, end_s


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
