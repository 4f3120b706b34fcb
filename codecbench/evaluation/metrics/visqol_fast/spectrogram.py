"""Gammatone spectrograms as ViSQOL builds them, and their preparation for comparison."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from codecbench.evaluation.metrics.visqol_fast import kernels

MIN_FREQUENCY_HZ = 50.0
SPEECH_MAX_FREQUENCY_HZ = 8000.0
WINDOW_S = 0.08
HOP_FRACTION = 0.25
NOISE_FLOOR_ABSOLUTE_DB = -45.0
NOISE_FLOOR_BELOW_PEAK_DB = 45.0


@dataclass(frozen=True, eq=False)
class Filterbank:
    """ViSQOL's gammatone filterbank at one rate: bands from high to low centre frequency,
    each a cascade of four biquads sharing a denominator, applied to Hann-windowed frames."""

    sample_rate_hz: int
    window: np.ndarray
    hop: int
    numerators: np.ndarray
    denominators: np.ndarray

    @property
    def frame_length(self) -> int:
        return self.window.shape[0]

    @property
    def frame_duration_s(self) -> float:
        """Seconds between frames (ViSQOL's "frame duration")."""
        return self.hop / float(self.sample_rate_hz)

    def num_frames(self, num_samples: int) -> int:
        return 1 + (num_samples - self.frame_length) // self.hop

    def spectrogram(self, samples: np.ndarray) -> np.ndarray:
        """``(bands, frames)`` RMS energies of ``samples`` (float64, longer than one frame)."""
        if samples.shape[0] <= self.frame_length:
            raise ValueError(f"{samples.shape[0]} samples are too few for a spectrogram (more than {self.frame_length} needed)")
        return kernels.gammatone_spectrogram(
            samples, self.window, self.numerators, self.denominators, self.hop, self.num_frames(samples.shape[0])
        )


@cache
def filterbank(sample_rate_hz: int, bands: int, speech_mode: bool) -> Filterbank:
    """The filterbank ViSQOL uses at this rate: ``bands`` ERB-spaced bands from 50 Hz to 8 kHz
    (speech mode) or to half the rate (audio mode); 80 ms frames, a quarter-frame hop.

    The filter coefficients come from visqol-python's own ``make_erb_filters`` (Slaney's
    gammatone design), so both implementations filter with the same numbers.
    """
    from visqol.gammatone import make_erb_filters

    max_frequency = SPEECH_MAX_FREQUENCY_HZ if speech_mode else sample_rate_hz / 2.0
    coefficients = make_erb_filters(sample_rate_hz, bands, MIN_FREQUENCY_HZ, max_frequency).filter_coeffs[:, ::-1]
    a0, a11, a12, a13, a14, a2, b0, b1, b2, gain = coefficients
    numerators = np.stack(
        [
            np.column_stack([a0 / gain, a11 / gain, a2 / gain]),
            np.column_stack([a0, a12, a2]),
            np.column_stack([a0, a13, a2]),
            np.column_stack([a0, a14, a2]),
        ]
    )
    size = round(sample_rate_hz * WINDOW_S)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / (size - 1))
    return Filterbank(
        sample_rate_hz=sample_rate_hz,
        window=np.ascontiguousarray(window, dtype=np.float64),
        hop=int(size * HOP_FRACTION),
        numerators=np.ascontiguousarray(numerators, dtype=np.float64),
        denominators=np.ascontiguousarray(np.column_stack([b0, b1, b2]), dtype=np.float64),
    )


def to_db(energies: np.ndarray) -> np.ndarray:
    """10 log10 of the energies, exact zeros counted as machine epsilon, floored at -45 dB."""
    magnitude = np.abs(energies)
    magnitude = np.where(magnitude == 0, np.finfo(np.float64).eps, magnitude)
    return np.maximum(10.0 * np.log10(magnitude), NOISE_FLOOR_ABSOLUTE_DB)


def prepare_for_comparison(reference_db: np.ndarray, degraded_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both spectrograms (already in dB, from :func:`to_db`) floored at 45 dB below the louder
    of the two in each common frame, then shifted so the lowest cell of either is 0 dB."""
    reference = reference_db.copy()
    degraded = degraded_db.copy()
    common = min(reference.shape[1], degraded.shape[1])
    floor = np.maximum(reference[:, :common].max(axis=0), degraded[:, :common].max(axis=0)) - NOISE_FLOOR_BELOW_PEAK_DB
    reference[:, :common] = np.maximum(reference[:, :common], floor[np.newaxis, :])
    degraded[:, :common] = np.maximum(degraded[:, :common], floor[np.newaxis, :])
    lowest = min(float(reference.min()), float(degraded.min()))
    reference -= lowest
    degraded -= lowest
    return reference, degraded
