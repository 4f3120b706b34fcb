"""The metric names users ask for, and the metric variants each name stands for."""

from __future__ import annotations

import difflib
from dataclasses import replace

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pesq import PESQ_NB, PESQ_WB, pesq_metric, pesq_variant_for
from codecbench.evaluation.metrics.sisnr import SISNR
from codecbench.evaluation.metrics.spectral import LOG_MEL_DISTANCE, MRSTFT_DISTANCE
from codecbench.evaluation.metrics.stoi import stoi_metric
from codecbench.evaluation.metrics.visqol import visqol_metric

METRIC_DESCRIPTIONS: dict[str, str] = {
    "visqol": "ViSQOL MOS-LQO under each chosen protocol (speech, speech-exp, audio, audio-native)",
    "pesq": "PESQ: pesq_wb for references sampled at 16 kHz or more, else pesq_nb",
    "pesq_wb": "PESQ wide-band (P.862.2) at 16 kHz, MOS-LQO up to about 4.64",
    "pesq_nb": "PESQ narrow-band (P.862 + P.862.1 mapping) at 8 kHz, MOS-LQO up to about 4.55",
    "stoi": "STOI intelligibility (0-1) on the aligned signal",
    "estoi": "extended STOI (0-1) on the aligned signal",
    "sisnr": "scale-invariant SNR in dB on the aligned signal (capped at 100 dB)",
    "mel": "log-mel distance in dB on the aligned, level-matched signal (0 = identical)",
    "mrstft": "multi-resolution STFT distance on the aligned, level-matched signal (0 = identical)",
}
METRIC_NAMES = tuple(METRIC_DESCRIPTIONS)
DEFAULT_METRICS = ("visqol", "pesq", "stoi", "estoi", "sisnr", "mel", "mrstft")


def check_metric_name(name: str) -> None:
    """``ValueError`` naming the allowed metrics (and the likely one) for an unknown name."""
    if name not in METRIC_DESCRIPTIONS:
        close = difflib.get_close_matches(name, METRIC_NAMES, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ValueError(f"unknown metric {name!r}.{hint} Choose from: {', '.join(METRIC_NAMES)}.")


def resolve_metric(name: str, reference_rate_hz: int, visqol_protocols: tuple[str, ...]) -> list[Metric]:
    """The metric variants ``name`` stands for on a reference sampled at ``reference_rate_hz``
    (``visqol`` gives one per protocol, ``pesq`` the variant the rate allows)."""
    check_metric_name(name)
    if name == "visqol":
        return [visqol_metric(protocol) for protocol in visqol_protocols]
    if name == "pesq":
        return [pesq_metric(pesq_variant_for(reference_rate_hz))]
    return [_FIXED_METRICS[name]]


_FIXED_METRICS: dict[str, Metric] = {
    "pesq_wb": pesq_metric(PESQ_WB),
    "pesq_nb": pesq_metric(PESQ_NB),
    "stoi": stoi_metric(extended=False),
    "estoi": stoi_metric(extended=True),
    "sisnr": replace(SISNR, needs_waveform_coherence=True),
    "mel": LOG_MEL_DISTANCE,
    "mrstft": MRSTFT_DISTANCE,
}


def needs_waveform_coherence(metric_name: str) -> bool:
    """Whether the metric a result names (``sisnr``, ``pesq_wb``, ``visqol``) compares waveforms
    sample by sample, and so does not apply to a codec that makes its own phase."""
    metric = _FIXED_METRICS.get(metric_name)
    return metric is not None and metric.needs_waveform_coherence
