"""AISHELL-2 evaluation sets (AISHELL2-2018A-EVAL): test (and dev) for the iOS, Android and Mic channels.

Layout, from the ``TEST&DEV DATA.zip`` download: ``AISHELL-DEV-TEST-SET/<channel>/<set>/``
holding ``wav.scp`` (``IT0011W0001<TAB>wav/T0011/IT0011W0001.wav``, relative to that folder),
``trans.txt`` (``IT0011W0001<TAB>换一首歌``) and ``wav/<speaker>/*.wav``; or the set still
packed as ``<channel>/<set>.tar.gz``, read in place. The wav.scp defines the utterances, so
ids, file names and rates need no guessing (Android and Mic prefixes and rates are not
documented); as in Kaldi's recipe, an entry without a trans.txt line is skipped. Where a listed
path does not exist but a file ``<id>.wav`` does under the set, that file is used; without a
wav.scp, every ``*.wav`` under the set is taken, with a warning.
"""

from __future__ import annotations

import functools
import logging
import posixpath
from pathlib import Path

from codecbench.evaluation.datasets.archives import ARCHIVE_SUFFIXES, ArchiveMember, list_archive
from codecbench.evaluation.datasets.kaldi import parse_table, read_table, resolve_path, unsupported_entry
from codecbench.evaluation.datasets.sources import AudioFile, TarMember
from codecbench.evaluation.datasets.utterance import (
    CorpusListing,
    SkippedUtterance,
    TestSetError,
    Utterance,
    skip,
    unique_by_id,
)

logger = logging.getLogger(__name__)

AISHELL2_CHANNELS = ("iOS", "Android", "Mic")
AISHELL2_SETS = ("test", "dev")
EVAL_FOLDER = "AISHELL-DEV-TEST-SET"


def find_eval_dir(root: Path) -> Path:
    """The ``AISHELL-DEV-TEST-SET`` folder, given it or the folder holding it."""
    for candidate in (root, root / EVAL_FOLDER):
        if candidate.is_dir() and any(_child(candidate, channel) for channel in AISHELL2_CHANNELS):
            return candidate
    zipped = sorted(root.glob("*.zip")) if root.is_dir() else []
    hint = f" Found {zipped[0].name}: unzip it there first." if zipped else ""
    raise TestSetError(
        f"AISHELL-2: no {EVAL_FOLDER} folder at {root} (expected {EVAL_FOLDER}/iOS|Android|Mic/test/"
        f"wav.scp, or test.tar.gz in place of test/). Give the {EVAL_FOLDER} folder or its parent.{hint}"
    )


def load_aishell2(root: Path, channel: str, subset: str = "test") -> CorpusListing:
    """Utterances of one AISHELL-2 evaluation set, as its wav.scp lists them."""
    if channel not in AISHELL2_CHANNELS:
        raise ValueError(f"unknown AISHELL-2 channel {channel!r}; expected one of {', '.join(AISHELL2_CHANNELS)}")
    if subset not in AISHELL2_SETS:
        raise ValueError(f"unknown AISHELL-2 set {subset!r}; expected one of {', '.join(AISHELL2_SETS)}")
    eval_dir = find_eval_dir(root)
    channel_dir = _child(eval_dir, channel)
    if channel_dir is None:
        raise TestSetError(f"AISHELL-2 {channel}: no {channel} folder in {eval_dir}.")
    set_dir = _child(channel_dir, subset)
    if set_dir is not None and set_dir.is_dir():
        return _load_folder(set_dir, f"AISHELL-2 {channel} {subset}")
    archive = next((path for path in channel_dir.iterdir() if path.name.lower() in _archive_names(subset)), None)
    if archive is not None:
        return _load_archive(archive, f"AISHELL-2 {channel} {subset}")
    raise TestSetError(
        f"AISHELL-2 {channel} {subset}: neither a folder {channel_dir / subset} (with wav.scp, trans.txt, wav/) "
        f"nor {channel_dir / (subset + '.tar.gz')}."
    )


