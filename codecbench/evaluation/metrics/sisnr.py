"""Scale-invariant signal-to-noise ratio (SI-SNR) on the delay-aligned degraded signal.

SI-SNR = 10 log10(|s|² / |e|²) with s the projection of the zero-mean degraded signal on the
zero-mean reference and e what remains. It is invariant to gain by construction, but a few
samples of delay cost it many dB, so it is computed after alignment, at the reference's rate.
An exact copy has no error at all; the value is capped at :data:`SI_SNR_CAP_DB`.
"""

from __future__ import annotations

import math

import numpy as np

from codecbench.evaluation.metrics.alignment import dot
from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair
from codecbench.evaluation.metrics.result import MetricError

# 100 dB is beyond any codec, and well within what float32 audio can resolve (about 140 dB).
SI_SNR_CAP_DB = 100.0


def si_snr_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    """SI-SNR of ``degraded`` against ``reference`` (same length), in dB, capped at 100 dB."""
    reference = np.asarray(reference, np.float64) - np.mean(reference, dtype=np.float64)
    degraded = np.asarray(degraded, np.float64) - np.mean(degraded, dtype=np.float64)
    reference_energy = dot(reference, reference)
    if reference_energy == 0.0:
        raise MetricError("SI-SNR is undefined for a reference without any signal.")
    target = (dot(degraded, reference) / reference_energy) * reference
    target_energy = dot(target, target)
    error = degraded - target
    error_energy = dot(error, error)
    if target_energy == 0.0:
        raise MetricError("SI-SNR is undefined: the degraded signal is uncorrelated with the reference.")
    if error_energy <= target_energy * 10 ** (-SI_SNR_CAP_DB / 10):
        return SI_SNR_CAP_DB
    return 10 * math.log10(target_energy / error_energy)


def _aligned_si_snr_db(pair: PreparedPair) -> float:
    return si_snr_db(pair.reference, pair.aligned_degraded)


SISNR = Metric(
    name="sisnr",
    protocol="aligned",
    packages=("codecbench",),
    compute=_aligned_si_snr_db,
    uses_alignment=True,
)
