"""Objective metrics with one API: ViSQOL under named protocols, PESQ, STOI/ESTOI, SI-SNR and
spectral distances, each result a value or the reason there is none.

    from codecbench.evaluation.metrics import score_pair
    for result in score_pair("ref.wav", "deg.wav", ["visqol", "pesq", "stoi"]):
        print(result.metric, result.value, result.error, result.protocol)

Many pairs: :func:`score_pairs` (``workers=N`` for a pool of warm processes) or a
:class:`MetricsPool` kept open across batches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codecbench.evaluation.metrics.registry import (
    DEFAULT_METRICS,
    METRIC_DESCRIPTIONS,
    METRIC_NAMES,
    describe_metrics,
    expand_metric_names,
    expand_presets,
    lower_is_better,
    metric_help_text,
    metric_label,
    preset,
)

# Everything else loads on first use, so that reading the registry (``codecbench --help``)
# does not import the audio stack and the metric packages.
_LAZY = {
    "Alignment": "alignment", "estimate_alignment": "alignment",
    "AudioInput": "pair", "PreparedPair": "pair", "prepare_pair": "pair",
    "MetricsPool": "pool", "ScoringPair": "pool", "score_pairs": "pool",
    "MetricError": "result", "MetricResult": "result", "PairScores": "result",
    "ScoringConfig": "scoring", "score_pair": "scoring", "score_prepared_pair": "scoring",
    "score_with_config": "scoring",
    "DEFAULT_VISQOL_PROTOCOL": "visqol", "VISQOL_PROTOCOLS": "visqol", "VisqolProtocol": "visqol",
}

if TYPE_CHECKING:
    from codecbench.evaluation.metrics.alignment import Alignment, estimate_alignment
    from codecbench.evaluation.metrics.pair import AudioInput, PreparedPair, prepare_pair
    from codecbench.evaluation.metrics.pool import MetricsPool, ScoringPair, score_pairs
    from codecbench.evaluation.metrics.result import MetricError, MetricResult, PairScores
    from codecbench.evaluation.metrics.scoring import ScoringConfig, score_pair, score_prepared_pair, score_with_config
    from codecbench.evaluation.metrics.visqol import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOLS, VisqolProtocol


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_VISQOL_PROTOCOL",
    "METRIC_DESCRIPTIONS",
    "METRIC_NAMES",
    "VISQOL_PROTOCOLS",
    "Alignment",
    "AudioInput",
    "MetricError",
    "MetricResult",
    "MetricsPool",
    "PairScores",
    "PreparedPair",
    "ScoringConfig",
    "ScoringPair",
    "VisqolProtocol",
    "describe_metrics",
    "estimate_alignment",
    "expand_metric_names",
    "expand_presets",
    "lower_is_better",
    "metric_help_text",
    "metric_label",
    "prepare_pair",
    "preset",
    "score_pair",
    "score_pairs",
    "score_prepared_pair",
    "score_with_config",
]
