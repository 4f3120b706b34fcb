"""ViSQOL's time alignment: the lag that best lines up two upper envelopes.

The reference's envelope and its spectrum do not depend on the degraded signal, so
:class:`EnvelopeAligner` keeps them for every degraded signal it is asked about.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import irfft, rfft

# The envelope itself is visqol-python's (a public function of the library): an analytic
# signal computed any other way would round differently.
from visqol.signal_utils import upper_envelope

__all__ = ["EnvelopeAligner", "align_and_truncate", "shift_by_lag", "upper_envelope"]


class EnvelopeAligner:
    """Finds the lag of degraded signals against one reference (positive: the degraded is late).

    The reference's envelope is computed once, and its spectrum once per transform length
    (a power of two at least twice the longer signal, so one or two lengths in practice) unless
    ``keep_spectra`` is false (patch slices: their spectra would be most of an analysis's memory
    for little time saved).
    """

    def __init__(self, reference: np.ndarray, *, keep_spectra: bool = True) -> None:
        self.envelope = upper_envelope(reference)
        self.keep_spectra = keep_spectra
        self._spectra: dict[int, np.ndarray] = {}

    def spectra(self) -> list[np.ndarray]:
        """The reference envelope's spectra kept so far."""
        return list(self._spectra.values())

    def best_lag(self, degraded: np.ndarray) -> int:
        """The lag maximising the cross-correlation of the two envelopes (of equal maxima, the
        first from the most negative lag to the most positive, as in ViSQOL)."""
        degraded_envelope = upper_envelope(degraded)
        longer = max(self.envelope.shape[0], degraded_envelope.shape[0])
        points = 1 << max(0, (2 * longer - 2).bit_length())  # the power of two >= 2 * longer - 1
        reference_spectrum = self._spectra.get(points)
        if reference_spectrum is None:
            reference_spectrum = rfft(self.envelope, n=points)
            if self.keep_spectra:
                self._spectra[points] = reference_spectrum
        correlation = irfft(reference_spectrum * np.conj(rfft(degraded_envelope, n=points)), n=points)
        # Lags -(longer - 1) .. longer - 1: the negative ones wrap to the end of the correlation.
        max_lag = longer - 1
        by_lag = np.concatenate((correlation[points - max_lag :], correlation[: max_lag + 1]))
        return int(np.argmax(by_lag)) - max_lag


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
