"""The compiled inner loops of the fast ViSQOL: the gammatone spectrogram and the NSIM patch search.

Each loop does the same floating-point operations in the same order as visqol-python 3.8's
numba kernels, so its values are the same to the last bit; what changes is the loop order.
visqol-python runs the 4-stage IIR filter one frame and one band at a time, a chain of
dependent operations the processor cannot overlap; here the innermost loop runs over frames
(or over degraded offsets), whose chains are independent, so the compiler vectorises it. The
patch search also shares the degraded signal's local sums between the reference patches
instead of recomputing them for each one.

``error_model="numpy"``: a division by zero gives inf/nan as numpy would, instead of a Python
exception check in the loop that stops vectorisation. Kernels are cached on disk next to
visqol-python's (see :func:`codecbench.evaluation.metrics.visqol.use_codecbench_numba_cache`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _section(value: float, n0: float, n1: float, n2: float, a1: float, a2: float,
             held: np.ndarray, next_held: np.ndarray, frame: int) -> float:
    """One biquad (transposed direct form II) advanced by one sample in one frame; returns its output."""
    output = n0 * value + held[frame]
    held[frame] = n1 * value - a1 * output + next_held[frame]
    next_held[frame] = n2 * value - a2 * output
    return output


@njit(cache=True, nogil=True, error_model="numpy")
def gammatone_spectrogram(
    signal: np.ndarray,
    window: np.ndarray,
    numerators: np.ndarray,
    denominators: np.ndarray,
    hop: int,
    num_frames: int,
) -> np.ndarray:
    """RMS of each band's output over each Hann-windowed frame, every frame filtered from rest.

    Each band is a cascade of four biquads (:func:`_section`). All frames advance together, one
    sample position at a time: the loop over frames, whose filter states are independent, is
    the innermost one, and the compiler vectorises it.

    Args:
        signal: the samples, float64.
        window: the Hann window (its length is the frame length).
        numerators: ``(4, bands, 3)`` numerator of each section.
        denominators: ``(bands, 3)`` their shared denominator (``[1, a1, a2]``).
        hop: samples between frame starts.
        num_frames: frames to compute (each must fit in ``signal``).

    Returns:
        ``(bands, num_frames)`` float64.
    """
    length = window.shape[0]
    bands = denominators.shape[0]
    windowed = np.empty((length, num_frames))
    for position in range(length):
        row = windowed[position]
        for frame in range(num_frames):
            row[frame] = signal[frame * hop + position] * window[position]
    out = np.empty((bands, num_frames))
    # Two state values per section, each its own array (so that the compiler sees they do not overlap).
    held1, next1 = np.empty(num_frames), np.empty(num_frames)
    held2, next2 = np.empty(num_frames), np.empty(num_frames)
    held3, next3 = np.empty(num_frames), np.empty(num_frames)
    held4, next4 = np.empty(num_frames), np.empty(num_frames)
    energy = np.empty(num_frames)
    for band in range(bands):
        a1 = denominators[band, 1]
        a2 = denominators[band, 2]
        c1 = numerators[0, band]
        c2 = numerators[1, band]
        c3 = numerators[2, band]
        c4 = numerators[3, band]
        for state in (held1, next1, held2, next2, held3, next3, held4, next4, energy):
            state[:] = 0.0
        for position in range(length):
            row = windowed[position]
            for frame in range(num_frames):
                value = _section(row[frame], c1[0], c1[1], c1[2], a1, a2, held1, next1, frame)
                value = _section(value, c2[0], c2[1], c2[2], a1, a2, held2, next2, frame)
                value = _section(value, c3[0], c3[1], c3[2], a1, a2, held3, next3, frame)
                value = _section(value, c4[0], c4[1], c4[2], a1, a2, held4, next4, frame)
                energy[frame] += value * value
        for frame in range(num_frames):
            out[band, frame] = np.sqrt(energy[frame] / length)
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _clamp(index: int, size: int) -> int:
    if index < 0:
        return 0
    if index >= size:
        return size - 1
    return index


@njit(cache=True, nogil=True, error_model="numpy")
def degraded_local_sums(padded: np.ndarray, width: int, gw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian-weighted local mean and mean square of every degraded patch's cells.

    ``padded`` is the degraded spectrogram with ``width`` zero columns appended (a patch
    starting near the end runs into zeros, as in ViSQOL). The patch starting at ``offset`` has
    cell ``(row, col)`` at ``[:, col, offset]`` of the results; the window is clamped at the
    patch's edges (ViSQOL replicates a patch's border), so cells depend on the patch, not only
    on the column.

    Returns:
        ``(mean, square)``, each ``(rows, width, offsets)``.
    """
    rows = padded.shape[0]
    offsets = padded.shape[1] - width
    mean = np.zeros((rows, width, offsets))
    square = np.zeros((rows, width, offsets))
    for row in range(rows):
        for col in range(width):
            for kernel_row in range(3):
                source_row = _clamp(row + kernel_row - 1, rows)
                for kernel_col in range(3):
                    source_col = _clamp(col + kernel_col - 1, width)
                    weight = gw[kernel_row, kernel_col]
                    values = padded[source_row, source_col : source_col + offsets]
                    cell_mean = mean[row, col]
                    cell_square = square[row, col]
                    for offset in range(offsets):
                        value = values[offset]
                        cell_mean[offset] += weight * value
                        cell_square[offset] += weight * (value * value)
    return mean, square


