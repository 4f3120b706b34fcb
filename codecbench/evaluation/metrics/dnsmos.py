"""DNSMOS (Microsoft's non-intrusive speech quality models) through the ``speechmos`` package.

DNSMOS scores the degraded signal alone; the reference plays no part. One run gives four
numbers, each stored under its own result name:

- ``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl``: the P.835 model (``sig_bak_ovr.onnx``, the
  non-personalized one used in the DNS Challenge papers) for speech signal quality,
  background noise and overall quality, mapped to MOS by its published polynomials;
  protocol :data:`P835_PROTOCOL`;
- ``dnsmos_p808``: the P.808 model (``model_v8.onnx``, on a 120-band log-mel spectrogram);
  protocol :data:`P808_PROTOCOL`.

Protocol, as speechmos runs it: 16 kHz mono input in [-1, 1]; 9.01 s windows at 1 s hops,
the clip repeated end to end until it fills one window; each score is the mean over windows.
The degraded signal is resampled to 16 kHz by :meth:`PreparedPair.at_rate` (soxr, the path
every metric uses) and clipped to [-1, 1] as a 16-bit file of it would be (speechmos refuses
anything outside; a codec's float output can overshoot full scale by a hair). Pairs at less
than 16 kHz are refused: resampling up would only show the model an empty upper band.

The ONNX models run once per pair however many of the four results are asked for: the
scores are kept with the pair until it is gone. The models ship inside the speechmos wheel
and run on onnxruntime; nothing is downloaded.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from functools import partial

import numpy as np

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair
from codecbench.evaluation.metrics.registry import Resolution
from codecbench.evaluation.metrics.result import MetricError

SAMPLE_RATE_HZ = 16_000
P835_PROTOCOL = "p835-sig_bak_ovr-16k-nonpersonalized"
P808_PROTOCOL = "p808-model_v8-16k"
PACKAGES = ("speechmos", "onnxruntime")


@dataclass(frozen=True)
class DnsmosScores:
    """The four DNSMOS scores of one signal (MOS, nominally 1-5)."""

    sig: float
    bak: float
    ovrl: float
    p808: float


# result name -> (field of DnsmosScores, protocol)
_RESULTS = {
    "dnsmos_sig": ("sig", P835_PROTOCOL),
    "dnsmos_bak": ("bak", P835_PROTOCOL),
    "dnsmos_ovrl": ("ovrl", P835_PROTOCOL),
    "dnsmos_p808": ("p808", P808_PROTOCOL),
}


def _score_of(pair: PreparedPair, field: str) -> float:
    return float(getattr(dnsmos_scores(pair), field))


DNSMOS_METRICS: tuple[Metric, ...] = tuple(
    Metric(name=name, protocol=protocol, packages=PACKAGES, compute=partial(_score_of, field=field), uses_alignment=False)
    for name, (field, protocol) in _RESULTS.items()
)


def dnsmos_metrics(resolution: Resolution) -> list[Metric]:
    """What ``dnsmos`` runs on a pair: its four results (one model run between them)."""
    return list(DNSMOS_METRICS)


# Scores (or the failure) of each pair still alive: the four results share one model run.
_SCORED: weakref.WeakKeyDictionary[PreparedPair, DnsmosScores | MetricError] = weakref.WeakKeyDictionary()
# One run at a time per process: speechmos keeps its model in a module global it may replace.
_LOCK = threading.Lock()


def dnsmos_scores(pair: PreparedPair) -> DnsmosScores:
    """The DNSMOS scores of the pair's degraded signal, computed once per pair.

    Raises:
        MetricError: the pair runs below 16 kHz, or the models fail on the signal (the same
            error for every one of the four results).
    """
    with _LOCK:
        outcome = _SCORED.get(pair)
        if outcome is None:
            try:
                outcome = _score_pair(pair)
            except MetricError as error:
                outcome = error
            _SCORED[pair] = outcome
    if isinstance(outcome, MetricError):
        raise MetricError(str(outcome))
    return outcome


def _score_pair(pair: PreparedPair) -> DnsmosScores:
    if pair.sample_rate_hz < SAMPLE_RATE_HZ:
        raise MetricError(
            f"DNSMOS needs wide-band speech at {SAMPLE_RATE_HZ / 1000:g} kHz or more; this pair is at "
            f"{pair.sample_rate_hz / 1000:g} kHz (the reference's rate), so its upper band is empty. "
            "Score narrow-band audio with pesq_nb."
        )
    _, degraded = pair.at_rate(SAMPLE_RATE_HZ)
    return score_signal(degraded)


def score_signal(samples_16k: np.ndarray) -> DnsmosScores:
    """DNSMOS of a 16 kHz mono signal (clipped to [-1, 1] first, as a 16-bit file would be).

    Raises:
        MetricError: speechmos or onnxruntime is missing, or the models fail on the signal.
    """
    try:
        from speechmos import dnsmos
    except ImportError as error:
        raise MetricError(
            f"DNSMOS needs the speechmos package and onnxruntime ({error}); pip install speechmos onnxruntime librosa requests"
        ) from None
    signal = np.clip(np.asarray(samples_16k, np.float32), -1.0, 1.0)
    try:
        _use_single_threaded_sessions(dnsmos)
        scores = dnsmos.run(signal, SAMPLE_RATE_HZ, model_type="dnsmos")
    except Exception as error:  # onnxruntime and librosa raise their own types
        raise MetricError(f"DNSMOS could not score the degraded signal ({type(error).__name__}: {error}).") from error
    values = DnsmosScores(
        sig=float(scores["sig_mos"]), bak=float(scores["bak_mos"]),
        ovrl=float(scores["ovrl_mos"]), p808=float(scores["p808_mos"]),
    )
    if not all(np.isfinite(value) for value in (values.sig, values.bak, values.ovrl, values.p808)):
        raise MetricError(f"DNSMOS gave {values} for the degraded signal, which holds no score.")
    return values


_SESSIONS_LOCK = threading.Lock()


def _use_single_threaded_sessions(package) -> None:
    """Give speechmos's ``run`` ONNX sessions of one thread each, made once per process.

    speechmos makes its sessions with onnxruntime's defaults, one thread per core per session,
    which the pool's one-thread-per-worker limits (threadpoolctl, numba) do not reach: N
    workers on C cores would run about 2*N*C threads. ``run`` keeps the module's ``dnsmos``
    object when its model path is the one it would load, so an object holding our sessions
    under that path is used as is (the same model files, the same numbers).
    """
    import os

    import onnxruntime

    models = os.path.join(os.path.dirname(os.path.abspath(package.__file__)), "dnsmos_models")
    primary = os.path.join(models, "sig_bak_ovr.onnx")
    with _SESSIONS_LOCK:
        current = getattr(package, "dnsmos", None)
        if current is not None and getattr(current, "primary_model_path", None) == primary \
                and getattr(current, "single_threaded", False):
            return
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        models_object = package.DNSMOS.__new__(package.DNSMOS)
        models_object.primary_model_path = primary
        models_object.onnx_sess = onnxruntime.InferenceSession(primary, options, providers=["CPUExecutionProvider"])
        models_object.p808_onnx_sess = onnxruntime.InferenceSession(
            os.path.join(models, "model_v8.onnx"), options, providers=["CPUExecutionProvider"])
        models_object.single_threaded = True
        package.dnsmos = models_object


def warm_up(resolution: Resolution | None = None) -> None:
    """Load the ONNX models (and librosa's kernels) in this process ahead of the first pair."""
    from codecbench.synthetic import speech_like

    # 4.6 s: repeated once it fills one 9.01 s window, so the warm-up runs the models once.
    score_signal(speech_like(4.6, SAMPLE_RATE_HZ, seed=0, peak=0.2))
