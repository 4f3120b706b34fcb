"""Objective metrics with one API: ViSQOL under named protocols, PESQ, STOI/ESTOI, SI-SNR and
spectral distances, each result a value or the reason there is none.

    from codecbench.evaluation.metrics import score_pair
    for result in score_pair("ref.wav", "deg.wav", ["visqol", "pesq", "stoi"]):
        print(result.metric, result.value, result.error, result.protocol)

Many pairs: :func:`score_pairs` (``workers=N`` for a pool of warm processes) or a
:class:`MetricsPool` kept open across batches.
"""

from codecbench.evaluation.metrics.alignment import Alignment, estimate_alignment
from codecbench.evaluation.metrics.pair import AudioInput, PreparedPair, prepare_pair
from codecbench.evaluation.metrics.pool import MetricsPool, ScoringPair, score_pairs
from codecbench.evaluation.metrics.registry import DEFAULT_METRICS, METRIC_DESCRIPTIONS, METRIC_NAMES
from codecbench.evaluation.metrics.result import MetricError, MetricResult, PairScores
from codecbench.evaluation.metrics.scoring import ScoringConfig, score_pair, score_prepared_pair, score_with_config
from codecbench.evaluation.metrics.visqol import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOLS, VisqolProtocol

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
    "estimate_alignment",
    "prepare_pair",
    "score_pair",
    "score_pairs",
    "score_prepared_pair",
    "score_with_config",
]
