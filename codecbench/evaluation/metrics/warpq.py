"""WARP-Q (Jassim et al., ICASSP 2021 / IET Signal Processing 2022) through the ``warpq`` package.

WARP-Q was made for generative neural speech codecs, whose output can sound right without
matching the reference sample by sample: it compares MFCC patches of the degraded signal with
their best-matching stretch of the reference by subsequence dynamic time warping, and reports
the median alignment cost. **Lower is better** (it is a distance: 0 would be a perfect match;
identical speech scores about 0.6 because of the DTW band and step constraints).

Protocol ``raw-16k-vad-median``, the package's defaults (``warpqMetric()`` of warpq 1.5):
both signals at 16 kHz; webrtcvad voice activity detection (mode 0, 30 ms frames) drops the
pauses of each; 13 MFCCs up to 5 kHz from 32 ms frames at 4 ms hops (lifter 3), normalised
by a sliding cepstral mean and variance (0.836 s); 0.4 s patches at 0.2 s hops, each aligned
to the reference with step sizes (1,0), (0,3), (1,3); the score is the median patch cost,
rounded to 3 decimals by the package. We store the raw score, not the package's
"normalised" 1 - raw/3.5 (clamped), which is a fixed rescaling of it.

The package scores arrays (``warpqMetric.evaluate(ref, deg, arr_sr=16000)``), so no files are
written. Both signals are resampled by :meth:`PreparedPair.at_rate` (soxr, as for every
metric) and clipped to [-1, 1] (the VAD refuses anything outside). WARP-Q aligns the signals
itself, so it gets the degraded signal as it is. Pairs below 16 kHz are refused.

Two fixes to the dependency chain, so warpq runs on today's stack: ``pyvad`` (its VAD) calls
``numpy.lib.pad``, which NumPy 2 removed; :func:`_numpy2_shim` puts ``numpy.pad`` back under
that name. ``webrtcvad`` imports ``pkg_resources``, which setuptools 81 removed; the
``setuptools<81`` pin in ``pyproject.toml`` keeps it.
"""

from __future__ import annotations

import re
import threading
import warnings
from functools import cache
from typing import Any

import numpy as np

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair
from codecbench.evaluation.metrics.registry import Resolution
from codecbench.evaluation.metrics.result import MetricError

SAMPLE_RATE_HZ = 16_000
PROTOCOL = "raw-16k-vad-median"


def warpq_score(pair: PreparedPair) -> float:
    """WARP-Q's raw score of the pair (lower is better).

    Raises:
        MetricError: the pair runs below 16 kHz, too little speech is left after voice
            activity detection (under one 0.4 s patch), or warpq fails on the signals.
    """
    if pair.sample_rate_hz < SAMPLE_RATE_HZ:
        raise MetricError(
            f"WARP-Q runs on wide-band speech at {SAMPLE_RATE_HZ / 1000:g} kHz; this reference is "
            f"{pair.sample_rate_hz / 1000:g} kHz. Score narrow-band audio with pesq_nb."
        )
    reference, degraded = pair.at_rate(SAMPLE_RATE_HZ)
    return score_signals(reference, degraded)


def score_signals(reference_16k: np.ndarray, degraded_16k: np.ndarray) -> float:
    """WARP-Q's raw score of two 16 kHz mono signals (each clipped to [-1, 1] first).

    Raises:
        MetricError: as :func:`warpq_score`.
    """
    # float32, as the package's own file reader (librosa.load) gives them.
    reference = np.clip(np.asarray(reference_16k, np.float32), -1.0, 1.0)
    degraded = np.clip(np.asarray(degraded_16k, np.float32), -1.0, 1.0)
    metric = _warpq_metric()
    try:
        with _LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = metric.evaluate(reference, degraded, arr_sr=SAMPLE_RATE_HZ)
    except Exception as error:  # librosa, numba and webrtcvad raise their own types
        raise MetricError(f"WARP-Q could not score this pair ({type(error).__name__}: {error}).") from error
    value = float(result["raw_warpq_score"])
    if np.isnan(value):  # the package's answer to signals too short after its VAD
        raise MetricError(
            "WARP-Q needs at least 0.4 s of speech in each signal after voice activity detection, "
            f"and {_speech_left(caught)}; use longer speech clips."
        )
    if not np.isfinite(value):
        raise MetricError(f"WARP-Q gave {value} for this pair, which is no score; check that both signals hold speech.")
    return value


def _speech_left(caught: list[warnings.WarningMessage]) -> str:
    """What the package's warning says was left of each signal (``Reference signal: 0.27s``)."""
    for warning in caught:
        found = re.search(r"Short audio files: (.*?)\. Returning", " ".join(str(warning.message).split()))
        if found:
            return f"here too little is left ({found.group(1)})"
    return "one of them has less"


# One evaluation at a time per process: librosa's numba kernels and webrtcvad are not
# documented as thread-safe, and the app scores from threads.
_LOCK = threading.Lock()


@cache
def _warpq_metric() -> Any:
    """The package's metric object with its default protocol, made once per process."""
    _numpy2_shim()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            from warpq.core import warpqMetric
    except ImportError as error:
        raise MetricError(
            f"WARP-Q needs the warpq package and its VAD ({error}); pip install warpq 'setuptools<81'"
        ) from None
    return warpqMetric(sr=SAMPLE_RATE_HZ, n_jobs=1)


def _numpy2_shim() -> None:
    """Give ``numpy.lib`` back the ``pad`` that pyvad calls (an alias of ``numpy.pad`` until
    NumPy 2.0 removed it); does nothing on NumPy 1."""
    if not hasattr(np.lib, "pad"):
        np.lib.pad = np.pad  # type: ignore[attr-defined]


def warm_up(resolution: Resolution | None = None) -> None:
    """Import warpq and compile its kernels in this process ahead of the first pair."""
    from codecbench.synthetic import speech_like

    reference = speech_like(2.0, SAMPLE_RATE_HZ, seed=0, peak=0.2)
    score_signals(reference, reference * np.float32(0.9))


WARPQ_METRIC = Metric(name="warpq", protocol=PROTOCOL, packages=("warpq",), compute=warpq_score, uses_alignment=False)
