"""Test-set loaders: named public test sets, Kaldi/FunCodec scp lists and folders, as utterances.

A loader only indexes (no audio is decoded); :meth:`Utterance.read_audio` reads one
utterance's audio through :mod:`codecbench.audio`.
"""

from codecbench.evaluation.datasets.registry import (
    GENERIC_KINDS,
    NAMED_TESTSETS,
    TestSetKind,
    TestSetSpec,
    load_testset,
    parse_testset_spec,
)
from codecbench.evaluation.datasets.sampling import draw_sample, sampled_skipped
from codecbench.evaluation.datasets.sources import AudioFile, AudioSource, AudioSpan, TarMember, source_from_dict
from codecbench.evaluation.datasets.utterance import (
    CorpusListing,
    Sample,
    SkippedUtterance,
    TestSet,
    TestSetError,
    Utterance,
)

__all__ = [
    "GENERIC_KINDS",
    "NAMED_TESTSETS",
    "AudioFile",
    "AudioSource",
    "AudioSpan",
    "CorpusListing",
    "Sample",
    "SkippedUtterance",
    "TarMember",
    "TestSet",
    "TestSetError",
    "TestSetKind",
    "TestSetSpec",
    "Utterance",
    "draw_sample",
    "sampled_skipped",
    "load_testset",
    "parse_testset_spec",
    "source_from_dict",
]
