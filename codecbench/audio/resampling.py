"""Changing a signal's rate and length."""

from __future__ import annotations

import numpy as np
import soxr


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample mono float audio with soxr's very-high-quality linear-phase filter.

    soxr compensates its own filter delay, so the output is time-aligned with the input and
    has ``round(len * to_hz / from_hz)`` samples.
    """
    if from_hz == to_hz:
        return np.asarray(samples, dtype=np.float32)
    return soxr.resample(np.asarray(samples, dtype=np.float32), from_hz, to_hz, quality="VHQ")


def fit_length(samples: np.ndarray, num_samples: int) -> np.ndarray:
    """Trim, or pad with zeros at the end, to exactly ``num_samples``."""
    if samples.shape[0] >= num_samples:
        return samples[:num_samples]
    return np.concatenate([samples, np.zeros(num_samples - samples.shape[0], dtype=samples.dtype)])