def _load_folder(set_dir: Path, label: str) -> CorpusListing:
    scp = _shallowest(set_dir.rglob("wav.scp"))
    trans = _shallowest(set_dir.rglob("trans.txt"))
    texts = _texts(read_table(trans, require_value=False)) if trans else None

    @functools.cache
    def wav_files() -> dict[str, Path]:
        return {path.name: path for path in sorted(set_dir.rglob("*.wav"))}

    entries: list[tuple[str, Path | SkippedUtterance]] = []
    if scp is None:
        logger.warning("%s: no wav.scp under %s; taking every *.wav file there", label, set_dir)
        entries = [(path.stem, path) for path in wav_files().values()]
        if not entries:
            raise TestSetError(f"{label}: no wav.scp and no *.wav files under {set_dir}.")
    else:
        for line in read_table(scp):
            problem = unsupported_entry(line.value)
            if problem:
                entries.append((line.key, SkippedUtterance(line.key, f"{scp}:{line.line_number}", problem)))
                continue
            path = resolve_path(line.value, scp.parent)
            if not path.is_file():
                path = wav_files().get(Path(line.value.replace("\\", "/")).name, path)
            entries.append((line.key, path))

    utterances, skipped = [], []
    for utterance_id, path in entries:
        if isinstance(path, SkippedUtterance):
            skipped.append(skip(path.id, path.location, path.reason))
        elif not path.is_file():
            skipped.append(skip(utterance_id, path, f"no such file (listed in {scp})"))
        elif texts is not None and utterance_id not in texts:
            skipped.append(skip(utterance_id, path, f"no line in {trans}"))
        else:
            utterances.append(_utterance(utterance_id, AudioFile(path), path.parent.name, texts))
    utterances.sort(key=lambda utterance: utterance.id)
    return unique_by_id(utterances, skipped)


def _load_archive(archive: Path, label: str) -> CorpusListing:
    listing = list_archive(archive, read_text=lambda name: posixpath.basename(name) in ("wav.scp", "trans.txt"))
    skipped = [skip(label, archive, listing.error)] if listing.error else []
    members = {member.name: member for member in listing.members}
    by_name: dict[str, ArchiveMember] = {}
    for member in listing.members:
        if member.name.endswith(".wav"):
            by_name.setdefault(posixpath.basename(member.name), member)
    scp_name = _shallowest(name for name in listing.texts if posixpath.basename(name) == "wav.scp")
    trans_name = _shallowest(name for name in listing.texts if posixpath.basename(name) == "trans.txt")
    texts = None
    if trans_name:
        table = _decoded(listing.texts[trans_name], archive, trans_name)
        texts = _texts(parse_table(table, f"{archive}:{trans_name}", require_value=False))

    if scp_name is None:
        logger.warning("%s: no wav.scp in %s; taking every *.wav member", label, archive)
        entries = [(posixpath.basename(name).removesuffix(".wav"), member) for name, member in by_name.items()]
        if not entries:
            raise TestSetError(f"{label}: {archive} holds no wav.scp and no *.wav members.")
    else:
        scp_dir = posixpath.dirname(scp_name)
        entries = []
        for line in parse_table(_decoded(listing.texts[scp_name], archive, scp_name), f"{archive}:{scp_name}"):
            problem = unsupported_entry(line.value)
            if problem:
                entries.append((line.key, SkippedUtterance(line.key, f"{archive}:{scp_name}:{line.line_number}", problem)))
                continue
            wanted = posixpath.normpath(posixpath.join(scp_dir, line.value))
            member = members.get(wanted) or by_name.get(posixpath.basename(line.value.replace("\\", "/")))
            missing = SkippedUtterance(line.key, f"{archive}:{wanted}", f"no such member (listed in {scp_name})")
            entries.append((line.key, member or missing))

    utterances = []
    for utterance_id, member in entries:
        if isinstance(member, SkippedUtterance):
            skipped.append(skip(member.id, member.location, member.reason))
            continue
        source = TarMember(archive, member.name, member.data_offset_bytes, member.size_bytes)
        if texts is not None and utterance_id not in texts:
            skipped.append(skip(utterance_id, source.describe(), f"no line in {trans_name}"))
            continue
        speaker = posixpath.basename(posixpath.dirname(member.name))
        utterances.append(_utterance(utterance_id, source, speaker, texts))
    utterances.sort(key=lambda utterance: utterance.source.data_offset_bytes)
    return unique_by_id(utterances, skipped)


def _utterance(utterance_id: str, source: AudioFile | TarMember, folder: str, texts: dict[str, str] | None) -> Utterance:
    speaker = folder if folder and folder.lower() not in ("wav", "test", "dev") else None
    return Utterance(utterance_id, source, speaker, "zh", None if texts is None else texts[utterance_id])


def _decoded(data: bytes, archive: Path, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TestSetError(f"{archive}:{name}: is not UTF-8 text ({error}).") from None


def _texts(lines) -> dict[str, str]:
    return {line.key: " ".join(line.value.split()) for line in lines}


def _child(folder: Path, name: str) -> Path | None:
    """``folder/name``, matching the name's case loosely (``ios``, ``IOS``, ``iOS``)."""
    exact = folder / name
    if exact.exists():
        return exact
    for child in folder.iterdir():
        if child.name.lower() == name.lower():
            return child
    return None


def _archive_names(subset: str) -> tuple[str, ...]:
    return tuple(subset + suffix for suffix in ARCHIVE_SUFFIXES)


def _shallowest(candidates):
    """The candidate with the fewest path parts (then the first by name), or ``None``."""
    ordered = sorted(candidates, key=lambda item: (len(Path(str(item)).parts), str(item)))
    return ordered[0] if ordered else None
