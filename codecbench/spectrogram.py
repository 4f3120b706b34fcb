"""Spectrograms drawn on a shared scale, so reconstructions can be compared by eye.

Every reconstruction is at the input's sample rate, so all plots share one frequency axis;
:class:`SpectrogramScale` fixes the colour scale from the original, so a codec that removes
energy shows up darker, never re-normalised.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal

WINDOW_S = 0.025
HOP_S = 0.005


@dataclass(frozen=True)
class SpectrogramScale:
    """Colour scale in dB relative to a full-scale sine: ``top_db`` and ``range_db`` below it."""

    top_db: float
    range_db: float = 80.0

    @classmethod
    def from_reference(cls, samples: np.ndarray, sample_rate_hz: int, range_db: float = 80.0) -> SpectrogramScale:
        """A scale whose top is the loudest time-frequency cell of the reference, rounded up to 5 dB."""
        _, _, power_db = spectrogram_db(samples, sample_rate_hz)
        top = float(np.max(power_db)) if power_db.size else 0.0
        return cls(top_db=5 * math.ceil(top / 5), range_db=range_db)


def spectrogram_db(samples: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Short-time power spectrum in dB re a full-scale sine.

    Returns ``(times_s [T], frequencies_hz [F], power_db [F, T])`` with 25 ms Hann windows and
    a 5 ms hop.
    """
    window_length = 2 ** math.ceil(math.log2(WINDOW_S * sample_rate_hz))
    hop = max(1, int(round(HOP_S * sample_rate_hz)))
    window = scipy.signal.get_window("hann", window_length)
    stft = scipy.signal.ShortTimeFFT(window, hop=hop, fs=sample_rate_hz, scale_to="magnitude")
    magnitude = np.abs(stft.stft(np.asarray(samples, dtype=np.float64)))
    # scale_to="magnitude" makes a full-scale sine peak at 0.5 (one side of the spectrum).
    power_db = 20 * np.log10(np.maximum(2 * magnitude, 1e-10))
    times = stft.t(samples.shape[0])
    return times, stft.f, power_db


def render_spectrogram(
    samples: np.ndarray,
    sample_rate_hz: int,
    scale: SpectrogramScale,
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """Draw a spectrogram to a PNG file at ``path`` and return the path."""
    spectrum = spectrogram_db(samples, sample_rate_hz)
    return _draw_figure(spectrum, samples.shape[0] / sample_rate_hz, scale, Path(path), title)


def render_spectrograms(
    samples: np.ndarray,
    sample_rate_hz: int,
    scale: SpectrogramScale,
    path: str | os.PathLike[str],
    strip_path: str | os.PathLike[str],
    *,
    title: str = "",
) -> tuple[Path, Path]:
    """:func:`render_spectrogram` and :func:`render_spectrogram_strip` from one short-time spectrum."""
    spectrum = spectrogram_db(samples, sample_rate_hz)
    duration_s = samples.shape[0] / sample_rate_hz
    return (_draw_figure(spectrum, duration_s, scale, Path(path), title),
            _draw_strip(spectrum, duration_s, scale, Path(strip_path)))


def _draw_figure(
    spectrum: tuple[np.ndarray, np.ndarray, np.ndarray], duration_s: float, scale: SpectrogramScale, path: Path,
    title: str,
) -> Path:
    from matplotlib.figure import Figure  # no pyplot: thread-safe, no GUI backend

    _, frequencies, power_db = spectrum
    figure = Figure(figsize=(6.4, 2.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(
        power_db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=scale.top_db - scale.range_db,
        vmax=scale.top_db,
        extent=(0.0, duration_s, 0.0, frequencies[-1] / 1000),
        interpolation="nearest",
    )
    axes.set_xlabel("time (s)")
    axes.set_ylabel("frequency (kHz)")
    if title:
        axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, label="dBFS", pad=0.01)
    figure.savefig(path, format="png")
    return path


MAX_STRIP_COLUMNS = 1200


def render_spectrogram_strip(
    samples: np.ndarray, sample_rate_hz: int, scale: SpectrogramScale, path: str | os.PathLike[str]
) -> Path:
    """Draw a spectrogram without axes or margins to a PNG at ``path``: time runs from the
    image's left edge (0 s) to its right edge (the clip's end), so a player can put a cursor
    on it at ``position / duration`` of its width."""
    spectrum = spectrogram_db(samples, sample_rate_hz)
    return _draw_strip(spectrum, samples.shape[0] / sample_rate_hz, scale, Path(path))


def _draw_strip(
    spectrum: tuple[np.ndarray, np.ndarray, np.ndarray], duration_s: float, scale: SpectrogramScale, path: Path
) -> Path:
    from matplotlib.image import imsave

    times, _, power_db = spectrum
    inside = (times >= 0.0) & (times <= duration_s)
    columns = power_db[:, inside] if inside.any() else power_db
    step = max(1, math.ceil(columns.shape[1] / MAX_STRIP_COLUMNS))  # a screen shows no more; PNG size and time stay small
    if step > 1:  # the loudest of each ``step`` columns (the last, partial group is dropped: < 1/1200 of the clip)
        usable = (columns.shape[1] // step) * step
        columns = columns[:, :usable].reshape(columns.shape[0], -1, step).max(axis=2)
    imsave(path, columns[::-1], cmap="magma", vmin=scale.top_db - scale.range_db, vmax=scale.top_db, format="png",
           pil_kwargs={"compress_level": 1})
    return path
