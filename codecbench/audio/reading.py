"""Reading audio files, on disk or in memory, into checked :class:`~codecbench.audio.Audio`.

soundfile (libsndfile) reads what it can; FFmpeg (PyAV) reads the rest (m4a, unusual
containers). The PyAV helpers here are shared with :mod:`codecbench.audio.spans`.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile

from codecbench.audio.checks import Audio, AudioError, AudioLimits, _check_duration, check_sample_rate, prepare_audio

SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")


def load_audio(path: str | os.PathLike[str], *, limits: AudioLimits = AudioLimits()) -> Audio:
    """Read an audio file, mix it down to mono and check it.

    wav, flac, ogg (Vorbis or Opus) and mp3 are read with soundfile; m4a and anything
    soundfile cannot read go through PyAV (FFmpeg). The duration limit is checked from the
    header before the file is decoded, so an hours-long file is refused without being read.

    Raises:
        AudioError: the file is missing, not audio, corrupt, or fails :func:`check_audio`.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise AudioError(f"{name}: no such file.")
    if path.is_dir():
        raise AudioError(f"{name}: is a folder, not an audio file.")
    if path.stat().st_size == 0:
        raise AudioError(f"{name}: the file is empty (0 bytes).")

    samples, sample_rate_hz, notes = _decode_file(path, name, limits)
    audio = prepare_audio(samples, sample_rate_hz, source=name, limits=limits)
    return replace(audio, warnings=notes + audio.warnings)


def decode_audio_bytes(data: bytes, *, source: str, limits: AudioLimits = AudioLimits()) -> Audio:
    """Decode an audio file held in memory (a member of a tar archive, for instance).

    ``source`` names the file in messages. Same formats and checks as :func:`load_audio`.
    """
    if not data:
        raise AudioError(f"{source}: the file is empty (0 bytes).")
    samples, sample_rate_hz, notes = _decode_file(io.BytesIO(data), source, limits)
    audio = prepare_audio(samples, sample_rate_hz, source=source, limits=limits)
    return replace(audio, warnings=notes + audio.warnings)


def _decode_file(file: Path | io.BytesIO, name: str, limits: AudioLimits) -> tuple[np.ndarray, int, tuple[str, ...]]:
    """Decode a file on disk or in memory to ``[n, channels]`` float32: soundfile first, then
    FFmpeg; with warnings about the file itself (cut short)."""
    soundfile_error: Exception | None = None
    try:
        with soundfile.SoundFile(_rewound(file)) as handle:
            sample_rate_hz = handle.samplerate
            check_sample_rate(sample_rate_hz, source=name)
            if handle.frames > 0:
                _check_duration(handle.frames / sample_rate_hz, name, limits)
            samples = handle.read(dtype="float32", always_2d=True)
            notes = _cut_short(handle, name)
        return samples, sample_rate_hz, notes
    except AudioError:
        raise
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        soundfile_error = error
    try:
        return (*_decode_with_pyav(_rewound(file), name, limits), ())
    except AudioError:
        raise
    except Exception as pyav_error:  # PyAV raises many FFmpeg error types; all mean "unreadable".
        raise AudioError(
            f"{name}: not an audio file codecbench can read, or the file is corrupt "
            f"(soundfile: {soundfile_error}; FFmpeg: {pyav_error}). Supported formats: "
            f"{', '.join(e.lstrip('.') for e in SUPPORTED_EXTENSIONS)}."
        ) from pyav_error


# libsndfile's log of a WAV or AIFF whose header announces more audio than the file holds:
# "data : 99200 (should be 49578)" (WAV), " SSND : 99208 (should be 49581)" (AIFF).
_CUT_SHORT = re.compile(r"^[ \t]*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# The size a writer that cannot seek back (a pipe) leaves in the header: "length unknown",
# not a promise of 4 GB of audio; libsndfile reads what is there, which is all there is.
_UNKNOWN_CHUNK_SIZE = 0xFFFFFFFF


def _cut_short(handle: soundfile.SoundFile, name: str) -> tuple[str, ...]:
    """A warning if the file's header announces more audio than the file holds (a copy or a
    recording that was cut off): libsndfile then reads what is there, silently."""
    match = _CUT_SHORT.search(handle.extra_info)
    if match is None:
        return ()
    announced, present = int(match.group(1)), int(match.group(2))
    if present >= announced or announced == _UNKNOWN_CHUNK_SIZE:
        return ()
    read_s = handle.frames / handle.samplerate
    return (f"{name}: the file is cut short: its header announces {announced} bytes of audio "
            f"({read_s * announced / max(present, 1):.2f} s) but it holds {present} ({read_s:.2f} s, which were read); "
            "it was probably not copied or written completely.",)


def _rewound(file: Path | io.BytesIO) -> Path | io.BytesIO:
    if isinstance(file, io.BytesIO):
        file.seek(0)
    return file


def _decode_with_pyav(file: Path | io.BytesIO, name: str, limits: AudioLimits) -> tuple[np.ndarray, int]:
    import av  # imported here: only m4a and unusual files need FFmpeg

    with av.open(str(file) if isinstance(file, Path) else file) as container:
        stream = _audio_stream(container, name)
        sample_rate_hz = stream.codec_context.sample_rate or stream.rate
        if stream.duration is not None and stream.time_base is not None:
            _check_duration(float(stream.duration * stream.time_base), name, limits)
        channels = stream.codec_context.channels or 1
        chunks = [_frame_samples(frame, channels) for frame in container.decode(stream)]
    if not chunks:
        return np.zeros((0, 1), dtype=np.float32), sample_rate_hz
    return np.concatenate(chunks, axis=0), sample_rate_hz


def _audio_stream(container, name: str):
    """The first audio stream of a PyAV container, with a usable sample rate."""
    if not container.streams.audio:
        raise AudioError(f"{name}: contains no audio stream.")
    stream = container.streams.audio[0]
    sample_rate_hz = stream.codec_context.sample_rate or stream.rate
    if not sample_rate_hz:
        raise AudioError(f"{name}: the audio stream has no sample rate.")
    check_sample_rate(sample_rate_hz, source=name)
    return stream


def _frame_samples(frame, channels: int) -> np.ndarray:
    """A decoded PyAV frame as float32 ``[n, channels]``."""
    array = frame.to_ndarray()
    if frame.format.is_planar:
        array = array.T  # [channels, n] -> [n, channels]
    else:
        array = array.reshape(-1, channels)
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    return array.astype(np.float32, copy=False)
