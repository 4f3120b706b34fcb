"""Reproducible samples of a test set: ``--limit N --seed S``.

Each utterance gets a rank from a hash of the seed and its id; the sample is the N lowest.
The draw depends on nothing else (not the order of the listing, the machine, or Python's
hash seed), and samples are nested: ``--limit 400`` holds every utterance of ``--limit 200``
with the same seed, so growing a sample reuses the results already stored. A sample keeps
the test set's reading order.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from codecbench.evaluation.datasets.utterance import Sample, TestSet


def sample_rank(seed: int, utterance_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{utterance_id}".encode()).digest()


def draw_sample(testset: TestSet, limit: int, seed: int = 0) -> TestSet:
    """At most ``limit`` utterances of ``testset``, chosen by ``seed``; the rest of it unchanged."""
    sample = Sample(limit, seed)
    if limit >= len(testset.utterances):
        return replace(testset, sample=sample)
    ranked = sorted(testset.utterances, key=lambda utterance: sample_rank(seed, utterance.id))
    chosen = {utterance.id for utterance in ranked[:limit]}
    return replace(
        testset,
        utterances=tuple(utterance for utterance in testset.utterances if utterance.id in chosen),
        sample=sample,
    )
