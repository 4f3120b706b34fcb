"""What a token codec's codes carry: codebook use, entropies and the entropy-coded bitrate.

:func:`measure_tokens` takes one encoded utterance and returns its additive record
(:class:`UnitTokens`: counts per stream, and the size of its codes once entropy-coded by
:mod:`codecbench.tokens.coder`, checked by decoding them back). :func:`token_report` turns any
number of such records (one clip, or a test set's utterances) into the figures users read
(:class:`TokenReport`), the same way for both.

Rates: ``measured_kbps`` is the payload as the codec sends it (every token at
``ceil(log2 K)`` bits), ``entropy_coded_kbps`` what the adaptive coder needs for the same codes,
``entropy_kbps`` what a static code at each codebook's entropy would need (``sum_q H_q``
bits per frame; the order-0 figure a coder trained on the test set would approach). All are
over the encoded audio's duration and leave out per-clip side information (FunCodec's scale,
FACodec's timbre vector), as ``measured_kbps`` does.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from codecbench.codecs.base import EncodedAudio, TokenPayload
from codecbench.tokens.coder import decode_codes, encode_codes
from codecbench.tokens.counts import StreamCounts, sum_stream_counts
from codecbench.tokens.estimators import (
    ESTIMATOR,
    MIN_TOKENS_PER_CONTEXT,
    MIN_TOKENS_PER_ENTRY,
    EntropyEstimate,
    conditional_entropy,
    entropy,
    top_share,
)

SINGLE_STREAM = "codes"
CODER = ("adaptive arithmetic coder (32-bit), per utterance from empty counts; each code predicted from its "
         "codebook's counts, the previous frame's code and the previous codebook's code (Witten-Bell levels "
         "mixed by Bayes weights); decoded back and checked")


class NoTokensError(ValueError):
    """The codec sends no tokens (a classical codec's bitstream, an anchor's filtered audio)."""


@dataclass(frozen=True, eq=False)
class StreamTokens:
    """One utterance's stream: its codes entropy-coded, and their counts.

    Attributes:
        counts: the stream's token counts.
        coded: the coder's output; :meth:`from_coded` gives the counts back from it alone.
        model_bits: the adaptive model's ideal cost (``-sum log2 P``), for the coder's overhead.
        codes_crc32: CRC-32 of the codes (:func:`codes_checksum`), which decoding checks.
    """

    counts: StreamCounts
    coded: bytes
    model_bits: float
    codes_crc32: int

    @property
    def coded_bits(self) -> int:
        """The coded size in whole bytes, as bits."""
        return 8 * len(self.coded)

    @classmethod
    def from_coded(cls, name: str, coded: bytes, num_codebooks: int, num_frames: int, codebook_size: int,
                   model_bits: float, codes_crc32: int) -> StreamTokens:
        """The stream stored as its coded bytes, decoded and counted again.

        Raises:
            ValueError: the bytes do not decode to the codes they were made from (damaged, or
                made by another coder).
        """
        codes = decode_codes(coded, num_codebooks, num_frames, codebook_size)
        if codes_checksum(codes) != codes_crc32:
            raise ValueError(f"stored codes of stream {name!r} do not decode to the codes that were coded: "
                             "the stored bytes are damaged or from another coder")
        return cls(StreamCounts.from_codes(name, codes, codebook_size), coded, model_bits, codes_crc32)


@dataclass(frozen=True, eq=False)
class UnitTokens:
    """One utterance's token record, additive over utterances.

    Attributes:
        streams: per stream, its counts and coded size.
        duration_s: the encoded audio's duration.
        bits_per_token: what the codec sends per token (``ceil(log2 K)``).
        frame_rate_hz: token frames per second of the operating point.
    """

    streams: tuple[StreamTokens, ...]
    duration_s: float
    bits_per_token: int
    frame_rate_hz: float


def codes_checksum(codes: np.ndarray) -> int:
    """CRC-32 of codes ``[codebooks, frames]`` as little-endian int32, row by row."""
    return zlib.crc32(np.ascontiguousarray(codes, dtype="<i4").tobytes())


def code_streams(payload: TokenPayload) -> tuple[tuple[str, np.ndarray], ...]:
    """A payload's codes by stream: FACodec's attributes apart, every other codec's codebooks as one."""
    return payload.code_streams() or ((SINGLE_STREAM, payload.codes),)


