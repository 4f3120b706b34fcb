"""Time and level alignment of a degraded signal to its reference, shared by the metrics.

The delay comes from waveform cross-correlation (:func:`codecbench.audio.estimate_delay_samples`).
Vocoders such as Codec 2 synthesise their own phase, so their waveforms barely correlate with
the input and the waveform peak can land anywhere; when the normalised correlation at the
chosen lag is weaker than :data:`MIN_WAVEFORM_CORRELATION`, the delay is taken from the
spectral envelopes instead (:func:`codecbench.audio.estimate_envelope_delay_samples`, to
within 2 ms).
The gain is the RMS level of the degraded signal relative to the reference over the part
where the two overlap once aligned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codecbench.audio import (
    apply_gain_db,
    estimate_delay_samples,
    estimate_envelope_delay_samples,
    fit_length,
    rms_dbfs,
)
from codecbench.evaluation.metrics.result import MetricError

# A waveform-matching codec correlates at 0.5 or more even at low bitrates (Opus 6 kbps:
# about 0.8); Codec 2, which synthesises phase, stays below 0.2.
MIN_WAVEFORM_CORRELATION = 0.3
# Envelope delays to within 2 ms: finer costs more than a ViSQOL score (0.25 s for 8 s at
# 0.5 ms), and no metric on a vocoder's output can tell 2 ms apart (STOI frames are 25.6 ms).
ENVELOPE_RESOLUTION_S = 0.002


@dataclass(frozen=True)
class Alignment:
    """How a degraded signal sits against its reference.

    Attributes:
        delay_samples: the degraded signal lags the reference by this many samples at
            ``sample_rate_hz`` (negative: it leads).
        gain_db: RMS level of the (delay-compensated) degraded signal minus that of the
            reference, over their overlap.
        sample_rate_hz: the rate ``delay_samples`` counts in (the reference's).
        method: ``"waveform"`` or ``"envelope"``, whichever found the delay.
    """

    delay_samples: int
    gain_db: float
    sample_rate_hz: int
    method: str


def estimate_alignment(
    reference: np.ndarray, degraded: np.ndarray, sample_rate_hz: int, *, max_delay_s: float
) -> Alignment:
    """Find the delay and level of ``degraded`` against ``reference`` (same rate, any lengths).

    Raises:
        MetricError: the signals share no sound once aligned.
    """
    max_delay_samples = int(round(max_delay_s * sample_rate_hz))
    delay = estimate_delay_samples(reference, degraded, max_delay_samples=max_delay_samples)
    method = "waveform"
    if _normalised_correlation(reference, degraded, delay) < MIN_WAVEFORM_CORRELATION:
        delay = estimate_envelope_delay_samples(
            reference, degraded, sample_rate_hz, max_delay_samples=max_delay_samples,
            resolution_samples=max(1, round(ENVELOPE_RESOLUTION_S * sample_rate_hz)),
        )
        method = "envelope"
    ref_part, deg_part = _overlap(reference, degraded, delay)
    gain_db = rms_dbfs(deg_part) - rms_dbfs(ref_part)
    if not math.isfinite(gain_db):
        raise MetricError(
            f"after moving the degraded signal by {delay / sample_rate_hz * 1000:.1f} ms, the two "
            "signals have no sound in common, so they cannot be aligned; check that the files "
            "belong together"
        )
    return Alignment(int(delay), float(gain_db), int(sample_rate_hz), method)


def apply_alignment(degraded: np.ndarray, alignment: Alignment, num_samples: int) -> np.ndarray:
    """The degraded signal shifted by the delay, divided by the gain, and cut or zero-padded to
    ``num_samples`` (the reference's length), so it lines up with the reference sample by sample."""
    delay = alignment.delay_samples
    if delay >= 0:
        shifted = degraded[delay:]
    else:
        shifted = np.concatenate([np.zeros(-delay, dtype=degraded.dtype), degraded])
    return apply_gain_db(fit_length(shifted, num_samples), -alignment.gain_db)


def _overlap(reference: np.ndarray, degraded: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """The parts of both signals that coincide when ``degraded`` is moved back by ``delay``."""
    ref_start, deg_start = (0, delay) if delay >= 0 else (-delay, 0)
    length = max(0, min(reference.shape[0] - ref_start, degraded.shape[0] - deg_start))
    return reference[ref_start : ref_start + length], degraded[deg_start : deg_start + length]


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors summed in a fixed order (numpy's own loop, not multi-threaded
    BLAS), so a score comes out the same to the last bit in every process, whatever its threads."""
    return float(np.einsum("i,i->", np.asarray(a, np.float64), np.asarray(b, np.float64)))


def _normalised_correlation(reference: np.ndarray, degraded: np.ndarray, delay: int) -> float:
    ref_part, deg_part = _overlap(reference, degraded, delay)
    energy = math.sqrt(dot(ref_part, ref_part) * dot(deg_part, deg_part))
    return dot(ref_part, deg_part) / energy if energy > 0 else 0.0
