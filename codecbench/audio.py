"""Audio I/O and preparation: the one place where codecbench reads, checks and reshapes audio.

Everything downstream (codecs, metrics, the app) receives :class:`Audio`: mono float32
samples in [-1, 1] with their sample rate, already checked for the problems that would make a
codec comparison meaningless (empty, too short, NaN, absurd rates) and annotated with
warnings for the ones that only make it doubtful (silence, clipping, a stereo downmix).
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
import soxr

MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 192_000
SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a")

# Below this peak level a clip is reported as silent: -60 dBFS is the floor of a quiet
# 16-bit recording room, far below any speech a codec comparison would use.
SILENCE_PEAK_DBFS = -60.0
# A sample at or above this magnitude counts as clipped (int16 full scale is 32767/32768).
CLIP_LEVEL = 0.999
# Clipping is reported when it affects more than this fraction of samples, or forms a run of
# CLIP_RUN_SAMPLES consecutive full-scale samples (a single full-scale peak is legitimate).
CLIP_FRACTION = 1e-3
CLIP_RUN_SAMPLES = 3
# Float samples peaking above this (+60 dBFS) are not audio at any usable level but a scaling
# error (a float file written without normalising, or scaled by 1e30): refused, not clipped.
MAX_FLOAT_PEAK = 1000.0

# Containers soundfile reads sample-exactly after a seek. (Its Ogg Opus seeking is not to be
# trusted: in libsndfile 1.2 even a zero-length seek upsets the decoder.)
_EXACT_SEEK_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF", "CAF", "AU"})

# Compressed spans are decoded from this long before their start: more than the 80 ms an
# Opus decoder needs to converge after a seek, and more than a resampling filter's reach.
SPAN_MARGIN_S = 0.2


class AudioError(ValueError):
    """Audio that cannot be used; the message names the input, the problem and the remedy."""


@dataclass(frozen=True)
class AudioLimits:
    """What input :func:`load_audio` and :func:`check_audio` accept.

    Args:
        min_duration_s: shorter input is refused (codec frames and metrics need context).
        max_duration_s: longer input is refused; ``None`` means no limit.
    """

    min_duration_s: float = 0.5
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0):
            raise ValueError(f"min_duration_s must be a number >= 0, got {self.min_duration_s}")
        if self.max_duration_s is not None and not math.isfinite(self.max_duration_s):
            raise ValueError(f"max_duration_s must be a number of seconds (or None for no limit), got {self.max_duration_s}")
        if self.max_duration_s is not None and self.max_duration_s <= self.min_duration_s:
            raise ValueError(
                f"max_duration_s ({self.max_duration_s}) must exceed min_duration_s "
                f"({self.min_duration_s})"
            )


@dataclass(frozen=True)
class Audio:
    """Mono audio ready for a codec or a metric.

    Attributes:
        samples: float32 array of shape ``[num_samples]``, nominally in [-1, 1].
        sample_rate_hz: sampling rate of ``samples``.
        source: file path, or a short description for in-memory audio.
        source_channels: number of channels before the mono downmix.
        warnings: problems that do not prevent use but should be shown to the user.
    """

    samples: np.ndarray
    sample_rate_hz: int
    source: str = "<array>"
    source_channels: int = 1
    warnings: tuple[str, ...] = field(default=())

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate_hz


# --------------------------------------------------------------------------------------
# Reading and writing


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


def load_audio_span(
    path: str | os.PathLike[str],
    start_s: float,
    duration_s: float | None,
    *,
    sample_rate_hz: int | None = None,
    limits: AudioLimits = AudioLimits(),
) -> Audio:
    """Read ``duration_s`` seconds from ``start_s`` (``None``: to the end) of a long file.

    Only the span is decoded, never the whole file: wav, flac and other PCM containers are
    read sample-exactly after a seek; compressed files (Opus, Vorbis, mp3, ...) are decoded with
    FFmpeg from a seek point :data:`SPAN_MARGIN_S` before the span, so the decoder has settled
    when the span starts. Ogg Opus decodes at 48 kHz; the result is resampled to the rate the
    file was made from (its OpusHead), the way soundfile and :func:`load_audio` read Opus.

    Args:
        sample_rate_hz: resample the span to this rate (a corpus's nominal rate, e.g. 16 kHz
            for GigaSpeech and WenetSpeech); ``None`` keeps the file's rate.
        limits: checked on the span, not the file.

    Raises:
        AudioError: the file is missing or unreadable, or the span is invalid or starts past
            the end. A span that runs past the end is cut short, with a warning.
    """
    path = Path(path)
    end_text = "end" if duration_s is None else f"{start_s + duration_s:.3f} s"
    name = f"{path} [{start_s:.3f} s to {end_text}]"
    if not path.is_file():
        raise AudioError(f"{path}: no such file.")
    if not math.isfinite(start_s) or start_s < 0:
        raise AudioError(f"{name}: the span must start at a time >= 0 s.")
    if duration_s is not None:
        if not math.isfinite(duration_s) or duration_s <= 0:
            raise AudioError(f"{name}: the span must last more than 0 s.")
        _check_duration(duration_s, name, limits)

    try:
        with soundfile.SoundFile(path) as handle:
            exact = handle.format in _EXACT_SEEK_FORMATS
            if exact:
                samples, file_rate_hz, wanted = _read_span_exactly(handle, start_s, duration_s, name, limits)
    except AudioError:
        raise
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        exact = False
    if exact:
        target_hz = sample_rate_hz or file_rate_hz
        samples = resample(samples, file_rate_hz, target_hz)
        wanted = round(wanted * target_hz / file_rate_hz)
    else:
        try:
            samples, target_hz, wanted = _decode_span_with_pyav(path, start_s, duration_s, sample_rate_hz, name)
        except AudioError:
            raise
        except Exception as error:  # PyAV raises many FFmpeg error types; all mean "unreadable".
            raise AudioError(f"{name}: FFmpeg cannot read the span ({error}); the file may be corrupt.") from error

    warnings = []
    if samples.shape[0] < wanted - target_hz // 100:
        warnings.append(
            f"{name}: the file ends {samples.shape[0] / target_hz:.3f} s into the span; "
            "the span was cut short there."
        )
    audio = prepare_audio(samples, target_hz, source=name, limits=limits)
    return replace(audio, warnings=audio.warnings + tuple(warnings))


def prepare_audio(
    samples: np.ndarray,
    sample_rate_hz: int,
    *,
    source: str = "<array>",
    limits: AudioLimits = AudioLimits(),
) -> Audio:
    """Turn decoded samples (``[n]`` or ``[n, channels]``, any dtype) into checked mono :class:`Audio`."""
    samples = np.asarray(samples)
    if samples.ndim not in (1, 2):
        raise AudioError(f"{source}: expected samples shaped [n] or [n, channels], got {samples.shape}.")
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples.astype(np.float32) / float(np.iinfo(samples.dtype).max + 1)
    samples = samples.astype(np.float32, copy=False)

    warnings: list[str] = []
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    if samples.ndim == 2:
        if channels == 0:
            raise AudioError(f"{source}: the audio has no channels.")
        if channels > 1:
            warnings.append(
                f"{source}: had {channels} channels; mixed down to mono by averaging them."
            )
        samples = samples.mean(axis=1, dtype=np.float32)

    warnings += check_audio(samples, sample_rate_hz, source=source, limits=limits)
    return Audio(
        samples=np.ascontiguousarray(samples),
        sample_rate_hz=int(sample_rate_hz),
        source=source,
        source_channels=channels,
        warnings=tuple(warnings),
    )


def check_audio(
    samples: np.ndarray,
    sample_rate_hz: int,
    *,
    source: str = "<array>",
    limits: AudioLimits = AudioLimits(),
) -> list[str]:
    """Refuse unusable mono audio with :class:`AudioError`; return warnings for doubtful audio."""
    check_sample_rate(sample_rate_hz, source=source)
    if samples.size == 0:
        raise AudioError(f"{source}: contains no audio samples.")
    _check_duration(samples.shape[0] / sample_rate_hz, source, limits)

    finite = np.isfinite(samples)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise AudioError(
            f"{source}: contains {bad.size} NaN or infinite sample(s), the first at "
            f"{bad[0] / sample_rate_hz:.3f} s. Re-export the audio from its source."
        )

    warnings = []
    peak = float(np.max(np.abs(samples)))
    if peak > MAX_FLOAT_PEAK:
        raise AudioError(
            f"{source}: peaks at {peak:.3g}, {20 * math.log10(peak):.0f} dB above full scale (1.0); float "
            "samples this large are a scaling error, not audio. Normalise the file to [-1, 1] and try again."
        )
    if peak == 0.0 or 20 * math.log10(peak) < SILENCE_PEAK_DBFS:
        level = "-inf" if peak == 0.0 else f"{20 * math.log10(peak):.1f}"
        warnings.append(
            f"{source}: is silent (peak {level} dBFS); codec outputs and scores will not "
            "say anything about speech quality."
        )
    clipped = np.abs(samples) >= CLIP_LEVEL
    num_clipped = int(clipped.sum())
    if num_clipped and (
        num_clipped > CLIP_FRACTION * samples.size or _longest_run(clipped) >= CLIP_RUN_SAMPLES
    ):
        warnings.append(
            f"{source}: {num_clipped} sample(s) ({100 * num_clipped / samples.size:.2f} %) are "
            "at full scale, so the recording is clipped; codecs and metrics will treat the "
            "distortion as part of the signal."
        )
    return warnings


def check_sample_rate(sample_rate_hz: int, *, source: str = "<array>") -> None:
    """Refuse sample rates outside the 8-192 kHz range codecbench supports."""
    if not MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ:
        raise AudioError(
            f"{source}: sample rate {sample_rate_hz} Hz is outside the supported range "
            f"{MIN_SAMPLE_RATE_HZ}-{MAX_SAMPLE_RATE_HZ} Hz. Resample it first "
            "(e.g. `sox in.wav -r 16000 out.wav`)."
        )


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


def _read_span_exactly(
    handle: soundfile.SoundFile, start_s: float, duration_s: float | None, name: str, limits: AudioLimits
) -> tuple[np.ndarray, int, int]:
    """Mono samples of the span, the file's rate and the number of samples the span asked for."""
    rate = handle.samplerate
    check_sample_rate(rate, source=name)
    first = round(start_s * rate)
    if first >= handle.frames:
        raise AudioError(f"{name}: the span starts after the end of the file ({handle.frames / rate:.3f} s).")
    wanted = handle.frames - first if duration_s is None else round(duration_s * rate)
    _check_duration(min(wanted, handle.frames - first) / rate, name, limits)
    handle.seek(first)
    samples = handle.read(wanted, dtype="float32", always_2d=True)
    return samples.mean(axis=1, dtype=np.float32), rate, wanted


