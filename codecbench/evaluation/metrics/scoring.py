"""Score one reference/degraded pair with a list of metrics: one result per metric, value or error."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from codecbench.evaluation.metrics.alignment import Alignment
from codecbench.evaluation.metrics.base import Metric, package_version
from codecbench.evaluation.metrics.pair import (
    DEFAULT_MAX_DELAY_S,
    AudioInput,
    PreparedPair,
    declared_rate_hz,
    prepare_pair,
)
from codecbench.evaluation.metrics.registry import DEFAULT_METRICS, check_metric_name, resolve_metric
from codecbench.evaluation.metrics.result import MetricError, MetricResult
from codecbench.evaluation.metrics.visqol import DEFAULT_VISQOL_PROTOCOL, visqol_protocol


@dataclass(frozen=True)
class ScoringConfig:
    """Which metrics to compute and how.

    Args:
        metrics: metric names (see :data:`METRIC_NAMES`); ``visqol`` yields one result per
            ViSQOL protocol, ``pesq`` the wide- or narrow-band variant the reference allows.
        visqol_protocols: ViSQOL protocols to run (``speech``, ``speech-exp``, ``audio``,
            ``audio-native``).
        max_delay_s: the largest delay between reference and degraded that alignment finds.
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    visqol_protocols: tuple[str, ...] = (DEFAULT_VISQOL_PROTOCOL,)
    max_delay_s: float = DEFAULT_MAX_DELAY_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "visqol_protocols", tuple(self.visqol_protocols))
        if not self.metrics:
            raise ValueError("no metrics requested; name at least one")
        for name in self.metrics:
            check_metric_name(name)
        for protocol in self.visqol_protocols:
            visqol_protocol(protocol)
        if "visqol" in self.metrics and not self.visqol_protocols:
            raise ValueError("visqol requested without a ViSQOL protocol")
        if not 0 < self.max_delay_s <= 10:
            raise ValueError(f"max_delay_s must be in (0, 10] seconds, got {self.max_delay_s}")

    def metrics_for(self, reference_rate_hz: int) -> list[Metric]:
        """The metric variants to run on a reference at this rate, in order, each once."""
        metrics: dict[tuple[str, str], Metric] = {}
        for name in self.metrics:
            for metric in resolve_metric(name, reference_rate_hz, self.visqol_protocols):
                metrics.setdefault((metric.name, metric.protocol), metric)
        return list(metrics.values())


def score_pair(
    reference: AudioInput,
    degraded: AudioInput,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    visqol_protocols: Sequence[str] = (DEFAULT_VISQOL_PROTOCOL,),
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
) -> list[MetricResult]:
    """Score ``degraded`` against ``reference`` with each metric.

    Each signal is an :class:`~codecbench.audio.Audio`, a file path, or
    ``(samples, sample_rate_hz)``; the rates may differ (the degraded signal is resampled to
    the reference's). Input that cannot be scored (unreadable, too short, silent, NaN) gives
    every metric the same error; a metric that fails on its own gives its own error.

    Raises:
        ValueError: an unknown metric or ViSQOL protocol (a mistake in the call, not the audio).
    """
    config = ScoringConfig(tuple(metrics), tuple(visqol_protocols), max_delay_s)
    return score_with_config(reference, degraded, config)


def score_with_config(reference: AudioInput, degraded: AudioInput, config: ScoringConfig) -> list[MetricResult]:
    """:func:`score_pair` with its options in a :class:`ScoringConfig`."""
    try:
        pair = prepare_pair(reference, degraded, max_delay_s=config.max_delay_s)
    except MetricError as error:
        return unscorable_results(config, str(error), declared_rate_hz(reference))
    return score_prepared_pair(pair, config)


def score_prepared_pair(pair: PreparedPair, config: ScoringConfig) -> list[MetricResult]:
    """Score a pair that :func:`prepare_pair` has already read and checked."""
    alignment: Alignment | None = None
    alignment_error: str | None = None
    try:
        alignment = pair.alignment
    except MetricError as error:
        alignment_error = str(error)

    return [
        _run(metric, pair, alignment, alignment_error if metric.uses_alignment else None)
        for metric in config.metrics_for(pair.sample_rate_hz)
    ]


def _run(metric: Metric, pair: PreparedPair, alignment: Alignment | None, error: str | None) -> MetricResult:
    value = None
    if error is None:
        try:
            value = metric.compute(pair)
            if not math.isfinite(value):
                error = f"{metric.name} came out as {value}, not a number; the signals are unusable for it."
                value = None
        except MetricError as failure:
            error = str(failure)
        except Exception as failure:  # a library bug must not sink the other metrics, nor pass as a score
            error = f"{metric.name} failed: {type(failure).__name__}: {failure}"
    return MetricResult(
        metric=metric.name,
        value=None if value is None else float(value),
        error=error,
        protocol=metric.protocol,
        implementation=metric.implementation,
        delay_samples=None if alignment is None else alignment.delay_samples,
        gain_db=None if alignment is None else alignment.gain_db,
    )


def unscorable_results(config: ScoringConfig, error: str, reference_rate_hz: int | None = None) -> list[MetricResult]:
    """The same error for every requested metric, when the pair itself cannot be scored.

    ``pesq`` is named by its variant when the reference's rate is known, else left as ``pesq``.
    """
    if reference_rate_hz is not None:
        return [MetricResult(m.name, None, error, m.protocol, m.implementation) for m in config.metrics_for(reference_rate_hz)]
    results = []
    for name in config.metrics:
        if name == "pesq":  # wide or narrow band depends on the rate, which is unknown
            results.append(MetricResult("pesq", None, error, None, f"pesq {package_version('pesq')}"))
        else:
            results += unscorable_results(replace(config, metrics=(name,)), error, reference_rate_hz=0)
    return results
