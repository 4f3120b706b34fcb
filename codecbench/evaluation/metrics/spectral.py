"""Spectral distances between the reference and the aligned degraded signal (0 = identical).

- ``mel``: log-mel distance in dB: the mean absolute difference of 80-band mel power
  spectra in dB (64 ms Hann windows, 16 ms hop, bands from 0 Hz to the Nyquist frequency).
- ``mrstft``: multi-resolution STFT distance: the mean over three resolutions (10, 25 and
  50 ms Hann windows, hop a quarter of the window) of spectral convergence plus the mean
  absolute difference of natural-log magnitudes, as in Parallel WaveGAN's loss.

Both run at the reference's rate on the delay- and gain-aligned degraded signal, so neither
a codec delay nor a level change counts as distortion (the level change is reported as
``gain_db``). Spectra are floored 80 dB below the reference's loudest bin, so differences in
inaudible near-silence do not dominate. Values depend on the rate: compare them within one
test set.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair

NUM_MEL_BANDS = 80
MEL_WINDOW_S = 0.064
MEL_HOP_S = 0.016
MRSTFT_WINDOWS_S = (0.010, 0.025, 0.050)
DYNAMIC_RANGE_DB = 80.0


def log_mel_distance_db(reference: np.ndarray, degraded: np.ndarray, sample_rate_hz: int) -> float:
    """Mean absolute difference of the two signals' log-mel power spectra, in dB."""
    window = int(round(MEL_WINDOW_S * sample_rate_hz))
    hop = int(round(MEL_HOP_S * sample_rate_hz))
    filterbank = _mel_filterbank(sample_rate_hz, window)
    reference_mel = filterbank @ power_spectrogram(reference, window, hop)
    degraded_mel = filterbank @ power_spectrogram(degraded, window, hop)
    floor = reference_mel.max() * 10 ** (-DYNAMIC_RANGE_DB / 10)
    reference_db = 10 * np.log10(np.maximum(reference_mel, floor))
    degraded_db = 10 * np.log10(np.maximum(degraded_mel, floor))
    return float(np.mean(np.abs(reference_db - degraded_db)))


def multi_resolution_stft_distance(reference: np.ndarray, degraded: np.ndarray, sample_rate_hz: int) -> float:
    """Mean over resolutions of spectral convergence plus log-magnitude distance."""
    distances = []
    for window_s in MRSTFT_WINDOWS_S:
        window = int(round(window_s * sample_rate_hz))
        hop = max(1, window // 4)
        reference_magnitude = np.sqrt(power_spectrogram(reference, window, hop))
        degraded_magnitude = np.sqrt(power_spectrogram(degraded, window, hop))
        convergence = np.linalg.norm(reference_magnitude - degraded_magnitude) / np.linalg.norm(reference_magnitude)
        floor = reference_magnitude.max() * 10 ** (-DYNAMIC_RANGE_DB / 20)
        log_distance = np.mean(
            np.abs(np.log(np.maximum(reference_magnitude, floor)) - np.log(np.maximum(degraded_magnitude, floor)))
        )
        distances.append(convergence + log_distance)
    return float(np.mean(distances))


def power_spectrogram(samples: np.ndarray, window_length: int, hop: int) -> np.ndarray:
    """|STFT|² with a periodic Hann window, frames centred (reflect-padded), ``[bins, frames]``."""
    padded = np.pad(np.asarray(samples, np.float64), window_length // 2, mode="reflect")
    frames = sliding_window_view(padded, window_length)[::hop]
    spectrum = np.fft.rfft(frames * _hann(window_length), axis=1)
    return (spectrum.real**2 + spectrum.imag**2).T


@lru_cache(maxsize=16)
def _hann(length: int) -> np.ndarray:
    return np.hanning(length + 1)[:-1]


@lru_cache(maxsize=16)
def _mel_filterbank(sample_rate_hz: int, window_length: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate_hz, n_fft=window_length, n_mels=NUM_MEL_BANDS).astype(np.float64)


def _aligned_log_mel_distance(pair: PreparedPair) -> float:
    return log_mel_distance_db(pair.reference, pair.aligned_degraded, pair.sample_rate_hz)


def _aligned_mrstft_distance(pair: PreparedPair) -> float:
    return multi_resolution_stft_distance(pair.reference, pair.aligned_degraded, pair.sample_rate_hz)


LOG_MEL_DISTANCE = Metric(
    name="mel",
    protocol="mel80-64ms-aligned",
    packages=("codecbench", "librosa"),
    compute=_aligned_log_mel_distance,
    uses_alignment=True,
)
MRSTFT_DISTANCE = Metric(
    name="mrstft",
    protocol="stft-10-25-50ms-aligned",
    packages=("codecbench",),
    compute=_aligned_mrstft_distance,
    uses_alignment=True,
)
