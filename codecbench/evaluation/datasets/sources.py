"""Where an utterance's audio lives: a whole file, a span of a long file, or a member of a tar archive.

Sources are plain values: loaders make them without touching the audio, the runner stores
them (:meth:`to_dict`) so an utterance can be read again later without re-indexing its corpus,
and :meth:`read` is the one way to get the samples, through :mod:`codecbench.audio`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.audio import Audio, AudioLimits, decode_audio_bytes, load_audio, load_audio_span


@dataclass(frozen=True)
class AudioFile:
    """A whole audio file."""

    path: Path

    def read(self, limits: AudioLimits = AudioLimits()) -> Audio:
        return load_audio(self.path, limits=limits)

    def describe(self) -> str:
        return str(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "file", "path": str(self.path)}


@dataclass(frozen=True)
class AudioSpan:
    """``duration_s`` seconds from ``start_s`` of a long file (``duration_s=None``: to its end).

    Args:
        sample_rate_hz: the rate to deliver the span at, when the corpus defines one that
            decoding does not give (GigaSpeech and WenetSpeech are 16 kHz material in Opus,
            which FFmpeg decodes at 48 kHz). ``None`` keeps the file's rate.
    """

    path: Path
    start_s: float
    duration_s: float | None = None
    sample_rate_hz: int | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.start_s) or self.start_s < 0:
            raise ValueError(f"start_s must be a finite time >= 0, got {self.start_s}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ValueError(f"duration_s must be a finite time > 0 or None, got {self.duration_s}")
        if self.sample_rate_hz is not None and self.sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive or None, got {self.sample_rate_hz}")

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.start_s + self.duration_s

    def read(self, limits: AudioLimits = AudioLimits()) -> Audio:
        return load_audio_span(
            self.path, self.start_s, self.duration_s, sample_rate_hz=self.sample_rate_hz, limits=limits
        )

    def describe(self) -> str:
        end = "end" if self.end_s is None else f"{self.end_s:.3f} s"
        return f"{self.path} [{self.start_s:.3f} s to {end}]"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "span",
            "path": str(self.path),
            "start_s": self.start_s,
            "duration_s": self.duration_s,
            "sample_rate_hz": self.sample_rate_hz,
        }


@dataclass(frozen=True)
class TarMember:
    """A file inside a tar archive (plain or gzip-compressed), read without extracting it.

    Args:
        member: the member's name in the archive.
        data_offset_bytes, size_bytes: where its data lies in the uncompressed archive, as
            found when the archive was indexed; ``None`` makes :meth:`read` look it up.
    """

    archive: Path
    member: str
    data_offset_bytes: int | None = None
    size_bytes: int | None = None

    def __post_init__(self) -> None:
        if (self.data_offset_bytes is None) != (self.size_bytes is None):
            raise ValueError("data_offset_bytes and size_bytes must be given together")

    def read(self, limits: AudioLimits = AudioLimits()) -> Audio:
        from codecbench.evaluation.datasets.archives import read_member

        data = read_member(self.archive, self.member, self.data_offset_bytes, self.size_bytes)
        return decode_audio_bytes(data, source=self.describe(), limits=limits)

    def describe(self) -> str:
        return f"{self.archive}:{self.member}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "tar-member",
            "archive": str(self.archive),
            "member": self.member,
            "data_offset_bytes": self.data_offset_bytes,
            "size_bytes": self.size_bytes,
        }


AudioSource = AudioFile | AudioSpan | TarMember


def source_from_dict(data: dict[str, Any]) -> AudioSource:
    """The inverse of ``to_dict``, for sources stored in a database or a manifest."""
    kind = data.get("kind")
    if kind == "file":
        return AudioFile(Path(data["path"]))
    if kind == "span":
        return AudioSpan(Path(data["path"]), data["start_s"], data.get("duration_s"), data.get("sample_rate_hz"))
    if kind == "tar-member":
        return TarMember(Path(data["archive"]), data["member"], data.get("data_offset_bytes"), data.get("size_bytes"))
    raise ValueError(f"unknown audio source kind {kind!r}; expected one of 'file', 'span', 'tar-member'")
