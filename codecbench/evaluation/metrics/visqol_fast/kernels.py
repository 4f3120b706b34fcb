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

# visqol-python's 3x3 Gaussian window and NSIM constants (ViSQOL v3.3's values).
GAUSSIAN_WINDOW = np.array(
    [
        [0.0113033910173052, 0.0838251475442633, 0.0113033910173052],
        [0.0838251475442633, 0.619485845753726, 0.0838251475442633],
        [0.0113033910173052, 0.0838251475442633, 0.0113033910173052],
    ]
)
INTENSITY_C1 = (0.01 * 1.0) ** 2
STRUCTURE_C3 = (0.03 * 1.0) ** 2 / 2.0


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

    Args:
        signal: the samples, float64.
        window: the Hann window (its length is the frame length).
        numerators: ``(4, bands, 3)`` numerator of each of the four cascaded biquads.
        denominators: ``(bands, 3)`` their shared denominator.
        hop: samples between frame starts.
        num_frames: frames to compute (each must fit in ``signal``).

    Returns:
        ``(bands, num_frames)`` float64.
    """
    size = window.shape[0]
    bands = denominators.shape[0]
    frames = np.empty((size, num_frames))
    for k in range(size):
        for i in range(num_frames):
            frames[k, i] = signal[i * hop + k] * window[k]
    out = np.empty((bands, num_frames))
    z00 = np.empty(num_frames)
    z01 = np.empty(num_frames)
    z10 = np.empty(num_frames)
    z11 = np.empty(num_frames)
    z20 = np.empty(num_frames)
    z21 = np.empty(num_frames)
    z30 = np.empty(num_frames)
    z31 = np.empty(num_frames)
    energy = np.empty(num_frames)
    for band in range(bands):
        a1 = denominators[band, 1]
        a2 = denominators[band, 2]
        b00, b01, b02 = numerators[0, band, 0], numerators[0, band, 1], numerators[0, band, 2]
        b10, b11, b12 = numerators[1, band, 0], numerators[1, band, 1], numerators[1, band, 2]
        b20, b21, b22 = numerators[2, band, 0], numerators[2, band, 1], numerators[2, band, 2]
        b30, b31, b32 = numerators[3, band, 0], numerators[3, band, 1], numerators[3, band, 2]
        for i in range(num_frames):
            z00[i] = 0.0
            z01[i] = 0.0
            z10[i] = 0.0
            z11[i] = 0.0
            z20[i] = 0.0
            z21[i] = 0.0
            z30[i] = 0.0
            z31[i] = 0.0
            energy[i] = 0.0
        for k in range(size):
            samples = frames[k]
            for i in range(num_frames):
                x = samples[i]
                y0 = b00 * x + z00[i]
                z00[i] = b01 * x - a1 * y0 + z01[i]
                z01[i] = b02 * x - a2 * y0
                y1 = b10 * y0 + z10[i]
                z10[i] = b11 * y0 - a1 * y1 + z11[i]
                z11[i] = b12 * y0 - a2 * y1
                y2 = b20 * y1 + z20[i]
                z20[i] = b21 * y1 - a1 * y2 + z21[i]
                z21[i] = b22 * y1 - a2 * y2
                y3 = b30 * y2 + z30[i]
                z30[i] = b31 * y2 - a1 * y3 + z31[i]
                z31[i] = b32 * y2 - a2 * y3
                energy[i] += y3 * y3
        for i in range(num_frames):
            out[band, i] = np.sqrt(energy[i] / size)
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
def reference_local_stats(patch: np.ndarray, gw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference patch's local mean and variance (window clamped at the patch's edges)."""
    rows, cols = patch.shape
    mean = np.empty((rows, cols))
    variance = np.empty((rows, cols))
    for row in range(rows):
        for col in range(cols):
            mean_sum = 0.0
            square_sum = 0.0
            for kernel_row in range(3):
                source_row = _clamp(row + kernel_row - 1, rows)
                for kernel_col in range(3):
                    source_col = _clamp(col + kernel_col - 1, cols)
                    weight = gw[kernel_row, kernel_col]
                    value = patch[source_row, source_col]
                    mean_sum += weight * value
                    square_sum += weight * (value * value)
            mean[row, col] = mean_sum
            variance[row, col] = square_sum - mean_sum * mean_sum
    return mean, variance


