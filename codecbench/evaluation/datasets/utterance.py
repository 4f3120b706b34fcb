"""What a test-set loader produces: utterances, the ones it had to skip, and the test set itself."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codecbench.audio import Audio, AudioLimits
from codecbench.evaluation.datasets.sources import AudioSource

logger = logging.getLogger(__name__)


class TestSetError(ValueError):
    """A test set cannot be loaded at all: wrong root, missing metadata, unknown name.

    The message says what was expected where. Problems with single utterances are not
    errors; they become :class:`SkippedUtterance` records.
    """

    __test__ = False  # not a pytest test class


@dataclass(frozen=True)
class Utterance:
    """One utterance of a test set.

    Attributes:
        id: unique within its test set (the corpus's own id where it has one).
        source: where the audio is; :meth:`read_audio` reads it.
        speaker, language, text: what the corpus says, ``None`` where it says nothing.
            ``language`` is an ISO 639-1 code (``"en"``, ``"zh"``).
    """

    id: str
    source: AudioSource
    speaker: str | None = None
    language: str | None = None
    text: str | None = None

    def read_audio(self, limits: AudioLimits = AudioLimits()) -> Audio:
        """The utterance's audio, checked (raises :class:`codecbench.audio.AudioError`)."""
        return self.source.read(limits)


@dataclass(frozen=True)
class SkippedUtterance:
    """An utterance a loader could not use, and why (a missing file, a pipe in a wav.scp, ...)."""

    id: str
    location: str
    reason: str

    def describe(self) -> str:
        return f"{self.id} ({self.location}): {self.reason}"


@dataclass(frozen=True)
class CorpusListing:
    """What a corpus loader found: usable utterances, in reading order, and skipped ones."""

    utterances: tuple[Utterance, ...]
    skipped: tuple[SkippedUtterance, ...] = ()


@dataclass(frozen=True)
class Sample:
    """A reproducible sample of a test set: at most ``limit`` utterances, drawn with ``seed``."""

    limit: int
    seed: int

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")


@dataclass(frozen=True)
class TestSet:
    """A loaded test set.

    Attributes:
        name: the name it goes by in results (``librispeech-test-clean``, or the user's NAME
            for ``NAME=wavscp:PATH`` and ``NAME=folder:PATH``).
        kind: the loader that read it: a named test set, ``wavscp`` or ``folder``.
        root: the path it was read from.
        utterances: the utterances to evaluate, in reading order (a sample, if ``sample``).
        skipped: utterances that could not be used, each with its reason.
        total_utterances: usable utterances in the whole test set, before sampling
            (``None``: all of ``utterances``).
        sample: the ``--limit``/``--seed`` sample drawn, or ``None`` for the whole set.
    """

    __test__ = False  # not a pytest test class

    name: str
    kind: str
    root: Path
    utterances: tuple[Utterance, ...]
    skipped: tuple[SkippedUtterance, ...] = ()
    total_utterances: int | None = None
    sample: Sample | None = None

    def __post_init__(self) -> None:
        if len({utterance.id for utterance in self.utterances}) != len(self.utterances):
            raise ValueError(f"test set {self.name!r} has duplicate utterance ids")
        if self.total_utterances is None:
            object.__setattr__(self, "total_utterances", len(self.utterances))

    def __len__(self) -> int:
        return len(self.utterances)

    def summary(self) -> str:
        drawn = ""
        if self.sample is not None:
            from codecbench.evaluation.datasets.sampling import sampled_skipped  # it builds on this module

            skipped_in_sample = len(sampled_skipped(self))
            also = f" and {skipped_in_sample} skipped" if skipped_in_sample else ""
            drawn = (f" (a sample of {len(self.utterances)}{also}, --limit {self.sample.limit} "
                     f"--seed {self.sample.seed})")
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"{self.name}: {self.total_utterances} utterances{drawn}{skipped} [{self.kind} at {self.root}]"


def unique_by_id(
    utterances: Iterable[Utterance], skipped: Iterable[SkippedUtterance] = ()
) -> CorpusListing:
    """A listing that keeps the first utterance of each id and skips later ones with a warning.

    A skipped duplicate gets an id of its own (``a#dup1``, ``a#dup2``, ...): under the kept
    utterance's id its skip would be recorded against the utterance that is evaluated.
    """
    seen: dict[str, Utterance] = {}
    duplicates: list[Utterance] = []
    for utterance in utterances:
        if utterance.id in seen:
            duplicates.append(utterance)
        else:
            seen[utterance.id] = utterance
    skipped = list(skipped)
    taken = set(seen) | {record.id for record in skipped}
    for utterance in duplicates:
        number = 1
        while f"{utterance.id}#dup{number}" in taken:
            number += 1
        duplicate_id = f"{utterance.id}#dup{number}"
        taken.add(duplicate_id)
        first = seen[utterance.id]
        skipped.append(skip(duplicate_id, utterance.source.describe(),
                            f"same id {utterance.id!r} as {first.source.describe()}; kept that one"))
    return CorpusListing(tuple(seen.values()), tuple(skipped))


def skip(utterance_id: str, location: str | Path, reason: str, *, warn: bool = True) -> SkippedUtterance:
    """A skipped-utterance record, logged as one warning that names the path."""
    record = SkippedUtterance(utterance_id, str(location), reason)
    if warn:
        logger.warning("skipping %s", record.describe())
    return record
