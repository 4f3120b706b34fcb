"""Checked mono audio: the :class:`Audio` every part of codecbench receives, and the checks behind it.

Audio is refused (:class:`AudioError`) for the problems that would make a codec comparison
meaningless (empty, too short or too long, NaN, absurd rates or levels) and annotated with
warnings for the ones that only make it doubtful (silence, clipping, a stereo downmix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 192_000

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