def _decode_span_with_pyav(
    path: Path, start_s: float, duration_s: float | None, sample_rate_hz: int | None, name: str
) -> tuple[np.ndarray, int, int]:
    """Decode a span with FFmpeg; mono samples at the target rate, that rate, samples asked for."""
    import av

    with av.open(str(path)) as container:
        stream = _audio_stream(container, name)
        rate = stream.codec_context.sample_rate or stream.rate
        target_hz = sample_rate_hz or _opus_input_rate_hz(stream) or rate
        channels = stream.codec_context.channels or 1
        first = round(start_s * rate)
        wanted = None if duration_s is None else round(duration_s * rate)
        # Start decoding on a sample that is also on the target rate's grid, so the resampled
        # span is aligned exactly as it would be in a resampled decode of the whole file.
        step = rate // math.gcd(rate, target_hz)
        chunk_first = max(0, first - round(SPAN_MARGIN_S * rate)) // step * step
        chunk_end = None if wanted is None else first + wanted + round(SPAN_MARGIN_S * rate)
        chunk = _decode_samples_between(container, stream, chunk_first, chunk_end, channels, rate, seek=chunk_first > 0)
    if chunk is None:  # the seek overshot or the stream has no timestamps: decode from the top
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            chunk = _decode_samples_between(container, stream, chunk_first, chunk_end, channels, rate, seek=False)
    mono = chunk.mean(axis=1, dtype=np.float32)
    if mono.shape[0] <= first - chunk_first:
        raise AudioError(f"{name}: the span starts after the end of the file.")
    resampled = resample(mono, rate, target_hz)
    offset = round((first - chunk_first) * target_hz / rate)
    if wanted is None:
        return resampled[offset:], target_hz, resampled.shape[0] - offset
    wanted_target = round(wanted * target_hz / rate)
    return resampled[offset : offset + wanted_target], target_hz, wanted_target


