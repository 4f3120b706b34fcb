"""A reference/degraded pair, read, checked and brought to one rate, ready for every metric.

The degraded signal is resampled to the reference's rate on arrival; from there both go
through the same soxr path (:func:`codecbench.audio.resample`) to whatever rate a metric
runs at, so neither signal is treated differently from the other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Union

import numpy as np
import soundfile

from codecbench.audio import (
    SILENCE_PEAK_DBFS,
    Audio,
    AudioError,
    AudioLimits,
    load_audio,
    peak_dbfs,
    prepare_audio,
    resample,
)
from codecbench.evaluation.metrics.alignment import Alignment, apply_alignment, estimate_alignment
from codecbench.evaluation.metrics.result import MetricError

# Shorter clips are refused before any metric runs: PESQ needs 0.25 s, STOI 30 frames of
# speech (0.4 s), ViSQOL about 1 s (checked by its own metric).
MIN_PAIR_DURATION_S = 0.5
# Codec delays are tens of milliseconds; half a second leaves room for odd pipelines.
DEFAULT_MAX_DELAY_S = 0.5
# A degraded signal this much shorter or longer than its reference is probably not its
# reconstruction (or was cut): warned about, since metrics then compare only part of it.
LENGTH_MISMATCH_S = 0.25
LENGTH_MISMATCH_FRACTION = 0.10

AudioInput = Union[Audio, str, "os.PathLike[str]", tuple[np.ndarray, int]]
"""A signal to score: checked :class:`Audio`, a file path, or ``(samples, sample_rate_hz)``."""


@dataclass(eq=False)
class PreparedPair:
    """A checked pair at the reference's rate.

    Attributes:
        reference: float32 mono reference, ``[n]``.
        degraded: float32 mono degraded signal at the reference's rate (any length).
        sample_rate_hz: the reference's rate.
        max_delay_s: the largest delay alignment searches for.
        warnings: doubts about the inputs that did not stop scoring (a stereo downmix,
            clipping), each naming its signal.
    """

    reference: np.ndarray
    degraded: np.ndarray
    sample_rate_hz: int
    max_delay_s: float = DEFAULT_MAX_DELAY_S
    warnings: tuple[str, ...] = ()
    _resampled: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def duration_s(self) -> float:
        return self.reference.shape[0] / self.sample_rate_hz

    def at_rate(self, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
        """Reference and degraded resampled (both the same way) to ``sample_rate_hz``; cached."""
        if sample_rate_hz not in self._resampled:
            self._resampled[sample_rate_hz] = (
                resample(self.reference, self.sample_rate_hz, sample_rate_hz),
                resample(self.degraded, self.sample_rate_hz, sample_rate_hz),
            )
        return self._resampled[sample_rate_hz]

    @cached_property
    def alignment(self) -> Alignment:
        """Delay and gain of the degraded signal (raises :class:`MetricError` if there is none)."""
        return estimate_alignment(self.reference, self.degraded, self.sample_rate_hz, max_delay_s=self.max_delay_s)

    @cached_property
    def aligned_degraded(self) -> np.ndarray:
        """The degraded signal moved back by the delay, level-matched, and as long as the reference."""
        return apply_alignment(self.degraded, self.alignment, self.reference.shape[0])


def prepare_pair(reference: AudioInput, degraded: AudioInput, *, max_delay_s: float = DEFAULT_MAX_DELAY_S,
                 max_duration_s: float | None = None) -> PreparedPair:
    """Read and check both signals and resample the degraded one to the reference's rate.

    ``max_duration_s``: longer signals are refused (``None``: no limit).

    Raises:
        MetricError: a signal cannot be read, is too short or too long, silent (a constant
            level counts as silent), or holds NaN or infinite samples; the message names the
            signal and what to do.
    """
    limits = AudioLimits(min_duration_s=MIN_PAIR_DURATION_S, max_duration_s=max_duration_s)
    reference_audio = _as_audio(reference, "reference", limits)
    degraded_audio = _as_audio(degraded, "degraded", limits)
    _refuse_silence(
        reference_audio, "there is no sound to compare against; check that the right file was given as the reference"
    )
    _refuse_silence(
        degraded_audio,
        "the system under test produced no audible output, and no metric can say how good silence "
        "is; check the codec's output",
    )
    rate = reference_audio.sample_rate_hz
    return PreparedPair(
        reference=reference_audio.samples,
        degraded=resample(degraded_audio.samples, degraded_audio.sample_rate_hz, rate),
        sample_rate_hz=rate,
        max_delay_s=max_delay_s,
        warnings=reference_audio.warnings + degraded_audio.warnings + _length_mismatch(reference_audio, degraded_audio),
    )


def _length_mismatch(reference: Audio, degraded: Audio) -> tuple[str, ...]:
    difference = abs(degraded.duration_s - reference.duration_s)
    if difference <= max(LENGTH_MISMATCH_S, LENGTH_MISMATCH_FRACTION * reference.duration_s):
        return ()
    return (f"{degraded.source} lasts {degraded.duration_s:.2f} s and {reference.source} "
            f"{reference.duration_s:.2f} s: the metrics compare only the "
            f"{min(degraded.duration_s, reference.duration_s):.2f} s both cover, and a missing end "
            "counts as silence for some; check that the files belong together.",)


def declared_rate_hz(signal: AudioInput) -> int | None:
    """The sample rate a signal says it has, without checking it; ``None`` if unknown (e.g. a
    file that cannot be opened)."""
    if isinstance(signal, Audio):
        return signal.sample_rate_hz
    if isinstance(signal, tuple) and len(signal) == 2:
        return int(signal[1])
    try:
        return int(soundfile.info(str(signal)).samplerate)
    except Exception:  # unreadable or not a soundfile format: the rate is simply unknown
        return None


def _as_audio(signal: AudioInput, role: str, limits: AudioLimits) -> Audio:
    try:
        if isinstance(signal, Audio):
            source = role if signal.source == "<array>" else f"{role} {signal.source}"
            return prepare_audio(signal.samples, signal.sample_rate_hz, source=source, limits=limits)
        if isinstance(signal, (str, Path, os.PathLike)):
            audio = load_audio(signal, limits=limits)
            return replace(audio, source=f"{role} {audio.source}")
        if isinstance(signal, tuple) and len(signal) == 2:
            samples, sample_rate_hz = signal
            return prepare_audio(np.asarray(samples), int(sample_rate_hz), source=role, limits=limits)
    except AudioError as error:
        raise MetricError(f"{role} {error}" if isinstance(signal, (str, Path, os.PathLike)) else str(error)) from None
    raise TypeError(
        f"{role}: expected Audio, a file path or (samples, sample_rate_hz), got {type(signal).__name__}"
    )


def _refuse_silence(audio: Audio, remedy: str) -> None:
    """Refuse a signal with no sound: below the silence level once its constant (DC) level is
    taken away, for a constant offset is no sound either (PESQ would score one, SI-SNR not)."""
    level = peak_dbfs(audio.samples)
    if level < SILENCE_PEAK_DBFS:
        shown = "-inf" if level == -np.inf else f"{level:.1f}"
        raise MetricError(f"{audio.source}: is silent (peak {shown} dBFS); {remedy}.")
    offset = float(np.mean(audio.samples, dtype=np.float64))
    sound = peak_dbfs((audio.samples.astype(np.float64) - offset).astype(np.float32))
    if sound < SILENCE_PEAK_DBFS:
        shown = "-inf" if sound == -np.inf else f"{sound:.1f}"
        raise MetricError(f"{audio.source}: holds only a constant level ({offset:+.3f}, no sound: peak {shown} dBFS "
                          f"around it); {remedy}.")
