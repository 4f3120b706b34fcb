"""Writing audio files: the container follows the extension, the sample format is checked first."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile

from codecbench.audio.checks import AudioError

#: Sample formats ``write_audio`` writes to .wav and .flac, and the largest value each holds.
PCM_SUBTYPES = {"PCM_16": 32767 / 32768, "PCM_24": 8388607 / 8388608}
OUTPUT_SUBTYPES = (*PCM_SUBTYPES, "FLOAT")
DEFAULT_OUTPUT_SUBTYPE = "PCM_16"
_OUTPUT_CONTAINERS = {".wav": ("WAV", OUTPUT_SUBTYPES), ".flac": ("FLAC", tuple(PCM_SUBTYPES)), ".ogg": ("OGG", ("VORBIS",))}


def output_format(path: str | os.PathLike[str], subtype: str | None = None) -> tuple[str, str]:
    """The container and sample format :func:`write_audio` uses for ``path`` and ``subtype``
    (``None``: PCM_16 for .wav and .flac, Vorbis for .ogg), checked before any work is done.

    Raises:
        AudioError: an extension or a subtype this container cannot hold.
    """
    path = Path(path)
    extension = path.suffix.lower()
    if extension not in _OUTPUT_CONTAINERS:
        raise AudioError(
            f"{path}: cannot write '{extension or 'no extension'}' files; "
            f"use one of {', '.join(_OUTPUT_CONTAINERS)}."
        )
    file_format, subtypes = _OUTPUT_CONTAINERS[extension]
    if subtype is None:
        return file_format, subtypes[0] if extension == ".ogg" else DEFAULT_OUTPUT_SUBTYPE
    subtype = subtype.upper()
    if subtype in subtypes:
        return file_format, subtype
    if subtype not in OUTPUT_SUBTYPES:
        raise AudioError(f"sample format {subtype!r} is not one of {', '.join(OUTPUT_SUBTYPES)}.")
    if extension == ".ogg":
        raise AudioError(f"{path}: .ogg files are Vorbis (lossy) and take no sample format; write .wav or .flac for {subtype}.")
    raise AudioError(f"{path}: {extension} files cannot hold {subtype} samples; use one of {', '.join(subtypes)}, or write .wav.")


def write_audio(
    path: str | os.PathLike[str], samples: np.ndarray, sample_rate_hz: int, subtype: str | None = None
) -> Path:
    """Write mono audio; the container follows the extension (.wav, .flac, .ogg).

    ``subtype`` is the sample format of .wav and .flac files: ``PCM_16`` (the default),
    ``PCM_24`` or ``FLOAT`` (.wav only: 32-bit float, every value exactly as computed, even
    beyond full scale). PCM samples beyond full scale are clipped, as any PCM file would. A
    16-bit file rounds to 1/32768 of full scale: for a quiet reconstruction (peak 0.015) that
    is about 1e-3 of its peak; use PCM_24 or FLOAT to keep a codec's output as it was. .ogg
    files are Vorbis (lossy) and take no subtype.

    Raises:
        AudioError: see :func:`output_format`.
    """
    path = Path(path)
    file_format, subtype = output_format(path, subtype)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.asarray(samples, dtype=np.float32)
    if subtype in PCM_SUBTYPES:
        samples = np.clip(samples, -1.0, PCM_SUBTYPES[subtype])
    elif subtype != "FLOAT":
        samples = np.clip(samples, -1.0, 1.0)
    soundfile.write(path, samples, sample_rate_hz, format=file_format, subtype=subtype)
    return path