def _decode_samples_between(container, stream, first: int, end: int | None, channels: int, rate: int, *, seek: bool):
    """Samples ``[first, end)`` of the stream as ``[n, channels]``; ``None`` if a seek cannot be placed.

    Without ``seek``, decoding starts at the top and samples are counted, as in a decode of the
    whole file. With it, the first frame is placed by its timestamp relative to the stream's
    start (for Opus, the pre-skip), which agrees with that count.
    """
    position = 0
    if seek:
        time_base = stream.time_base
        stream_start = stream.start_time or 0
        container.seek(int(first / rate / time_base) + stream_start, stream=stream, backward=True, any_frame=False)
        position = None
    pieces = []
    for frame in container.decode(stream):
        samples = _frame_samples(frame, channels)
        if position is None:
            if frame.pts is None:
                return None
            position = round(float((frame.pts - stream_start) * time_base) * rate)
            if position > first:
                return None
        if position + samples.shape[0] > first:
            pieces.append(samples[max(0, first - position) :])
        position += samples.shape[0]
        if end is not None and position >= end:
            break
    if not pieces:
        return np.zeros((0, channels), np.float32)
    chunk = np.concatenate(pieces, axis=0)
    return chunk if end is None else chunk[: end - first]


def _opus_input_rate_hz(stream) -> int | None:
    """The rate an Ogg Opus file was encoded from, read from its OpusHead; ``None`` if not Opus."""
    header = bytes(stream.codec_context.extradata or b"")
    if stream.codec_context.name != "opus" or len(header) < 16 or not header.startswith(b"OpusHead"):
        return None
    input_rate_hz = int.from_bytes(header[12:16], "little")
    return input_rate_hz if input_rate_hz in (8_000, 12_000, 16_000, 24_000, 48_000) else None


