"""STOI and ESTOI through ``pystoi``, on the delay-aligned degraded signal.

STOI does not search for a delay itself (a 40 ms offset costs it a lot), so it is computed
on codecbench's aligned copy, at the reference's rate; pystoi resamples both signals to
10 kHz with its MATLAB-compatible resampler, as the reference implementation does, so the
numbers match published pystoi/MATLAB STOI. Identical signals score 1.0.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair
from codecbench.evaluation.metrics.result import MetricError

# pystoi's stand-in result when fewer than 30 frames (384 ms) of speech remain after it drops
# frames more than 40 dB below the loudest; it warns and returns this instead of a score.
PYSTOI_TOO_FEW_FRAMES = 1e-5
warnings.filterwarnings("ignore", message="Not enough STFT frames", category=RuntimeWarning)


def stoi_metric(extended: bool) -> Metric:
    return Metric(
        name="estoi" if extended else "stoi",
        protocol="aligned-10k",
        packages=("pystoi",),
        compute=partial(stoi_score, extended=extended),
        uses_alignment=True,
    )


def stoi_score(pair: PreparedPair, extended: bool) -> float:
    """STOI (or ESTOI with ``extended``) of the aligned pair.

    Raises:
        MetricError: too little speech is left once silent frames are dropped.
    """
    from pystoi import stoi

    reference = np.asarray(pair.reference, np.float64)
    degraded = np.asarray(pair.aligned_degraded, np.float64)
    value = float(stoi(reference, degraded, pair.sample_rate_hz, extended=extended))
    if value == PYSTOI_TOO_FEW_FRAMES:
        name = "ESTOI" if extended else "STOI"
        raise MetricError(
            f"{name} needs at least 30 frames (about 0.4 s) of speech within 40 dB of the "
            "loudest frame, and this reference has fewer; use a longer speech clip."
        )
    return value


STOI = stoi_metric(extended=False)
ESTOI = stoi_metric(extended=True)