@njit(cache=True, nogil=True, error_model="numpy")
def mean_similarities(
    patch: np.ndarray,
    padded: np.ndarray,
    deg_mean: np.ndarray,
    deg_square: np.ndarray,
    low: int,
    high: int,
    gw: np.ndarray,
    c1: float,
    c3: float,
) -> np.ndarray:
    """Mean NSIM of a reference patch against the degraded patches starting at ``low..high``."""
    rows, cols = patch.shape
    count = high - low + 1
    ref_mean, ref_variance = reference_local_stats(patch, gw)
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
    ref_indices: np.ndarray,
    padded: np.ndarray,
    search_window: int,
    gw: np.ndarray,
    c1: float,
    c3: float,
) -> tuple[np.ndarray, np.ndarray]:
    """ViSQOL's dynamic-programming patch match: each reference patch's degraded offset.

    Maximises the summed similarity of an ordered sequence of offsets, each within
    ``search_window`` frames of its reference patch, with the rightmost offset winning ties
    (visqol-python's rule). A patch whose best path stays on the previous patch's offset is
    flagged as unmatched (ViSQOL scores it 0).

    Returns:
        ``(offsets, unmatched)``, one entry per reference patch.
    """
    num_patches, _, width = ref_patches.shape
    frames = padded.shape[1] - width
    deg_mean, deg_square = degraded_local_sums(padded, width, gw)
    cumulative = np.zeros((num_patches, frames))
    backtrace = np.full((num_patches, frames), -1, dtype=np.int64)
    prefix_value = np.empty(frames)
    prefix_index = np.empty(frames, dtype=np.int64)
    for p in range(num_patches):
        low = max(0, ref_indices[p] - search_window)
        high = min(frames - 1, ref_indices[p] + search_window)
        if p > 0:
            lower_limit = max(0, ref_indices[p - 1] - search_window)
            highest = -1e308
            highest_offset = -1
            for offset in range(lower_limit, high + 1):
                prefix_value[offset] = highest
                prefix_index[offset] = highest_offset
                previous = cumulative[p - 1, offset]
                if previous >= highest:
                    highest = previous
                    highest_offset = offset
        similarities = mean_similarities(ref_patches[p], padded, deg_mean, deg_square, low, high, gw, c1, c3)
        for j in range(high - low + 1):
            offset = low + j
            value = similarities[j]
            past = -1
            if p > 0:
                value += prefix_value[offset]
                past = prefix_index[offset]
                same = cumulative[p - 1, offset]
                if same > value:
                    value = same
                    past = offset
            cumulative[p, offset] = value
            backtrace[p, offset] = past

    last = num_patches - 1
    lower_limit = max(0, ref_indices[last] - search_window)
    upper_limit = min(frames - 1, ref_indices[last] + search_window)
    best = -1e308
    offset = lower_limit
    for candidate in range(lower_limit, upper_limit + 1):
        if cumulative[last, candidate] > best:
            best = cumulative[last, candidate]
            offset = candidate
    offsets = np.empty(num_patches, dtype=np.int64)
    unmatched = np.zeros(num_patches, dtype=np.bool_)
    for p in range(num_patches - 1, -1, -1):
        offsets[p] = offset
        unmatched[p] = offset == backtrace[p, offset]
        offset = backtrace[p, offset]
    return offsets, unmatched


@njit(cache=True, nogil=True, error_model="numpy")
def patch_similarity(
    ref_patch: np.ndarray, deg_patch: np.ndarray, gw: np.ndarray, c1: float, c3: float
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """NSIM of two equal-sized patches: ``(mean, per-band means, per-band stddevs, per-band
    mean of the degraded patch)``."""
    rows, cols = ref_patch.shape
    similarity = np.empty((rows, cols))
    for row in range(rows):
        for col in range(cols):
            sum_ref = 0.0
            sum_deg = 0.0
            sum_ref_sq = 0.0
            sum_deg_sq = 0.0
            sum_cross = 0.0
            for kernel_row in range(3):
                source_row = _clamp(row + kernel_row - 1, rows)
                for kernel_col in range(3):
                    source_col = _clamp(col + kernel_col - 1, cols)
                    weight = gw[kernel_row, kernel_col]
                    ref_value = ref_patch[source_row, source_col]
                    deg_value = deg_patch[source_row, source_col]
                    sum_ref += weight * ref_value
                    sum_deg += weight * deg_value
                    sum_ref_sq += weight * (ref_value * ref_value)
                    sum_deg_sq += weight * (deg_value * deg_value)
                    sum_cross += weight * (ref_value * deg_value)
            ref_mean_sq = sum_ref * sum_ref
            deg_mean_sq = sum_deg * sum_deg
            mean_cross = sum_ref * sum_deg
            intensity = (2.0 * mean_cross + c1) / (ref_mean_sq + deg_mean_sq + c1)
            variance_product = (sum_ref_sq - ref_mean_sq) * (sum_deg_sq - deg_mean_sq)
            denominator = c3 if variance_product < 0.0 else np.sqrt(variance_product) + c3
            similarity[row, col] = intensity * ((sum_cross - mean_cross + c3) / denominator)
    band_means = np.empty(rows)
    band_stddevs = np.empty(rows)
    band_energy = np.empty(rows)
    for row in range(rows):
        total = 0.0
        for col in range(cols):
            total += similarity[row, col]
        mean = total / cols
        band_means[row] = mean
        squares = 0.0
        for col in range(cols):
            difference = similarity[row, col] - mean
            squares += difference * difference
        band_stddevs[row] = np.sqrt(squares / (cols - 1)) if cols > 1 else 0.0
        energy = 0.0
        for col in range(cols):
            energy += deg_patch[row, col]
        band_energy[row] = energy / cols
    overall = 0.0
    for row in range(rows):
        overall += band_means[row]
    return overall / rows, band_means, band_stddevs, band_energy
