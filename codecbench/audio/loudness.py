"""Levels and loudness: peak and RMS in dBFS, gains, and ITU-R BS.1770 integrated loudness."""

from __future__ import annotations

import math

import numpy as np
import scipy.signal


def peak_dbfs(samples: np.ndarray) -> float:
    """Peak level in dB relative to full scale (``-inf`` for digital silence)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def rms_dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to the RMS of a full-scale square wave (``-inf`` for silence)."""
    mean_square = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    return 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


def apply_gain_db(samples: np.ndarray, gain_db: float) -> np.ndarray:
    """``samples`` scaled by ``gain_db`` decibels, as float32."""
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