def measure_tokens(encoded: EncodedAudio) -> UnitTokens:
    """Count an encoded utterance's tokens and entropy-code them (checked by decoding).

    Raises:
        NoTokensError: the payload holds no tokens (classical codecs, anchors).
        RuntimeError: the decoded codes differ from the coded ones (a defect of the coder).
    """
    payload, point = encoded.payload, encoded.operating_point
    if not isinstance(payload, TokenPayload) or point.codebook_size is None:
        kind = "anchor" if encoded.payload_bits is None else "codec"
        raise NoTokensError(f"{kind} at {point.label} sends no tokens: token statistics are for token (neural) codecs")
    streams = []
    for name, codes in code_streams(payload):
        coded = encode_codes(codes, point.codebook_size)
        decoded = decode_codes(coded.data, codes.shape[0], codes.shape[1], point.codebook_size)
        if not np.array_equal(decoded, codes):
            raise RuntimeError(f"the entropy coder did not give back stream {name!r}'s codes; please report this")
        streams.append(StreamTokens(StreamCounts.from_codes(name, codes, point.codebook_size),
                                    coded.data, coded.model_bits, codes_checksum(codes)))
    return UnitTokens(tuple(streams), encoded.duration_s, point.bits_per_token, float(point.frame_rate_hz))


# ------------------------------------------------------------------------------------ figures


@dataclass(frozen=True)
class CodebookFigures:
    """One codebook's figures (entropies in bits per token)."""

    index: int
    entries_used: int
    utilisation: float
    top_1pct_share: float | None
    entropy: EntropyEstimate | None
    entropy_given_prev_frame: EntropyEstimate | None
    entropy_given_prev_codebook: EntropyEstimate | None

    @property
    def perplexity(self) -> float | None:
        return None if self.entropy is None else 2.0**self.entropy.bits

    def to_dict(self) -> dict[str, Any]:
        def bits(estimate: EntropyEstimate | None) -> float | None:
            return None if estimate is None else round(estimate.bits, 4)

        def rests_on(estimate: EntropyEstimate | None) -> dict[str, Any] | None:
            if estimate is None:
                return None
            record = {"tokens": estimate.tokens, "cells": estimate.cells,
                      "plug_in_bits": round(estimate.plug_in_bits, 4)}
            if estimate.contexts is not None:
                record["contexts"] = estimate.contexts
            return record

        return {
            "codebook": self.index,
            "entries_used": self.entries_used,
            "utilisation": round(self.utilisation, 4),
            "top_1pct_share": None if self.top_1pct_share is None else round(self.top_1pct_share, 4),
            "entropy_bits": bits(self.entropy),
            "perplexity": None if self.perplexity is None else round(self.perplexity, 2),
            "entropy_given_prev_frame_bits": bits(self.entropy_given_prev_frame),
            "entropy_given_prev_codebook_bits": bits(self.entropy_given_prev_codebook),
            "estimates": {"entropy": rests_on(self.entropy),
                          "given_prev_frame": rests_on(self.entropy_given_prev_frame),
                          "given_prev_codebook": rests_on(self.entropy_given_prev_codebook)},
        }


