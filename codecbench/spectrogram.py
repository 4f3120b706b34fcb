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
    from matplotlib.figure import Figure  # no pyplot: thread-safe, no GUI backend

    times, frequencies, power_db = spectrogram_db(samples, sample_rate_hz)
    figure = Figure(figsize=(6.4, 2.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(
        power_db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=scale.top_db - scale.range_db,
        vmax=scale.top_db,
        extent=(0.0, samples.shape[0] / sample_rate_hz, 0.0, frequencies[-1] / 1000),
        interpolation="nearest",
    )
    axes.set_xlabel("time (s)")
    axes.set_ylabel("frequency (kHz)")
    if title:
        axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, label="dBFS", pad=0.01)
    path = Path(path)
    figure.savefig(path, format="png")
    return path
