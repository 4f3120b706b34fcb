"""LibriSpeech test-clean / test-other (openslr 12).

Layout: ``LibriSpeech/<part>/<speaker>/<chapter>/<speaker>-<chapter>-<NNNN>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (``<id> UPPERCASE TEXT`` per line). The
transcripts define the utterances, as in Kaldi's and lhotse's recipes: a transcript line
without its flac, and a flac without a transcript line, are skipped with a warning.
"""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.evaluation.datasets.sources import AudioFile
from codecbench.evaluation.datasets.utterance import (
    CorpusListing,
    SkippedUtterance,
    TestSetError,
    Utterance,
    skip,
    unique_by_id,
)

LIBRISPEECH_PARTS = ("test-clean", "test-other", "dev-clean", "dev-other")
AUDIO_SUFFIX = ".flac"


def find_part_dir(root: Path, part: str) -> Path:
    """The ``<part>`` folder, given the ``LibriSpeech`` folder, its parent, or the part folder itself."""
    for candidate in (root / part, root / "LibriSpeech" / part):
        if candidate.is_dir():
            return candidate
    if root.name == part and root.is_dir():
        return root
    raise TestSetError(
        f"LibriSpeech {part}: no folder '{part}' in {root} or in {root / 'LibriSpeech'}. Give the "
        f"LibriSpeech folder (holding {part}/<speaker>/<chapter>/*.flac) or its parent, "
        f"as unpacked from openslr's {part}.tar.gz."
    )


def load_librispeech(root: Path, part: str) -> CorpusListing:
    """Utterances of one LibriSpeech part, in id order."""
    if part not in LIBRISPEECH_PARTS:
        raise ValueError(f"unknown LibriSpeech part {part!r}; expected one of {', '.join(LIBRISPEECH_PARTS)}")
    part_dir = find_part_dir(root, part)
    transcripts = sorted(part_dir.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise TestSetError(
            f"LibriSpeech {part}: no transcripts (<speaker>/<chapter>/<speaker>-<chapter>.trans.txt) "
            f"under {part_dir}; is the part fully unpacked?"
        )
    utterances: list[Utterance] = []
    skipped: list[SkippedUtterance] = []
    for transcript in transcripts:
        chapter_dir = transcript.parent
        audio_names = {entry.name for entry in os.scandir(chapter_dir) if entry.name.endswith(AUDIO_SUFFIX)}
        for line in transcript.read_text(encoding="utf-8-sig").splitlines():
            fields = line.split()
            if not fields:
                continue
            utterance_id = fields[0]
            audio_name = utterance_id + AUDIO_SUFFIX
            if audio_name not in audio_names:
                skipped.append(skip(utterance_id, chapter_dir / audio_name, "no such file (listed in the transcript)"))
                continue
            audio_names.discard(audio_name)
            utterances.append(
                Utterance(
                    id=utterance_id,
                    source=AudioFile(chapter_dir / audio_name),
                    speaker=utterance_id.split("-", 1)[0],
                    language="en",
                    text=" ".join(fields[1:]) or None,
                )
            )
        for audio_name in sorted(audio_names):
            skipped.append(
                skip(audio_name.removesuffix(AUDIO_SUFFIX), chapter_dir / audio_name, f"no line in {transcript.name}")
            )
    utterances.sort(key=lambda utterance: utterance.id)
    return unique_by_id(utterances, skipped)