def _check_duration(duration_s: float, source: str, limits: AudioLimits) -> None:
    if duration_s < limits.min_duration_s:
        raise AudioError(
            f"{source}: is {duration_s:.3f} s long; at least {limits.min_duration_s:g} s is "
            "needed for codec frames and metrics to mean anything."
        )
    if limits.max_duration_s is not None and duration_s > limits.max_duration_s:
        raise AudioError(
            f"{source}: is {duration_s:.1f} s long, over the limit of "
            f"{limits.max_duration_s:g} s. Cut it into shorter clips, or raise the limit "
            "(--max-duration)."
        )


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[0::2]).max())


# --------------------------------------------------------------------------------------
# Resampling, length and level


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample mono float audio with soxr's very-high-quality linear-phase filter.

    soxr compensates its own filter delay, so the output is time-aligned with the input and
    has ``round(len * to_hz / from_hz)`` samples.
    """
    if from_hz == to_hz:
        return np.asarray(samples, dtype=np.float32)
    return soxr.resample(np.asarray(samples, dtype=np.float32), from_hz, to_hz, quality="VHQ")


def fit_length(samples: np.ndarray, num_samples: int) -> np.ndarray:
    """Trim, or pad with zeros at the end, to exactly ``num_samples``."""
    if samples.shape[0] >= num_samples:
        return samples[:num_samples]
    return np.concatenate([samples, np.zeros(num_samples - samples.shape[0], dtype=samples.dtype)])


def peak_dbfs(samples: np.ndarray) -> float:
    """Peak level in dB relative to full scale (``-inf`` for digital silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to the RMS of a full-scale square wave (``-inf`` for silence)."""
    mean_square = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    return 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


def apply_gain_db(samples: np.ndarray, gain_db: float) -> np.ndarray:
    return (np.asarray(samples, dtype=np.float32) * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def k_weighting_sos(sample_rate_hz: int) -> np.ndarray:
    """ITU-R BS.1770 K-weighting (high shelf then high pass) as second-order sections.

    BS.1770 tabulates the coefficients for 48 kHz only; these are the analogue prototypes
    behind that table, bilinear-transformed for any rate (they reproduce the table at 48 kHz).
    """
    k = math.tan(math.pi * 1681.974450955533 / sample_rate_hz)
    q = 0.7071752369554196
    v_high = 10 ** (3.999843853973347 / 20)
    v_band = v_high**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [
        (v_high + v_band * k / q + k * k) / a0,
        2 * (k * k - v_high) / a0,
        (v_high - v_band * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    k = math.tan(math.pi * 38.13547087602444 / sample_rate_hz)
    q = 0.5003270373238773
    a0 = 1 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def loudness_lufs(samples: np.ndarray, sample_rate_hz: int) -> float:
    """Integrated loudness of mono audio per ITU-R BS.1770-4 (gated, K-weighted), in LUFS.

    Returns ``-inf`` when every 400 ms block falls below the -70 LUFS absolute gate.
    """
    weighted = scipy.signal.sosfilt(k_weighting_sos(sample_rate_hz), np.asarray(samples, np.float64))
    block = int(round(0.4 * sample_rate_hz))
    step = int(round(0.1 * sample_rate_hz))
    if weighted.size < block:
        powers = np.array([np.mean(weighted**2)])
    else:
        squares = np.concatenate([[0.0], np.cumsum(weighted**2)])
        starts = np.arange(0, weighted.size - block + 1, step)
        powers = (squares[starts + block] - squares[starts]) / block
    with np.errstate(divide="ignore"):
        block_loudness = -0.691 + 10 * np.log10(powers)
    above_absolute = powers[block_loudness > -70.0]
    if above_absolute.size == 0:
        return -math.inf
    relative_gate = -0.691 + 10 * math.log10(above_absolute.mean()) - 10.0
    with np.errstate(divide="ignore"):
        gated = above_absolute[-0.691 + 10 * np.log10(above_absolute) > relative_gate]
    return -0.691 + 10 * math.log10(gated.mean())


def normalize_loudness(samples: np.ndarray, sample_rate_hz: int, target_lufs: float) -> np.ndarray:
    """Scale audio to an integrated loudness; silent audio is returned unchanged."""
    current = loudness_lufs(samples, sample_rate_hz)
    if not math.isfinite(current):
        return np.asarray(samples, dtype=np.float32)
    return apply_gain_db(samples, target_lufs - current)


# --------------------------------------------------------------------------------------
# Alignment


def estimate_delay_samples(
    reference: np.ndarray, degraded: np.ndarray, *, max_delay_samples: int
) -> int:
    """Delay of ``degraded`` relative to ``reference`` by waveform cross-correlation.

    Positive means ``degraded`` lags (``degraded[n] ~ reference[n - delay]``). The search is
    limited to ``|delay| <= max_delay_samples``. Right for waveform-matching codecs; for
    parametric vocoders, whose output phase is synthetic, use
    :func:`estimate_envelope_delay_samples`.
    """
    n = min(reference.shape[0], degraded.shape[0])
    correlation = scipy.signal.correlate(
        np.asarray(degraded[:n], np.float64), np.asarray(reference[:n], np.float64), mode="full", method="fft"
    )
    return _best_lag(correlation, n, max_delay_samples)


def estimate_envelope_delay_samples(
    reference: np.ndarray,
    degraded: np.ndarray,
    sample_rate_hz: int,
    *,
    max_delay_samples: int,
    resolution_samples: int | None = None,
) -> int:
    """Delay of ``degraded`` relative to ``reference`` from their spectral envelopes.

    Cross-correlates band-energy trajectories (24 log-spaced bands from 100 Hz to 3.8 kHz,
    where every speech codec keeps the formants, 32 ms windows, a hop of
    about 0.5 ms, energies compressed by a fourth root so that loud and quiet passages both
    count but near-silence does not dominate), summed over bands. Vocoders such as Codec 2
    synthesise their own phase, so their waveforms hardly correlate with the input, but their
    formant and energy trajectories do. Same sign convention as :func:`estimate_delay_samples`.
    """
    hop = resolution_samples or max(1, sample_rate_hz // 2000)
    reference_bands = _band_energy_trajectories(reference, sample_rate_hz, hop)
    degraded_bands = _band_energy_trajectories(degraded, sample_rate_hz, hop)
    n = min(reference_bands.shape[1], degraded_bands.shape[1])
    total = np.zeros(2 * n - 1)
    for ref_band, deg_band in zip(reference_bands[:, :n], degraded_bands[:, :n]):
        total += scipy.signal.correlate(deg_band, ref_band, mode="full", method="fft")
    return _best_lag(total, n, max_delay_samples // hop) * hop


def _best_lag(correlation: np.ndarray, n: int, max_lag: int) -> int:
    lags = np.arange(-(n - 1), n)
    window = np.abs(lags) <= max_lag
    return int(lags[window][np.argmax(correlation[window])])


def _band_energy_trajectories(samples: np.ndarray, sample_rate_hz: int, hop: int) -> np.ndarray:
    window_length = int(2 ** round(math.log2(0.032 * sample_rate_hz)))
    _, _, spectrum = scipy.signal.stft(
        np.asarray(samples, np.float64),
        fs=sample_rate_hz,
        window="hann",
        nperseg=window_length,
        noverlap=window_length - hop,
        boundary="zeros",
        padded=True,
    )
    power = np.abs(spectrum) ** 2
    frequencies = np.linspace(0, sample_rate_hz / 2, power.shape[0])
    edges = np.geomspace(100.0, 3800.0, 25)
    bands = np.stack(
        [power[(frequencies >= lo) & (frequencies < hi)].sum(axis=0) for lo, hi in zip(edges[:-1], edges[1:])]
    )
    compressed = bands**0.25
    return compressed - compressed.mean(axis=1, keepdims=True)
