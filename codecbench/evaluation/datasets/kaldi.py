"""Kaldi data folders and FunCodec scp lists: ``NAME=wavscp:PATH``.

``wav.scp`` lines are ``<id> <rxfilename>``, split at the first whitespace (so paths may hold
spaces), as lhotse and FunCodec read them; FunCodec's two-column ``input_wav.scp`` is the same
format. Relative paths are taken from the scp's folder (then from the current folder). Only
plain paths are supported: pipe commands (``... |``), ark offsets (``file.ark:123``) and
standard input (``-``) are skipped, each with a message saying what to do instead.

A ``segments`` file next to the scp (``<utt> <recording> <start> <end>``, end ``-1`` for the
end of the file) turns recordings into spans; ``text`` and ``utt2spk`` next to it, when
present, give texts and speakers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from codecbench.evaluation.datasets.sources import AudioFile, AudioSpan
from codecbench.evaluation.datasets.utterance import (
    CorpusListing,
    SkippedUtterance,
    TestSetError,
    Utterance,
    skip,
    unique_by_id,
)

SCP_NAMES = ("wav.scp", "input_wav.scp")
_ARK_OFFSET = re.compile(r"^(.+):(\d+)(\[[^\]]*\])?$")


@dataclass(frozen=True)
class TableLine:
    """One line of a Kaldi table: its key, the rest of the line, and where it is."""

    key: str
    value: str
    line_number: int


def parse_table(text: str, source: str, *, require_value: bool = True) -> list[TableLine]:
    """Lines ``<key> <value...>`` (blank lines ignored). A duplicate key is a configuration error.

    Raises:
        TestSetError: a key repeats (FunCodec refuses that too), or a line has no value when
            ``require_value`` (a Kaldi ``text`` line may be empty; a wav.scp line may not).
    """
    lines: list[TableLine] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.strip().split(maxsplit=1)
        if not fields:
            continue
        if len(fields) < 2 and require_value:
            raise TestSetError(f"{source}:{number}: '{raw.strip()}' has a key but no value; expected '<id> <value>'.")
        key, value = fields[0], fields[1].strip() if len(fields) > 1 else ""
        if key in first_seen:
            raise TestSetError(
                f"{source}:{number}: id '{key}' repeats line {first_seen[key]}; ids must be unique."
            )
        first_seen[key] = number
        lines.append(TableLine(key, value, number))
    return lines


def read_table(path: Path, *, require_value: bool = True) -> list[TableLine]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise TestSetError(f"{path}: is not UTF-8 text ({error}); expected '<id> <value>' lines.") from None
    except OSError as error:
        raise TestSetError(f"{path}: cannot be read ({error}).") from None
    return parse_table(text, str(path), require_value=require_value)


def unsupported_entry(value: str) -> str | None:
    """Why a wav.scp value cannot be read as a file path, or ``None`` if it is a plain path."""
    if value.endswith("|"):
        return (
            "pipe commands in wav.scp are not supported; decode the audio to files first and list "
            "their paths (e.g. `flac -d x.flac -o x.wav`)"
        )
    if value == "-":
        return "standard input in wav.scp is not supported; list audio file paths"
    match = _ARK_OFFSET.match(value)
    if match and (match.group(1).endswith(".ark") or not Path(value).exists()):
        return "ark offsets (file.ark:123) are not supported; write the audio out as wav files and list their paths"
    return None


def resolve_path(value: str, base_dir: Path) -> Path:
    """A wav.scp path: as given if absolute, else relative to the scp's folder, else to the current folder."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    beside = base_dir / path
    if beside.exists() or not path.exists():
        return beside
    return path.resolve()


def find_scp(path: Path) -> Path:
    """The scp file: PATH itself, or wav.scp / input_wav.scp inside the folder PATH."""
    if path.is_file():
        return path
    if path.is_dir():
        for name in SCP_NAMES:
            if (path / name).is_file():
                return path / name
        raise TestSetError(f"wavscp: no {' or '.join(SCP_NAMES)} in the folder {path}; give the scp file's path.")
    raise TestSetError(f"wavscp: no such file {path}; expected a Kaldi wav.scp or FunCodec input_wav.scp.")


def load_wavscp(path: Path) -> CorpusListing:
    """Utterances of a wav.scp (with ``segments``, ``text``, ``utt2spk`` beside it when present), in scp order."""
    scp = find_scp(path)
    base_dir = scp.parent
    recordings = read_table(scp)
    if not recordings:
        raise TestSetError(f"wavscp: {scp} lists no audio.")
    texts = _optional_table(base_dir / "text")
    speakers = _optional_table(base_dir / "utt2spk")
    segments_path = base_dir / "segments"

    sources: dict[str, AudioFile | SkippedUtterance] = {}
    for line in recordings:
        problem = unsupported_entry(line.value)
        location = f"{scp}:{line.line_number}"
        if problem is not None:
            sources[line.key] = SkippedUtterance(line.key, location, problem)
            continue
        audio_path = resolve_path(line.value, base_dir)
        if not audio_path.is_file():
            sources[line.key] = SkippedUtterance(line.key, str(audio_path), f"no such file (listed at {location})")
            continue
        sources[line.key] = AudioFile(audio_path)

    utterances: list[Utterance] = []
    skipped: list[SkippedUtterance] = []
    if segments_path.is_file():
        for segment in read_table(segments_path):
            location = f"{segments_path}:{segment.line_number}"
            span = _parse_segment(segment, location)
            if isinstance(span, SkippedUtterance):
                skipped.append(skip(span.id, span.location, span.reason))
                continue
            recording_id, start_s, end_s = span
            source = sources.get(recording_id)
            if source is None:
                skipped.append(skip(segment.key, location, f"recording '{recording_id}' is not in {scp.name}"))
            elif isinstance(source, SkippedUtterance):
                skipped.append(skip(segment.key, source.location, f"its recording '{recording_id}': {source.reason}"))
            else:
                duration_s = None if end_s is None else end_s - start_s
                utterances.append(_utterance(segment.key, AudioSpan(source.path, start_s, duration_s), texts, speakers))
    else:
        for recording_id, source in sources.items():
            if isinstance(source, SkippedUtterance):
                skipped.append(skip(source.id, source.location, source.reason))
            else:
                utterances.append(_utterance(recording_id, source, texts, speakers))
    return unique_by_id(utterances, skipped)


def _parse_segment(segment: TableLine, location: str) -> tuple[str, float, float | None] | SkippedUtterance:
    fields = segment.value.split()
    if len(fields) != 3:
        return SkippedUtterance(segment.key, location, "expected '<utt> <recording> <start> <end>'")
    recording_id, start_text, end_text = fields
    try:
        start_s, end_s = float(start_text), float(end_text)
    except ValueError:
        return SkippedUtterance(segment.key, location, f"start and end must be numbers, got '{start_text}' '{end_text}'")
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0:
        return SkippedUtterance(segment.key, location, f"invalid span {start_text}-{end_text} s")
    if end_s == -1:
        return recording_id, start_s, None
    if end_s <= start_s:
        return SkippedUtterance(segment.key, location, f"the segment ends ({end_s} s) before it starts ({start_s} s)")
    return recording_id, start_s, end_s


def _optional_table(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {line.key: " ".join(line.value.split()) for line in read_table(path, require_value=False)}


def _utterance(utterance_id: str, source: AudioFile | AudioSpan, texts: dict[str, str], speakers: dict[str, str]) -> Utterance:
    return Utterance(utterance_id, source, speakers.get(utterance_id), None, texts.get(utterance_id))
