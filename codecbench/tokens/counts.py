"""Token counts of a code stream: what every token statistic is computed from.

Counts are additive: the counts of a test set are the sums of its utterances' counts, so any
set of stored utterances (a resumed run, several machines' runs) sums to the same figures as
one run over all of them. (An evaluation stores each utterance's codes entropy-coded, which is
smaller than its counts, and counts them again when it sums.) Each codebook keeps three sparse tables:

- ``unigram``: how often each entry occurs;
- ``prev_frame``: how often entry ``x`` follows entry ``a`` of the same codebook in the previous
  frame (key ``a * K + x``);
- ``prev_codebook``: how often entry ``x`` occurs where the previous codebook of the same frame
  holds ``b`` (key ``b * K + x``; empty for the first codebook).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TABLES = ("unigram", "prev_frame", "prev_codebook")


@dataclass(frozen=True, eq=False)
class SparseCounts:
    """Counts of integer keys: ``keys`` sorted and distinct (int64), ``counts`` positive (int64)."""

    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> SparseCounts:
        keys, counts = np.unique(np.asarray(values, dtype=np.int64), return_counts=True)
        return cls(keys, counts.astype(np.int64))

    @classmethod
    def empty(cls) -> SparseCounts:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SparseCounts) and np.array_equal(self.keys, other.keys)
                and np.array_equal(self.counts, other.counts))


def sum_sparse(parts: Sequence[SparseCounts]) -> SparseCounts:
    """The counts of all ``parts`` together."""
    if not parts:
        return SparseCounts.empty()
    keys = np.concatenate([part.keys for part in parts])
    counts = np.concatenate([part.counts for part in parts])
    distinct, inverse = np.unique(keys, return_inverse=True)
    return SparseCounts(distinct, np.bincount(inverse, weights=counts, minlength=distinct.size).astype(np.int64))


@dataclass(frozen=True, eq=False)
class CodebookCounts:
    """One codebook's three tables (see the module docstring)."""

    unigram: SparseCounts
    prev_frame: SparseCounts
    prev_codebook: SparseCounts

    def table(self, name: str) -> SparseCounts:
        return getattr(self, name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CodebookCounts) and all(self.table(t) == other.table(t) for t in TABLES)


@dataclass(frozen=True, eq=False)
class StreamCounts:
    """The counts of one code stream (all of a codec's codebooks, or one FACodec attribute's).

    Attributes:
        name: the stream (``codes``, or FACodec's ``prosody``, ``content``, ``residual``).
        codebook_size: entries per codebook (``K``).
        num_frames: frames counted (summed over utterances).
        codebooks: per codebook, its tables.
    """

    name: str
    codebook_size: int
    num_frames: int
    codebooks: tuple[CodebookCounts, ...]

    @property
    def num_codebooks(self) -> int:
        return len(self.codebooks)

    @classmethod
    def from_codes(cls, name: str, codes: np.ndarray, codebook_size: int) -> StreamCounts:
        """Count ``codes`` ``[num_codebooks, num_frames]``."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.ndim != 2:
            raise ValueError(f"codes must be [num_codebooks, num_frames], got shape {codes.shape}")
        num_codebooks, num_frames = codes.shape
        size = codebook_size
        # One np.unique per table over every codebook at once (keys offset by codebook), split after.
        books = np.arange(num_codebooks, dtype=np.int64)[:, None]
        unigram = _split(codes + books * size, size, num_codebooks)
        prev_frame = _split((codes[:, :-1] * size + codes[:, 1:]) + books * size * size, size * size, num_codebooks)
        prev_codebook = [SparseCounts.empty()] + _split(
            (codes[:-1] * size + codes[1:]) + books[1:] * size * size, size * size, num_codebooks)[1:]
        tables = zip(unigram, prev_frame, prev_codebook)
        return cls(name, codebook_size, int(num_frames), tuple(CodebookCounts(*books) for books in tables))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, StreamCounts) and (self.name, self.codebook_size, self.num_frames)
                == (other.name, other.codebook_size, other.num_frames) and self.codebooks == other.codebooks)


def _split(keys: np.ndarray, span: int, num_codebooks: int) -> list[SparseCounts]:
    """Counts of ``keys`` (codebook ``q``'s keys offset by ``q * span``), one per codebook."""
    counted = SparseCounts.of(keys.ravel())
    bounds = np.searchsorted(counted.keys, np.arange(num_codebooks + 1, dtype=np.int64) * span)
    return [SparseCounts(counted.keys[bounds[q] : bounds[q + 1]] - q * span, counted.counts[bounds[q] : bounds[q + 1]])
            for q in range(num_codebooks)]


def sum_stream_counts(parts: Iterable[StreamCounts]) -> StreamCounts:
    """The counts of several utterances' streams of one kind, summed.

    Raises:
        ValueError: no parts, or parts of different streams, codebook sizes or codebook counts.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("there are no token counts to sum")
    first = parts[0]
    for part in parts[1:]:
        if (part.name, part.codebook_size, part.num_codebooks) != (first.name, first.codebook_size, first.num_codebooks):
            raise ValueError(
                f"cannot add token counts of stream {part.name!r} ({part.num_codebooks} x {part.codebook_size}) to "
                f"{first.name!r} ({first.num_codebooks} x {first.codebook_size})"
            )
    books = tuple(
        CodebookCounts(*(sum_sparse([part.codebooks[q].table(name) for part in parts]) for name in TABLES))
        for q in range(first.num_codebooks)
    )
    return StreamCounts(first.name, first.codebook_size, sum(part.num_frames for part in parts), books)