@njit(cache=True, nogil=True, error_model="numpy")
def mean_similarities(
    patch: np.ndarray,
    ref_mean: np.ndarray,
    ref_variance: np.ndarray,
    padded: np.ndarray,
    deg_mean: np.ndarray,
    deg_square: np.ndarray,
    low: int,
    high: int,
    gw: np.ndarray,
    c1: float,
    c3: float,
) -> np.ndarray:
    """Mean NSIM of a reference patch (with its local mean and variance) against the degraded
    patches starting at ``low..high``, vectorised over those offsets."""
    rows, cols = patch.shape
    count = high - low + 1
    cross = np.empty(count)
    band_sum = np.empty(count)
    total = np.zeros(count)
    for row in range(rows):
        for j in range(count):
            band_sum[j] = 0.0
        for col in range(cols):
            for j in range(count):
                cross[j] = 0.0
            for kernel_row in range(3):
                source_row = _clamp(row + kernel_row - 1, rows)
                for kernel_col in range(3):
                    source_col = _clamp(col + kernel_col - 1, cols)
                    weight = gw[kernel_row, kernel_col]
                    ref_value = patch[source_row, source_col]
                    degraded = padded[source_row, low + source_col : low + source_col + count]
                    for j in range(count):
                        cross[j] += weight * (ref_value * degraded[j])
            mean_ref = ref_mean[row, col]
            variance_ref = ref_variance[row, col]
            means = deg_mean[row, col, low : low + count]
            squares = deg_square[row, col, low : low + count]
            for j in range(count):
                mean_deg = means[j]
                ref_mean_sq = mean_ref * mean_ref
                deg_mean_sq = mean_deg * mean_deg
                mean_cross = mean_ref * mean_deg
                deg_variance = squares[j] - deg_mean_sq
                covariance = cross[j] - mean_cross
                intensity = (2.0 * mean_cross + c1) / (ref_mean_sq + deg_mean_sq + c1)
                variance_product = variance_ref * deg_variance
                denominator = c3 if variance_product < 0.0 else np.sqrt(variance_product) + c3
                band_sum[j] += intensity * ((covariance + c3) / denominator)
        for j in range(count):
            total[j] += band_sum[j] / cols
    for j in range(count):
        total[j] = total[j] / rows
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def search_patches(
    ref_patches: np.ndarray,
    ref_means: np.ndarray,
    ref_variances: np.ndarray,
    ref_indices: np.ndarray,
    padded: np.ndarray,
    search_window: int,
    gw: np.ndarray,
    c1: float,
    c3: float,
) -> tuple[np.ndarray, np.ndarray]:
    """ViSQOL's dynamic-programming patch match: each reference patch's degraded offset.

    Maximises the summed similarity of a non-decreasing sequence of offsets, each within
    ``search_window`` frames of its reference patch; of equal totals the rightmost offset wins
    (visqol-python's rule). A patch whose best path stays on the previous patch's offset is
    flagged as unmatched (ViSQOL scores it 0).

    Returns:
        ``(offsets, unmatched)``, one entry per reference patch.
    """
    num_patches, _, width = ref_patches.shape
    frames = padded.shape[1] - width
    deg_mean, deg_square = degraded_local_sums(padded, width, gw)
    total = np.zeros((num_patches, frames))
    came_from = np.full((num_patches, frames), -1, dtype=np.int64)
    # The previous patch's best total strictly left of each offset, and where it was.
    best_left = np.empty(frames)
    best_left_at = np.empty(frames, dtype=np.int64)
    for p in range(num_patches):
        low = max(0, ref_indices[p] - search_window)
        high = min(frames - 1, ref_indices[p] + search_window)
        if p > 0:
            previous = total[p - 1]
            running, running_at = -1e308, -1
            for offset in range(max(0, ref_indices[p - 1] - search_window), high + 1):
                best_left[offset], best_left_at[offset] = running, running_at
                if previous[offset] >= running:
                    running, running_at = previous[offset], offset
        similarities = mean_similarities(
            ref_patches[p], ref_means[p], ref_variances[p], padded, deg_mean, deg_square, low, high, gw, c1, c3
        )
        for offset in range(low, high + 1):
            score = similarities[offset - low]
            origin = -1
            if p > 0:
                score += best_left[offset]
                origin = best_left_at[offset]
                if total[p - 1, offset] > score:  # staying on the previous patch's offset is better
                    score, origin = total[p - 1, offset], offset
            total[p, offset] = score
            came_from[p, offset] = origin

    last = num_patches - 1
    offset = max(0, ref_indices[last] - search_window)
    best = -1e308
    for candidate in range(offset, min(frames - 1, ref_indices[last] + search_window) + 1):
        if total[last, candidate] > best:
            best, offset = total[last, candidate], candidate
    offsets = np.empty(num_patches, dtype=np.int64)
    unmatched = np.zeros(num_patches, dtype=np.bool_)
    for p in range(num_patches - 1, -1, -1):
        offsets[p] = offset
        unmatched[p] = came_from[p, offset] == offset
        offset = came_from[p, offset]
    return offsets, unmatched
