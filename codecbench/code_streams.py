"""A token codec's codes drawn as images over time, one panel per stream.

For codecs whose codebooks carry different attributes (FACodec: prosody, content, acoustic
residual), each stream is a panel with a row per codebook and a column per frame, coloured by
code index: where a stream's codes hold still or change shows what that attribute follows
(content codes change with phones; prosody codes with pitch and energy).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

FIGURE_WIDTH_IN = 6.4
ROW_HEIGHT_IN = 0.32
PANEL_MARGIN_IN = 0.35


def render_code_streams(
    streams: Sequence[tuple[str, np.ndarray]],
    frame_rate_hz: float,
    codebook_size: int,
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """Draw ``streams`` (``(name, codes [codebooks, frames])``, all with the same frames) to a PNG at ``path``.

    Raises:
        ValueError: no streams, or streams that are not integer ``[codebooks, frames]`` arrays
            of one length.
    """
    from matplotlib.figure import Figure  # no pyplot: thread-safe, no GUI backend

    if not streams:
        raise ValueError("there are no code streams to draw")
    frame_counts = {codes.shape[1] if codes.ndim == 2 else None for _, codes in streams}
    if len(frame_counts) != 1 or None in frame_counts or not all(np.issubdtype(c.dtype, np.integer) for _, c in streams):
        raise ValueError("code streams must be integer arrays [codebooks, frames] with the same number of frames")
    (num_frames,) = frame_counts
    rows = [codes.shape[0] for _, codes in streams]
    height = sum(rows) * ROW_HEIGHT_IN + len(streams) * PANEL_MARGIN_IN + (0.9 if title else 0.6)
    figure = Figure(figsize=(FIGURE_WIDTH_IN, height), dpi=100, layout="constrained")
    axes_list = figure.subplots(len(streams), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": rows})[:, 0]
    duration_s = num_frames / frame_rate_hz
    image = None
    for axes, (name, codes) in zip(axes_list, streams):
        image = axes.imshow(
            codes,
            aspect="auto",
            origin="upper",
            cmap="viridis",
            vmin=0,
            vmax=codebook_size - 1,
            extent=(0.0, duration_s, codes.shape[0] + 0.5, 0.5),
            interpolation="nearest",
        )
        axes.set_yticks(range(1, codes.shape[0] + 1))
        axes.set_ylabel(name, rotation=0, ha="right", va="center")
    axes_list[-1].set_xlabel("time (s)")
    if title:
        axes_list[0].set_title(title, fontsize=10)
    figure.colorbar(image, ax=list(axes_list), label="code", pad=0.01)
    path = Path(path)
    figure.savefig(path, format="png")
    return path
