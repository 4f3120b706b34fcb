"""Reading a span of a long file (a segment of a long-form corpus) without decoding the whole file."""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile

from codecbench.audio.checks import Audio, AudioError, AudioLimits, _check_duration, check_sample_rate, prepare_audio
from codecbench.audio.reading import _audio_stream, _frame_samples
from codecbench.audio.resampling import resample

# Containers soundfile reads sample-exactly after a seek. (Its Ogg Opus seeking is not to be
# trusted: in libsndfile 1.2 even a zero-length seek upsets the decoder.)
_EXACT_SEEK_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF", "CAF", "AU"})

# Compressed spans are decoded from this long before their start: more than the 80 ms an
# Opus decoder needs to converge after a seek, and more than a resampling filter's reach.
SPAN_MARGIN_S = 0.2


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
