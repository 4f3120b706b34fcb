"""Reproducible samples of a test set: ``--limit N --seed S``.

Each utterance gets a rank from a hash of the seed and its id; the sample is the N lowest.
The draw depends on nothing else (not the order of the listing, the machine, or Python's
hash seed), and samples are nested: ``--limit 400`` holds every utterance of ``--limit 200``
with the same seed, so growing a sample reuses the results already stored. A sample keeps
the test set's reading order.

The draw ranks the utterances a loader skipped together with the usable ones: a sample of N
is the N lowest-ranked ids of the whole listing, some of which may be skipped ones (they count
as failures of the sample, see :func:`sampled_skipped`), so that a sample never holds more
than N utterances and a usable utterance's place in it does not depend on which files are
missing.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from codecbench.evaluation.datasets.utterance import Sample, SkippedUtterance, TestSet


def sample_rank(seed: int, utterance_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{utterance_id}".encode()).digest()


def _lowest_ranked(seed: int, ids: list[str], limit: int) -> set[str]:
    return set(sorted(ids, key=lambda utterance_id: sample_rank(seed, utterance_id))[:limit])


def draw_sample(testset: TestSet, limit: int, seed: int = 0) -> TestSet:
    """The usable utterances among the ``limit`` ids of ``testset`` (usable and skipped) chosen
    by ``seed``; the rest of it unchanged."""
    sample = Sample(limit, seed)
    ids = [utterance.id for utterance in testset.utterances] + [record.id for record in testset.skipped]
    if limit >= len(ids):
        return replace(testset, sample=sample)
    chosen = _lowest_ranked(seed, ids, limit)
    return replace(
        testset,
        utterances=tuple(utterance for utterance in testset.utterances if utterance.id in chosen),
        sample=sample,
    )


def sampled_skipped(testset: TestSet) -> tuple[SkippedUtterance, ...]:
    """The skipped utterances that belong to ``testset`` as drawn: all of them for a whole test
    set; for a sample, those among its ``limit`` ids (so usable plus skipped is at most ``limit``)."""
    if testset.sample is None:
        return testset.skipped
    # The usable utterances left are exactly those ranked among the first `limit` of the whole
    # listing, so the `limit` lowest of them and the skipped ones are the sample's ids.
    ids = [utterance.id for utterance in testset.utterances] + [record.id for record in testset.skipped]
    chosen = _lowest_ranked(testset.sample.seed, ids, testset.sample.limit)
    return tuple(record for record in testset.skipped if record.id in chosen)
