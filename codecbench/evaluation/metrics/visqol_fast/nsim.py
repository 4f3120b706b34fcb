"""NSIM, the structural similarity ViSQOL compares spectrogram patches with, in numpy.

Local statistics use ViSQOL's 3x3 Gaussian window with a patch's border replicated. Sums are
accumulated term by term in the window's row-major order, and reductions along a band run left
to right (``cumsum``), as visqol-python's kernels do, so the values are the same to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from visqol.nsim import C1, C3, GAUSSIAN_WINDOW

__all__ = ["C1", "C3", "GAUSSIAN_WINDOW", "PatchSimilarity", "local_statistics", "patch_similarity"]


@dataclass
class PatchSimilarity:
    """NSIM of two patches: its mean and, per band, its mean, its standard deviation over the
    patch's frames, and the degraded patch's mean level."""

    mean: float
    band_means: np.ndarray
    band_stddevs: np.ndarray
    band_energy: np.ndarray


def _windowed_sums(images: np.ndarray) -> np.ndarray:
    """Gaussian-weighted sums over each cell's 3x3 neighbourhood of a stack of images
    (``(..., rows, cols)``), each image's border replicated."""
    rows, cols = images.shape[-2:]
    row_index = np.clip(np.arange(-1, rows + 1), 0, rows - 1)
    col_index = np.clip(np.arange(-1, cols + 1), 0, cols - 1)
    padded = images[..., row_index[:, np.newaxis], col_index]
    sums = np.zeros(images.shape)
    for dr in range(3):
        for dc in range(3):
            sums += GAUSSIAN_WINDOW[dr, dc] * padded[..., dr : dr + rows, dc : dc + cols]
    return sums


def local_statistics(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local mean and variance of each reference patch (``(patches, bands, frames)``)."""
    means, squares = _windowed_sums(np.stack([patches, patches * patches]))
    return means, squares - means * means


def _left_to_right_sum(values: np.ndarray) -> np.ndarray:
    return np.cumsum(values, axis=-1)[..., -1]


def patch_similarity(reference: np.ndarray, degraded: np.ndarray) -> PatchSimilarity:
    """NSIM of two equal-sized ``(bands, frames)`` patches."""
    mean_ref, mean_deg, square_ref, square_deg, cross = _windowed_sums(
        np.stack([reference, degraded, reference * reference, degraded * degraded, reference * degraded])
    )
    mean_product = mean_ref * mean_deg
    intensity = (2.0 * mean_product + C1) / (mean_ref * mean_ref + mean_deg * mean_deg + C1)
    variance_product = (square_ref - mean_ref * mean_ref) * (square_deg - mean_deg * mean_deg)
    denominator = np.where(variance_product < 0.0, C3, np.sqrt(np.maximum(variance_product, 0.0)) + C3)
    similarity = intensity * ((cross - mean_product + C3) / denominator)
    frames = similarity.shape[1]
    band_means = _left_to_right_sum(similarity) / frames
    deviations = similarity - band_means[:, np.newaxis]
    band_stddevs = np.sqrt(_left_to_right_sum(deviations * deviations) / (frames - 1)) if frames > 1 else np.zeros(len(band_means))
    return PatchSimilarity(
        mean=float(_left_to_right_sum(band_means) / len(band_means)),
        band_means=band_means,
        band_stddevs=band_stddevs,
        band_energy=_left_to_right_sum(degraded) / frames,
    )
