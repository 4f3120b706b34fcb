"""Token counts of a code stream: what every token statistic is computed from.

Counts are additive: the counts of a test set are the sums of its utterances' counts, so an
evaluation stores each utterance's counts with its other results and any set of stored
utterances (a resumed run, several machines' runs) sums to the same figures as one run over
all of them. Each codebook keeps three sparse tables:

- ``unigram``: how often each entry occurs;
- ``prev_frame``: how often entry ``x`` follows entry ``a`` of the same codebook in the previous
  frame (key ``a * K + x``);
- ``prev_codebook``: how often entry ``x`` occurs where the previous codebook of the same frame
  holds ``b`` (key ``b * K + x``; empty for the first codebook).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TABLES = ("unigram", "prev_frame", "prev_codebook")
_FORMAT_VERSION = 1


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
        books = []
        for q in range(codes.shape[0]):
            row = codes[q]
            books.append(CodebookCounts(
                unigram=SparseCounts.of(row),
                prev_frame=SparseCounts.of(row[:-1] * codebook_size + row[1:]),
                prev_codebook=(SparseCounts.of(codes[q - 1] * codebook_size + row) if q > 0
                               else SparseCounts.empty()),
            ))
        return cls(name, codebook_size, int(codes.shape[1]), tuple(books))

    def to_bytes(self) -> bytes:
        """A compact, versioned binary form (zlib-compressed integers) for the database."""
        tables = [book.table(name) for book in self.codebooks for name in TABLES]
        header = np.array([_FORMAT_VERSION, self.codebook_size, self.num_frames, self.num_codebooks,
                           *(table.keys.size for table in tables)], dtype=np.int64)
        parts = [header] + [table.keys for table in tables] + [table.counts for table in tables]
        return zlib.compress(np.concatenate(parts).astype("<i8").tobytes(), 6)

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> StreamCounts:
        """The counts :meth:`to_bytes` wrote.

        Raises:
            ValueError: ``data`` is not counts of a version this codecbench reads.
        """
        try:
            values = np.frombuffer(zlib.decompress(data), dtype="<i8").astype(np.int64)
        except zlib.error as error:
            raise ValueError(f"stored token counts of stream {name!r} are damaged: {error}") from None
        if values.size < 4 or values[0] != _FORMAT_VERSION:
            raise ValueError(f"stored token counts of stream {name!r} have an unknown format")
        codebook_size, num_frames, num_codebooks = (int(v) for v in values[1:4])
        sizes = values[4 : 4 + len(TABLES) * num_codebooks]
        offsets = np.concatenate([[0], np.cumsum(sizes)]) + 4 + sizes.size
        total = int(sizes.sum())
        if values.size != 4 + sizes.size + 2 * total:
            raise ValueError(f"stored token counts of stream {name!r} are truncated")
        tables = [SparseCounts(values[offsets[i] : offsets[i + 1]], values[offsets[i] + total : offsets[i + 1] + total])
                  for i in range(sizes.size)]
        books = tuple(CodebookCounts(*tables[q * len(TABLES) : (q + 1) * len(TABLES)]) for q in range(num_codebooks))
        return cls(name, codebook_size, num_frames, books)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, StreamCounts) and (self.name, self.codebook_size, self.num_frames)
                == (other.name, other.codebook_size, other.num_frames) and self.codebooks == other.codebooks)


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
