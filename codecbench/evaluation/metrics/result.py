"""What scoring returns: one :class:`MetricResult` per metric, a value or the reason there is none."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class MetricError(ValueError):
    """A metric cannot be computed for this pair; the message says why and what to do."""


@dataclass(frozen=True)
class MetricResult:
    """The outcome of one metric on one reference/degraded pair.

    Exactly one of ``value`` and ``error`` is set: a metric that could not be computed
    carries its reason and no number, never a stand-in such as 0 or 1.

    Attributes:
        metric: the metric's name, carrying its variant (``pesq_wb``, not ``pesq``).
        value: the score, in the metric's own unit (MOS for ViSQOL and PESQ, dB for SI-SNR
            and log-mel distance), or ``None``.
        error: why there is no value, or ``None``.
        protocol: how the number was made (e.g. ViSQOL's ``speech`` or ``audio-native``,
            PESQ's ``p862.2-wb-16k``); ``None`` when the pair could not be read at all.
        implementation: the package and version that computed it (``visqol-python 3.8.0``).
        delay_samples: delay of the degraded signal behind the reference found by
            alignment, in samples at the reference's rate (negative: it leads), or ``None``.
        gain_db: level of the degraded signal relative to the reference found by
            alignment, in dB, or ``None``.
    """

    metric: str
    value: float | None
    error: str | None
    protocol: str | None
    implementation: str
    delay_samples: int | None = None
    gain_db: float | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.error is None):
            raise ValueError(f"{self.metric}: a result needs exactly one of value and error")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"{self.metric}: value {self.value} is not a finite number")

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """The JSON record ``codecbench score`` prints, field for field."""
        return {
            "metric": self.metric,
            "value": self.value,
            "error": self.error,
            "protocol": self.protocol,
            "implementation": self.implementation,
            "delay_samples": self.delay_samples,
            "gain_db": None if self.gain_db is None else round(self.gain_db, 3),
        }


@dataclass(frozen=True)
class PairScores:
    """Every metric's result for one pair of a batch, under the pair's id."""

    pair_id: str
    results: tuple[MetricResult, ...]
