"""Entropy estimates from token counts, with the bias correction stated.

The plug-in (maximum-likelihood) estimate ``-sum p log2 p`` of ``N`` tokens over ``m`` occupied
entries is biased low; the Miller-Madow correction adds ``(m - 1) / (2 N ln 2)`` bits, the
first-order term of that bias (Miller 1955). It corrects well when ``N`` is large next to the
entries the source uses, and only part of the bias below that: figures resting on fewer
tokens than the codebook has entries are flagged (:data:`MIN_TOKENS_PER_ENTRY`).

A conditional entropy ``H(X | C)`` is ``H(C, X) - H(C)``, both from the pair counts and both
corrected, which adds ``(m_CX - m_C) / (2 N ln 2)`` to the plug-in estimate; with many
contexts seen few times each it stays far too low (each context's few tokens look
predictable): figures resting on fewer than :data:`MIN_TOKENS_PER_CONTEXT` tokens per context
are flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codecbench.tokens.counts import SparseCounts

ESTIMATOR = "plug-in (maximum likelihood) with the Miller-Madow bias correction (m - 1) / (2 N ln 2) bits"
# Fewer tokens than MIN_TOKENS_PER_ENTRY x codebook entries: the estimate is flagged.
MIN_TOKENS_PER_ENTRY = 1
# A conditional entropy resting on fewer tokens per context than this is flagged.
MIN_TOKENS_PER_CONTEXT = 10
TOP_SHARE_FRACTION = 0.01


@dataclass(frozen=True)
class EntropyEstimate:
    """An entropy in bits per token.

    Attributes:
        bits: the Miller-Madow corrected estimate.
        plug_in_bits: the uncorrected plug-in estimate.
        tokens: the tokens it rests on (``N``).
        cells: occupied cells (entries, or context-entry pairs: ``m``).
        contexts: distinct contexts, for a conditional entropy; ``None`` otherwise.
    """

    bits: float
    plug_in_bits: float
    tokens: int
    cells: int
    contexts: int | None = None


def _plug_in_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total == 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(max(-(p * np.log2(p)).sum(), 0.0)) + 0.0  # + 0.0: a single entry's -0.0 as 0.0


def _correction_bits(occupied: int, tokens: int) -> float:
    return (occupied - 1) / (2 * tokens * math.log(2)) if tokens else 0.0


def entropy(counts: SparseCounts) -> EntropyEstimate | None:
    """``H(X)`` from entry counts; ``None`` for no tokens."""
    tokens = counts.total
    if tokens == 0:
        return None
    plug_in = _plug_in_bits(counts.counts)
    return EntropyEstimate(plug_in + _correction_bits(counts.keys.size, tokens), plug_in, tokens, int(counts.keys.size))


def conditional_entropy(pairs: SparseCounts, codebook_size: int) -> EntropyEstimate | None:
    """``H(X | C)`` from pair counts keyed ``c * K + x``; ``None`` for no pairs."""
    tokens = pairs.total
    if tokens == 0:
        return None
    contexts, inverse = np.unique(pairs.keys // codebook_size, return_inverse=True)
    context_counts = np.bincount(inverse, weights=pairs.counts, minlength=contexts.size)
    plug_in = max(_plug_in_bits(pairs.counts) - _plug_in_bits(context_counts), 0.0) + 0.0
    bits = plug_in + _correction_bits(pairs.keys.size, tokens) - _correction_bits(contexts.size, tokens)
    return EntropyEstimate(bits, plug_in, tokens, int(pairs.keys.size), int(contexts.size))


def top_share(counts: SparseCounts, codebook_size: int, fraction: float = TOP_SHARE_FRACTION) -> float | None:
    """The share of tokens the most frequent ``ceil(fraction x K)`` entries take; ``None`` for no tokens."""
    tokens = counts.total
    if tokens == 0:
        return None
    top = max(1, math.ceil(fraction * codebook_size))
    return float(np.sort(counts.counts)[::-1][:top].sum() / tokens)
