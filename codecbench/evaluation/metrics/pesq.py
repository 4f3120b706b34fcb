"""PESQ (ITU-T P.862) through the ``pesq`` package: wide-band at 16 kHz, narrow-band at 8 kHz.

``pesq_wb`` is P.862.2 (wide-band, 16 kHz; identical signals score about 4.64); ``pesq_nb`` is
P.862 with the P.862.1 MOS-LQO mapping (narrow-band, 8 kHz; at most about 4.55). Both signals
are resampled to the variant's rate through the same soxr path; PESQ aligns and
level-normalises them itself, so it gets the degraded signal as it is. Every failure the ITU
code reports ("No utterances detected", a buffer too short, ...) becomes an error, never a
score of 0 or 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from codecbench.evaluation.metrics.base import Metric
from codecbench.evaluation.metrics.pair import PreparedPair
from codecbench.evaluation.metrics.registry import Resolution
from codecbench.evaluation.metrics.result import MetricError


@dataclass(frozen=True)
class PesqVariant:
    name: str
    band: str  # the ``pesq`` package's mode: "wb" or "nb"
    sample_rate_hz: int
    protocol: str


PESQ_WB = PesqVariant("pesq_wb", "wb", 16_000, "p862.2-wb-16k")
PESQ_NB = PesqVariant("pesq_nb", "nb", 8_000, "p862.1-nb-8k")


def pesq_variant_for(reference_rate_hz: int) -> PesqVariant:
    """What plain ``pesq`` means for a reference: wide-band if it is sampled at 16 kHz or more."""
    return PESQ_WB if reference_rate_hz >= PESQ_WB.sample_rate_hz else PESQ_NB


def pesq_metric(variant: PesqVariant) -> Metric:
    return Metric(
        name=variant.name,
        protocol=variant.protocol,
        packages=("pesq",),
        compute=partial(pesq_mos, variant=variant),
        uses_alignment=False,
    )


def pesq_mos(pair: PreparedPair, variant: PesqVariant) -> float:
    """PESQ MOS-LQO of a pair.

    Raises:
        MetricError: the reference is sampled too low for the variant, or the ITU code
            rejects the signals.
    """
    from pesq import NoUtterancesError, PesqError, pesq

    if pair.sample_rate_hz < variant.sample_rate_hz:
        raise MetricError(
            f"{variant.name} needs a reference sampled at {variant.sample_rate_hz / 1000:g} kHz or "
            f"more; this reference is {pair.sample_rate_hz / 1000:g} kHz. Use pesq_nb for "
            "narrow-band audio."
        )
    reference, degraded = pair.at_rate(variant.sample_rate_hz)
    try:
        return float(pesq(variant.sample_rate_hz, np.asarray(reference), np.asarray(degraded), variant.band))
    except NoUtterancesError:
        raise MetricError(
            f"{variant.name}: PESQ detected no utterances in the reference (P.862's voice activity "
            "detection found no speech above its level threshold). PESQ is defined for speech; "
            "check that the reference is a speech recording and not mostly silence or noise."
        ) from None
    except PesqError as error:
        message = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        raise MetricError(f"{variant.name}: the ITU PESQ code rejected the signals: {message}.") from None


PESQ_WB_METRIC = pesq_metric(PESQ_WB)
PESQ_NB_METRIC = pesq_metric(PESQ_NB)


def pesq_metrics(resolution: Resolution) -> list[Metric]:
    """What ``pesq`` runs on a pair: the variant the reference's rate allows."""
    return [PESQ_WB_METRIC if pesq_variant_for(resolution.reference_rate_hz) is PESQ_WB else PESQ_NB_METRIC]
