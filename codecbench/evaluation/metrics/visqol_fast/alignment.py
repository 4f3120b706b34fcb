"""ViSQOL's time alignment: the lag that best lines up two upper envelopes.

The reference's envelope and its spectrum do not depend on the degraded signal, so
:class:`EnvelopeAligner` keeps them for every degraded signal it is asked about.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import ifft, irfft, rfft


def upper_envelope(samples: np.ndarray) -> np.ndarray:
    """The magnitude of the analytic signal of the mean-removed samples, plus the mean."""
    mean = float(np.mean(samples))
    centred = samples - mean
    n = centred.shape[0]
    half = rfft(centred)
    spectrum = np.zeros(n, dtype=np.complex128)
    spectrum[0] = half[0]
    if n % 2 == 0:
        spectrum[1 : n // 2] = 2.0 * half[1 : n // 2]
        spectrum[n // 2] = half[n // 2]
    else:
        spectrum[1 : (n + 1) // 2] = 2.0 * half[1 : (n + 1) // 2]
    return np.abs(ifft(spectrum)) + mean


class EnvelopeAligner:
    """Finds the lag of degraded signals against one reference (positive: the degraded is late)."""

    def __init__(self, reference: np.ndarray) -> None:
        self.reference = reference
        self.envelope = upper_envelope(reference)
        self._spectra: dict[int, np.ndarray] = {}

    def spectra(self) -> list[np.ndarray]:
        """The reference envelope's spectra kept so far (one per transform length)."""
        return list(self._spectra.values())

    def best_lag(self, degraded: np.ndarray) -> int:
        """The lag maximising the cross-correlation of the two envelopes (the lowest such lag
        in ViSQOL's order: from the most negative to the most positive)."""
        return self.best_lag_of_envelope(upper_envelope(degraded))

    def best_lag_of_envelope(self, degraded_envelope: np.ndarray) -> int:
        n = max(self.envelope.shape[0], degraded_envelope.shape[0])
        max_lag = n - 1
        points = 1
        while points < 2 * n - 1:
            points *= 2
        reference_spectrum = self._spectra.get(n)
        if reference_spectrum is None:
            reference_spectrum = self._spectra[n] = rfft(_padded(self.envelope, n), n=points)
        degraded_spectrum = rfft(_padded(degraded_envelope, n), n=points)
        correlation = irfft(reference_spectrum * np.conj(degraded_spectrum), n=points)
        lags = np.concatenate((correlation[-max_lag:], correlation[: max_lag + 1])) if max_lag else correlation[:1]
        return int(np.argmax(lags)) - max_lag


def _padded(samples: np.ndarray, n: int) -> np.ndarray:
    if samples.shape[0] == n:
        return samples
    padded = np.zeros(n)
    padded[: samples.shape[0]] = samples
    return padded


def shift_by_lag(reference_length: int, degraded: np.ndarray, lag: int) -> tuple[np.ndarray, int]:
    """ViSQOL's global alignment applied: the degraded signal with ``lag`` zeros put in front
    (late reference) or its first ``-lag`` samples cut, unless the lag is 0 or more than half
    the reference. Returns the shifted signal and the lag used."""
    if lag == 0 or abs(lag) > reference_length / 2.0:
        return degraded, 0
    if lag < 0:
        return degraded[-lag:], lag
    return np.concatenate([np.zeros(lag), degraded]), lag


def align_and_truncate(
    reference: np.ndarray, degraded: np.ndarray, lag: int, sample_rate_hz: int
) -> tuple[tuple[int, int], np.ndarray, int | None, float]:
    """ViSQOL's fine alignment of two patch-length slices once their lag is known.

    Returns ``((start, stop), degraded, degraded_start, lag_s)``: the part of ``reference``
    kept (as a range, so that the caller can reuse what it computed on it), the degraded slice
    shifted and cut to the same length, where that begins in ``degraded`` (``None`` when zeros
    were put in front), and the lag in seconds.
    """
    degraded, lag = shift_by_lag(reference.shape[0], degraded, lag)
    degraded_start = None if lag > 0 else -lag
    lag_s = lag / float(sample_rate_hz)
    start, stop = 0, reference.shape[0]
    if stop > degraded.shape[0]:
        stop = degraded.shape[0]
    elif stop < degraded.shape[0]:
        lag_samples = int(lag_s * sample_rate_hz)
        if lag_samples > 0:
            start = lag_samples
            degraded = degraded[lag_samples : lag_samples + (stop - start)]
        else:
            degraded = degraded[:stop]
    length = min(stop - start, degraded.shape[0])
    return (start, start + length), degraded[:length], degraded_start, lag_s