@dataclass(frozen=True)
class StreamFigures:
    """One stream's figures over the utterances it was summed from."""

    name: str
    codebook_size: int
    frames: int
    tokens: int
    coded_bits: int
    model_bits: float
    codebooks: tuple[CodebookFigures, ...]

    @property
    def entropy_bits_per_frame(self) -> float:
        return sum(book.entropy.bits for book in self.codebooks if book.entropy is not None)

    @property
    def coded_bits_per_token(self) -> float | None:
        return self.coded_bits / self.tokens if self.tokens else None

    def to_dict(self, duration_s: float) -> dict[str, Any]:
        return {
            "stream": self.name,
            "codebooks": len(self.codebooks),
            "codebook_size": self.codebook_size,
            "frames": self.frames,
            "tokens": self.tokens,
            "entropy_coded_bits": self.coded_bits,
            "entropy_coded_kbps": round(self.coded_bits / duration_s / 1000, 4),
            "coded_bits_per_token": _rounded(self.coded_bits_per_token),
            "coder_overhead_bits": round(self.coded_bits - self.model_bits, 1),
            "entropy_kbps": round(self.entropy_bits_per_frame * self.frames / duration_s / 1000, 4),
            "mean_utilisation": _rounded(float(np.mean([b.utilisation for b in self.codebooks])) if self.codebooks else None),
            "per_codebook": [book.to_dict() for book in self.codebooks],
        }


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class TokenReport:
    """Token figures of one condition over one clip or a test set's utterances.

    Attributes:
        utterances: utterances the figures sum over.
        duration_s: their encoded duration.
        bits_per_token: what the codec sends per token.
        frame_rate_hz: token frames per second.
        streams: per stream, its figures.
        warnings: what the figures should be read with (too few tokens for the estimator).
    """

    utterances: int
    duration_s: float
    bits_per_token: int
    frame_rate_hz: float
    streams: tuple[StreamFigures, ...]
    warnings: tuple[str, ...]

    @property
    def tokens(self) -> int:
        return sum(stream.tokens for stream in self.streams)

    @property
    def measured_kbps(self) -> float:
        return self.tokens * self.bits_per_token / self.duration_s / 1000

    @property
    def entropy_coded_kbps(self) -> float:
        return sum(stream.coded_bits for stream in self.streams) / self.duration_s / 1000

    @property
    def entropy_kbps(self) -> float:
        return sum(s.entropy_bits_per_frame * s.frames for s in self.streams) / self.duration_s / 1000

    @property
    def mean_utilisation(self) -> float:
        books = [book.utilisation for stream in self.streams for book in stream.codebooks]
        return float(np.mean(books)) if books else float("nan")

    @property
    def mean_entropy_bits(self) -> float:
        """Mean entropy per token over the codebooks."""
        books = [book.entropy.bits for stream in self.streams for book in stream.codebooks if book.entropy]
        return float(np.mean(books)) if books else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "utterances": self.utterances,
            "duration_s": round(self.duration_s, 4),
            "tokens": self.tokens,
            "frame_rate_hz": self.frame_rate_hz,
            "bits_per_token": self.bits_per_token,
            "measured_kbps": round(self.measured_kbps, 4),
            "entropy_coded_kbps": round(self.entropy_coded_kbps, 4),
            "entropy_kbps": round(self.entropy_kbps, 4),
            "mean_utilisation": round(self.mean_utilisation, 4),
            "mean_entropy_bits": round(self.mean_entropy_bits, 4),
            "estimator": ESTIMATOR,
            "coder": CODER,
            "warnings": list(self.warnings),
            "streams": [stream.to_dict(self.duration_s) for stream in self.streams],
        }


def report_record(report: TokenReport) -> dict[str, Any]:
    """``report`` as plain JSON-able data, exactly (for storing; :func:`report_from_record` reads it)."""
    return asdict(report)


def report_from_record(record: dict[str, Any]) -> TokenReport:
    """The report :func:`report_record` wrote."""
    def estimate(value: dict | None) -> EntropyEstimate | None:
        return None if value is None else EntropyEstimate(**value)

    streams = tuple(
        StreamFigures(**{**stream, "codebooks": tuple(
            CodebookFigures(**{**book, "entropy": estimate(book["entropy"]),
                               "entropy_given_prev_frame": estimate(book["entropy_given_prev_frame"]),
                               "entropy_given_prev_codebook": estimate(book["entropy_given_prev_codebook"])})
            for book in stream["codebooks"])})
        for stream in record["streams"]
    )
    return TokenReport(**{**record, "streams": streams, "warnings": tuple(record["warnings"])})


