"""AISHELL-1 test (openslr 33), unpacked or still as the per-speaker ``.tar.gz`` files.

Layout: ``data_aishell/transcript/aishell_transcript_v0.8.txt`` and ``data_aishell/wav/``,
holding either ``<part>/<SPK>/BAC009<SPK>W<NNNN>.wav`` (unpacked) or one ``<SPK>.tar.gz`` per
speaker whose members are ``<part>/<SPK>/*.wav`` (as downloaded). A speaker's archive holds
one part only, so its first header says whether it is a test speaker; only the test archives
are read through, and their members are read in place, never extracted.

The transcript defines the utterances, as in Kaldi's and lhotse's recipes: a test wav without
a transcript line is skipped, and so is a transcript line of a test speaker without its wav,
each with a warning. Text is the transcript's, with lhotse's word-segmentation spaces removed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from codecbench.evaluation.datasets.archives import archive_stem, first_member_name, is_archive, list_archive
from codecbench.evaluation.datasets.sources import AudioFile, TarMember
from codecbench.evaluation.datasets.utterance import (
    CorpusListing,
    SkippedUtterance,
    TestSetError,
    Utterance,
    skip,
    unique_by_id,
)

AISHELL1_PARTS = ("train", "dev", "test")
TRANSCRIPT_NAME = "aishell_transcript_v0.8.txt"
_SPEAKER_IN_ID = re.compile(r"(S\d{4})W\d+$")


def find_data_aishell(root: Path) -> Path:
    """The ``data_aishell`` folder, given the folder holding it or the folder itself."""
    if (root / "data_aishell").is_dir():
        return root / "data_aishell"
    if root.name == "data_aishell" or ((root / "wav").is_dir() and (root / "transcript").is_dir()):
        return root
    packed = [path for path in (root / "data_aishell.tgz", root / "data_aishell.tar.gz") if path.is_file()]
    hint = f" Found {packed[0].name}: unpack it there first (tar xzf {packed[0]} -C {root})." if packed else ""
    raise TestSetError(
        f"AISHELL-1: no data_aishell folder in {root}. Give the folder holding data_aishell "
        f"(data_aishell/wav/ and data_aishell/transcript/{TRANSCRIPT_NAME}).{hint}"
    )


def read_transcript(path: Path) -> dict[str, str]:
    """``id -> text``, with word-segmentation spaces removed."""
    texts = {}
    with open(path, encoding="utf-8-sig") as lines:
        for line in lines:
            fields = line.split()
            if fields:
                texts[fields[0]] = "".join(fields[1:])
    return texts


def load_aishell1(root: Path, part: str = "test") -> CorpusListing:
    """Utterances of one AISHELL-1 part, grouped by speaker."""
    if part not in AISHELL1_PARTS:
        raise ValueError(f"unknown AISHELL-1 part {part!r}; expected one of {', '.join(AISHELL1_PARTS)}")
    data_dir = find_data_aishell(root)
    wav_dir = data_dir / "wav"
    if not wav_dir.is_dir():
        raise TestSetError(f"AISHELL-1: no wav folder at {wav_dir} (unpacked <part>/<SPK>/*.wav or <SPK>.tar.gz files).")
    transcript = _find_transcript(data_dir)
    texts = read_transcript(transcript)

    by_speaker: dict[str, list[Utterance]] = defaultdict(list)
    skipped: list[SkippedUtterance] = []
    part_dir = wav_dir / part
    if part_dir.is_dir():
        for path in sorted(part_dir.glob("*/*.wav")):
            by_speaker[path.parent.name].append(_utterance(path.stem, AudioFile(path), path.parent.name))
    unpacked_speakers = {path.name for path in wav_dir.glob("*/*") if path.is_dir()}
    for archive in sorted(path for path in wav_dir.iterdir() if is_archive(path)):
        speaker = archive_stem(archive)
        if speaker in unpacked_speakers:
            continue  # unpacked already; the folder was read above
        first = first_member_name(archive)
        if first is None:
            skipped.append(skip(speaker, archive, "cannot read this speaker's archive (damaged, or not a tar file)"))
            continue
        if first.split("/", 1)[0] != part:
            continue
        listing = list_archive(archive)
        if listing.error:
            skipped.append(skip(speaker, archive, listing.error))
        for member in listing.members:
            folders = member.name.split("/")
            if len(folders) == 3 and folders[0] == part and member.name.endswith(".wav"):
                utterance_id = folders[2].removesuffix(".wav")
                source = TarMember(archive, member.name, member.data_offset_bytes, member.size_bytes)
                by_speaker[folders[1]].append(_utterance(utterance_id, source, folders[1]))

    utterances = []
    for speaker in sorted(by_speaker):
        for utterance in by_speaker[speaker]:
            text = texts.get(utterance.id)
            if text is None:
                skipped.append(skip(utterance.id, utterance.source.describe(), f"no line in {transcript.name}"))
            else:
                utterances.append(Utterance(utterance.id, utterance.source, speaker, "zh", text))
    found = {utterance.id for speaker_utterances in by_speaker.values() for utterance in speaker_utterances}
    for utterance_id in sorted(texts):
        match = _SPEAKER_IN_ID.search(utterance_id)
        if match and match.group(1) in by_speaker and utterance_id not in found:
            expected = part_dir / match.group(1) / f"{utterance_id}.wav"
            skipped.append(skip(utterance_id, expected, f"no such file (listed in {transcript.name})"))
    if not utterances and not skipped:
        raise TestSetError(
            f"AISHELL-1 {part}: found no {part} speakers in {wav_dir} (neither {part}/<SPK>/*.wav nor "
            f"<SPK>.tar.gz files whose members are {part}/<SPK>/*.wav)."
        )
    return unique_by_id(utterances, skipped)


def _find_transcript(data_dir: Path) -> Path:
    expected = data_dir / "transcript" / TRANSCRIPT_NAME
    if expected.is_file():
        return expected
    others = sorted((data_dir / "transcript").glob("aishell_transcript*.txt"))
    if others:
        return others[-1]
    raise TestSetError(
        f"AISHELL-1: no transcript at {expected}. It ships in data_aishell.tgz "
        "(data_aishell/transcript/); the utterances of the test set are the lines of that file."
    )


def _utterance(utterance_id: str, source: AudioFile | TarMember, speaker: str) -> Utterance:
    return Utterance(utterance_id, source, speaker, "zh")