def token_report(units: Iterable[UnitTokens]) -> TokenReport:
    """The figures of one condition over ``units`` (one clip's record, or a test set's).

    Raises:
        ValueError: no units, or units of different streams or operating points.
    """
    units = list(units)
    if not units:
        raise ValueError("there are no token records to report on")
    first = units[0]
    names = [stream.counts.name for stream in first.streams]
    for unit in units[1:]:
        if [s.counts.name for s in unit.streams] != names or unit.bits_per_token != first.bits_per_token:
            raise ValueError("token records of different codecs or operating points cannot be reported together")
    streams = tuple(
        _stream_figures([unit.streams[i] for unit in units]) for i in range(len(names))
    )
    return TokenReport(
        utterances=len(units),
        duration_s=sum(unit.duration_s for unit in units),
        bits_per_token=first.bits_per_token,
        frame_rate_hz=first.frame_rate_hz,
        streams=streams,
        warnings=tuple(_warnings(streams, first.frame_rate_hz)),
    )


def _stream_figures(parts: Sequence[StreamTokens]) -> StreamFigures:
    counts = sum_stream_counts(part.counts for part in parts)
    size = counts.codebook_size
    books = []
    for index, book in enumerate(counts.codebooks):
        used = int(book.unigram.keys.size)
        books.append(CodebookFigures(
            index=index,
            entries_used=used,
            utilisation=used / size,
            top_1pct_share=top_share(book.unigram, size),
            entropy=entropy(book.unigram),
            entropy_given_prev_frame=conditional_entropy(book.prev_frame, size),
            entropy_given_prev_codebook=conditional_entropy(book.prev_codebook, size) if index > 0 else None,
        ))
    return StreamFigures(
        name=counts.name,
        codebook_size=size,
        frames=counts.num_frames,
        tokens=sum(book.unigram.total for book in counts.codebooks),
        coded_bits=sum(part.coded_bits for part in parts),
        model_bits=sum(part.model_bits for part in parts),
        codebooks=tuple(books),
    )


def _warnings(streams: Sequence[StreamFigures], frame_rate_hz: float) -> Iterator[str]:
    for stream in streams:
        wanted = MIN_TOKENS_PER_ENTRY * stream.codebook_size
        if stream.frames < wanted:
            where = "" if stream.name == SINGLE_STREAM else f"stream {stream.name}: "
            yield (
                f"{where}only {stream.frames} tokens per codebook, fewer than its {stream.codebook_size} entries: "
                "entropies, perplexities and utilisation are biased low (the Miller-Madow correction covers only "
                "part of it) and the adaptive coder is still learning; read them over a test set, or a clip of "
                f"at least {wanted} frames ({math.ceil(wanted / frame_rate_hz)} s)"
            )
        conditionals = [estimate for book in stream.codebooks
                        for estimate in (book.entropy_given_prev_frame, book.entropy_given_prev_codebook)
                        if estimate is not None and estimate.contexts]
        sparsest = min(conditionals, key=lambda e: e.tokens / e.contexts, default=None)
        if sparsest is not None and sparsest.tokens < MIN_TOKENS_PER_CONTEXT * sparsest.contexts:
            where = "" if stream.name == SINGLE_STREAM else f"stream {stream.name}: "
            yield (
                f"{where}conditional entropies rest on as few as {sparsest.tokens / sparsest.contexts:.1f} tokens per "
                f"context ({sparsest.tokens} tokens, {sparsest.contexts} contexts), fewer than "
                f"{MIN_TOKENS_PER_CONTEXT}: they are far too low (each context's few tokens look predictable)"
            )
