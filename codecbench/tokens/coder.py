"""An adaptive arithmetic coder for a token codec's codes: what a stream of codes costs once
entropy-coded, measured by coding it into bytes and decoding them back.

The model is adaptive: encoder and decoder start from the same empty counts and learn the
utterance's own statistics as they go, so a coded utterance needs nothing besides its bytes
(no table shipped, nothing learnt from other utterances). Codes are coded frame by frame, and
within a frame codebook by codebook. A code ``x`` of codebook ``q`` at frame ``t`` is predicted
in three levels, each a Witten-Bell estimate backed off to the level below (the mass it leaves
to the level below grows with the distinct codes it has seen):

- ``P0(x)``: codebook ``q``'s counts so far, backed off to uniform over its ``K`` entries;
- ``Pf(x)``: counts of what followed the previous frame's code ``codes[q, t-1]`` in codebook
  ``q``, backed off to ``P0``;
- ``Pc(x)``: counts of what codebook ``q`` held when the previous codebook of the same frame
  held ``codes[q-1, t]``, backed off to ``Pf``.

Each level is then mixed with the one below, ``w P_level + (1 - w) P_below``, with a weight per
codebook and level that becomes its Bayes posterior after every code: a context that does not
predict (random codes) costs a few bits per codebook and utterance over not using it (its weight
never falls below 1/1024, so the cost grows slowly with length: about 57 bits per codebook over
45,000 random codes), instead of the 50 % a sparse context would otherwise claim. The mixture ``P`` is turned into
integer frequencies (every entry at least 1, summing to at most 2^29 + K) and fed to a 32-bit
arithmetic coder (the integer coder of Witten, Neal and Cleary, 1987, with its carry-free
"pending bits" renormalisation). Frequency sums come from a Fenwick tree over the unigram counts
and from the two contexts' lists, so a code costs ``O(log K + L)`` to encode and
``O(log K (log K + L))`` to decode, ``L`` the distinct codes its contexts have seen: short
lists for utterances of seconds, where coding and decoding cost a few per cent of a neural
codec's own time at most (``benchmarks/token_stats.py``); for one stream of hours of near-random
codes ``L`` nears ``K`` and decoding slows to tens of microseconds per code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

#: Changes whenever coded bytes would decode differently (the model, its rounding, the coder):
#: stored bytes of another version are not read, their units are measured again.
CODER_VERSION = 1
CODE_BITS = 32
TOP = (1 << CODE_BITS) - 1
HALF = 1 << (CODE_BITS - 1)
QUARTER = 1 << (CODE_BITS - 2)
# The model's probabilities are scaled to integers summing to at most this plus the codebook size
# (every entry gets 1 more); the total must stay below QUARTER so that every entry keeps a non-empty
# interval after renormalisation, and range x total below 2^63.
FREQUENCY_TOTAL = 1 << 29
# Counts live in int32 arrays; a stream longer than this is split by the caller (never in practice:
# 2^31 tokens are 8 years of EnCodec 24 kHz at 24 kbps).
MAX_SYMBOLS = (1 << 31) - 1
# The model's state is dense in codebooks x entries (a few arrays of that size per stream).
MAX_CODEBOOK_SIZE = 1 << 16
# Mixing weights stay this far from 0 and 1.
WEIGHT_FLOOR = 1.0 / 1024


@dataclass(frozen=True)
class CodedStream:
    """A stream of codes once coded.

    Attributes:
        data: the coded bytes.
        num_bits: bits the coder emitted (the last byte is padded with zeros).
        model_bits: the model's ideal cost, ``-sum log2 P(x)`` with the integer frequencies
            coded; the coder's output exceeds it by at most a few bits per stream.
    """

    data: bytes
    num_bits: int
    model_bits: float

    @property
    def coded_bits(self) -> int:
        """The coded size in whole bytes, as bits: what storing or sending it costs."""
        return 8 * len(self.data)


def encode_codes(codes: np.ndarray, codebook_size: int) -> CodedStream:
    """Code ``codes`` ``[num_codebooks, num_frames]`` (integers in ``0..codebook_size-1``).

    Raises:
        ValueError: the codes are not a 2-D integer array within the codebook.
    """
    codes = _checked(codes, codebook_size)
    num_codebooks, num_frames = codes.shape
    capacity = 16 + (codes.size * (math.ceil(math.log2(FREQUENCY_TOTAL + codebook_size)) + 2)) // 8
    out = np.zeros(capacity, dtype=np.uint8)
    num_bits, model_bits = _encode(codes, codebook_size, out)
    return CodedStream(out[: (num_bits + 7) // 8].tobytes(), int(num_bits), float(model_bits))


def decode_codes(data: bytes, num_codebooks: int, num_frames: int, codebook_size: int) -> np.ndarray:
    """The codes ``[num_codebooks, num_frames]`` (int32) that :func:`encode_codes` coded into ``data``."""
    if num_codebooks < 0 or num_frames < 0 or codebook_size < 1:
        raise ValueError(f"cannot decode {num_codebooks} codebooks x {num_frames} frames of {codebook_size} entries")
    codes = np.zeros((num_codebooks, num_frames), dtype=np.int32)
    _decode(np.frombuffer(data, dtype=np.uint8), codebook_size, codes)
    return codes


def _checked(codes: np.ndarray, codebook_size: int) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be an integer array [num_codebooks, num_frames], got {codes.dtype} {codes.shape}")
    if not 1 <= codebook_size <= MAX_CODEBOOK_SIZE:
        raise ValueError(f"codebook size {codebook_size} is outside 1..{MAX_CODEBOOK_SIZE}")
    if codes.size > MAX_SYMBOLS:
        raise ValueError(f"{codes.size} codes are more than one stream can count; split the stream")
    if codes.size and (codes.min() < 0 or codes.max() >= codebook_size):
        raise ValueError(f"codes fall outside 0..{codebook_size - 1}")
    return np.ascontiguousarray(codes, dtype=np.int32)


# ---------------------------------------------------------------------------------- the model


@numba.njit(cache=True, nogil=True)
def _new_state(num_codebooks, codebook_size, num_symbols):
    """The model's counts, all empty: ``unigram[q, x]`` with its ``unigram_total[q]`` and
    ``unigram_distinct[q]``, and ``tree[q]``, a Fenwick tree over ``unigram[q]`` for its prefix
    sums; for context kind ``c`` (0: previous frame, 1: previous codebook) and context
    ``q*K + a``, ``head[c, ctx]`` (its list's first entry, -1: none), ``total[c, ctx]`` and
    ``distinct[c, ctx]``; list entries ``symbol[c, i]``, ``count[c, i]``, ``next_entry[c, i]``."""
    contexts = num_codebooks * codebook_size
    unigram = np.zeros((num_codebooks, codebook_size), dtype=np.int32)
    unigram_total = np.zeros(num_codebooks, dtype=np.int32)
    unigram_distinct = np.zeros(num_codebooks, dtype=np.int32)
    head = np.full((2, contexts), -1, dtype=np.int32)
    total = np.zeros((2, contexts), dtype=np.int32)
    distinct = np.zeros((2, contexts), dtype=np.int32)
    capacity = max(num_symbols, 1)
    symbol = np.zeros((2, capacity), dtype=np.int32)
    count = np.zeros((2, capacity), dtype=np.int32)
    next_entry = np.full((2, capacity), -1, dtype=np.int32)
    used = np.zeros(2, dtype=np.int64)
    tree = np.zeros((num_codebooks, codebook_size + 1), dtype=np.int64)
    return unigram, unigram_total, unigram_distinct, head, total, distinct, symbol, count, next_entry, used, tree


@numba.njit(cache=True, nogil=True)
def _counts_below(tree, q, x):
    """``sum(unigram[q, :x])`` from the Fenwick tree."""
    result = np.int64(0)
    i = x
    while i > 0:
        result += tree[q, i]
        i -= i & -i
    return result


@numba.njit(cache=True, nogil=True)
def _count_one(tree, q, x, codebook_size):
    i = x + 1
    while i <= codebook_size:
        tree[q, i] += 1
        i += i & -i


@numba.njit(cache=True, nogil=True)
def _level(kind, q, context, codebook_size, state):
    """A context level's list and Witten-Bell weights: ``(ctx, scale, add)`` with
    ``P(x) = scale * P_below(x) + add * count(x)``; ``ctx = -1`` when the context is absent or unseen."""
    total, distinct = state[4], state[5]
    if context < 0:
        return -1, 1.0, 0.0
    ctx = q * codebook_size + context
    n = total[kind, ctx]
    if n == 0:
        return -1, 1.0, 0.0
    d = distinct[kind, ctx]
    return ctx, d / (n + d), 1.0 / (n + d)


@numba.njit(cache=True, nogil=True)
def _prepare(q, context_f, context_c, codebook_size, state, weights):
    """The model's integer frequencies for codebook ``q`` given the previous frame's code (``-1``:
    none) and the previous codebook's (``-1``: none).

    Each level mixes its Witten-Bell estimate with the level below, ``w P_level + (1 - w) P_below``
    (``w = weights[q, level]``, see :func:`_update`), so that the model is
    ``P(x) = a * unigram[q, x] + b + (weight_f * count_f(x) + weight_c * count_c(x))`` with the two
    contexts' counts non-zero for the few codes they have seen. Scaled by ``FREQUENCY_TOTAL`` and
    rounded down term by term, it gives the frequencies
    ``f(x) = 1 + beta + alpha * unigram[q, x] + e_f(x) + e_c(x)``, whose sums below any ``x``
    take the Fenwick tree and a walk through the two short lists (:func:`_below`), not all ``K``
    entries. Returns ``(alpha, beta, ctx_f, scale_f, ctx_c, scale_c)``, ``scale_*`` turning a
    context entry's count into its ``e``."""
    unigram_total, unigram_distinct = state[1], state[2]
    ctx_f, keep_level_f, add_f = _level(0, q, context_f, codebook_size, state)
    ctx_c, keep_level_c, add_c = _level(1, q, context_c, codebook_size, state)
    w_0 = weights[q, 0]
    w_f = weights[q, 1] if ctx_f >= 0 else 0.0
    w_c = weights[q, 2] if ctx_c >= 0 else 0.0
    keep_c = w_c * keep_level_c + 1.0 - w_c  # what the prev-codebook level passes on of the level below
    keep_f = w_f * keep_level_f + 1.0 - w_f
    d0 = max(unigram_distinct[q], 1)
    a = keep_c * keep_f * w_0 / (unigram_total[q] + d0)
    b = a * d0 / codebook_size + keep_c * keep_f * (1.0 - w_0) / codebook_size
    alpha = np.int64(a * FREQUENCY_TOTAL)
    beta = np.int64(b * FREQUENCY_TOTAL)
    return alpha, beta, ctx_f, keep_c * w_f * add_f * FREQUENCY_TOTAL, ctx_c, w_c * add_c * FREQUENCY_TOTAL


@numba.njit(cache=True, nogil=True)
def _below(x, ctx_f, scale_f, ctx_c, scale_c, state):
    """The contexts' frequencies ``e_f + e_c``: summed over the entries below ``x``, at ``x``, and
    over all entries."""
    head, symbol, count, next_entry = state[3], state[6], state[7], state[8]
    below = np.int64(0)
    at = np.int64(0)
    every = np.int64(0)
    for kind, ctx, scale in ((0, ctx_f, scale_f), (1, ctx_c, scale_c)):
        if ctx < 0:
            continue
        entry = head[kind, ctx]
        while entry >= 0:
            value = np.int64(scale * count[kind, entry])
            if symbol[kind, entry] < x:
                below += value
            elif symbol[kind, entry] == x:
                at += value
            every += value
            entry = next_entry[kind, entry]
    return below, at, every


@numba.njit(cache=True, nogil=True)
def _mix(weights, q, level, p_level, p_below):
    """The mixture's probability of the coded code, ``w p_level + (1 - w) p_below``, and the
    level's weight updated to its posterior."""
    w = weights[q, level]
    mixed = w * p_level + (1.0 - w) * p_below
    weights[q, level] = min(max(w * p_level / mixed, WEIGHT_FLOOR), 1.0 - WEIGHT_FLOOR)
    return mixed


@numba.njit(cache=True, nogil=True)
def _entry(kind, ctx, x, state):
    """The list entry of ``x`` in context ``ctx`` of ``kind``, or -1."""
    head, symbol, next_entry = state[3], state[6], state[8]
    entry = head[kind, ctx]
    while entry >= 0 and symbol[kind, entry] != x:
        entry = next_entry[kind, entry]
    return entry


@numba.njit(cache=True, nogil=True)
def _update(q, x, context_f, context_c, codebook_size, state, weights):
    """Learn from ``x``: each level's mixing weight becomes its posterior (Bayes' rule on how
    well the level and the level below predicted ``x``, kept within [1/1024, 1 - 1/1024] so a
    level can come back), then every count takes ``x``."""
    unigram, unigram_total, unigram_distinct, head, total, distinct, symbol, count, next_entry, used, tree = state
    d0 = max(unigram_distinct[q], 1)
    uniform = 1.0 / codebook_size
    below = _mix(weights, q, 0, (unigram[q, x] + d0 * uniform) / (unigram_total[q] + d0), uniform)
    for kind in range(2):
        context = context_f if kind == 0 else context_c
        ctx, scale, add = _level(kind, q, context, codebook_size, state)
        if ctx < 0:
            continue
        entry = _entry(kind, ctx, x, state)
        below = _mix(weights, q, kind + 1, scale * below + (add * count[kind, entry] if entry >= 0 else 0.0), below)
    if unigram[q, x] == 0:
        unigram_distinct[q] += 1
    unigram[q, x] += 1
    unigram_total[q] += 1
    _count_one(state[10], q, x, codebook_size)
    for kind in range(2):
        context = context_f if kind == 0 else context_c
        if context < 0:
            continue
        ctx = q * codebook_size + context
        entry = _entry(kind, ctx, x, state)
        if entry < 0:
            entry = used[kind]
            used[kind] += 1
            symbol[kind, entry] = x
            count[kind, entry] = 0
            next_entry[kind, entry] = head[kind, ctx]
            head[kind, ctx] = entry
            distinct[kind, ctx] += 1
        count[kind, entry] += 1
        total[kind, ctx] += 1


@numba.njit(cache=True, nogil=True)
def _contexts(codes, q, t):
    context_f = codes[q, t - 1] if t > 0 else -1
    context_c = codes[q - 1, t] if q > 0 else -1
    return context_f, context_c


# ---------------------------------------------------------------------------------- the coder


@numba.njit(cache=True, nogil=True)
def _put_bit(out, position, bit):
    if bit:
        out[position >> 3] |= np.uint8(128 >> (position & 7))
    return position + 1


@numba.njit(cache=True, nogil=True)
def _encode(codes, codebook_size, out):
    num_codebooks, num_frames = codes.shape
    state = _new_state(num_codebooks, codebook_size, num_codebooks * num_frames)
    weights = np.full((num_codebooks, 3), 0.5)
    unigram, unigram_total, tree = state[0], state[1], state[10]
    low = np.int64(0)
    high = np.int64(TOP)
    pending = 0
    position = 0
    model_bits = 0.0
    for t in range(num_frames):
        for q in range(num_codebooks):
            x = codes[q, t]
            context_f, context_c = _contexts(codes, q, t)
            alpha, beta, ctx_f, scale_f, ctx_c, scale_c = _prepare(q, context_f, context_c, codebook_size, state, weights)
            extra_below, extra_at, extra_total = _below(x, ctx_f, scale_f, ctx_c, scale_c, state)
            below = x * (1 + beta) + alpha * _counts_below(tree, q, x) + extra_below
            width = 1 + beta + alpha * unigram[q, x] + extra_at
            cumulative = codebook_size * (1 + beta) + alpha * unigram_total[q] + extra_total
            model_bits -= math.log2(width / cumulative)
            span = high - low + 1
            high = low + (span * (below + width)) // cumulative - 1
            low = low + (span * below) // cumulative
            while True:
                if high < HALF:
                    position = _put_bit(out, position, 0)
                    for _ in range(pending):
                        position = _put_bit(out, position, 1)
                    pending = 0
                elif low >= HALF:
                    position = _put_bit(out, position, 1)
                    for _ in range(pending):
                        position = _put_bit(out, position, 0)
                    pending = 0
                    low -= HALF
                    high -= HALF
                elif low >= QUARTER and high < 3 * QUARTER:
                    pending += 1
                    low -= QUARTER
                    high -= QUARTER
                else:
                    break
                low = 2 * low
                high = 2 * high + 1
            _update(q, x, context_f, context_c, codebook_size, state, weights)
    # Two more bits (and the pending ones) pin a value inside [low, high] whatever follows.
    pending += 1
    bit = 0 if low < QUARTER else 1
    position = _put_bit(out, position, bit)
    for _ in range(pending):
        position = _put_bit(out, position, 1 - bit)
    return position, model_bits


@numba.njit(cache=True, nogil=True)
def _get_bit(data, position):
    if (position >> 3) >= data.shape[0]:
        return 0
    return (data[position >> 3] >> (7 - (position & 7))) & 1


@numba.njit(cache=True, nogil=True)
def _decode(data, codebook_size, codes):
    num_codebooks, num_frames = codes.shape
    state = _new_state(num_codebooks, codebook_size, num_codebooks * num_frames)
    weights = np.full((num_codebooks, 3), 0.5)
    unigram, unigram_total, tree = state[0], state[1], state[10]
    low = np.int64(0)
    high = np.int64(TOP)
    value = np.int64(0)
    position = 0
    for _ in range(CODE_BITS):
        value = 2 * value + _get_bit(data, position)
        position += 1
    for t in range(num_frames):
        for q in range(num_codebooks):
            context_f, context_c = _contexts(codes, q, t)
            alpha, beta, ctx_f, scale_f, ctx_c, scale_c = _prepare(q, context_f, context_c, codebook_size, state, weights)
            cumulative = (codebook_size * (1 + beta) + alpha * unigram_total[q]
                          + _below(codebook_size, ctx_f, scale_f, ctx_c, scale_c, state)[2])
            span = high - low + 1
            target = ((value - low + 1) * cumulative - 1) // span
            # The largest x whose frequencies below it do not pass the target.
            lowest, highest = 0, codebook_size - 1
            while lowest < highest:
                middle = (lowest + highest + 1) // 2
                extra_below = _below(middle, ctx_f, scale_f, ctx_c, scale_c, state)[0]
                if middle * (1 + beta) + alpha * _counts_below(tree, q, middle) + extra_below <= target:
                    lowest = middle
                else:
                    highest = middle - 1
            x = lowest
            extra_below, extra_at, _ = _below(x, ctx_f, scale_f, ctx_c, scale_c, state)
            below = x * (1 + beta) + alpha * _counts_below(tree, q, x) + extra_below
            width = 1 + beta + alpha * unigram[q, x] + extra_at
            high = low + (span * (below + width)) // cumulative - 1
            low = low + (span * below) // cumulative
            while True:
                if high < HALF:
                    pass
                elif low >= HALF:
                    value -= HALF
                    low -= HALF
                    high -= HALF
                elif low >= QUARTER and high < 3 * QUARTER:
                    value -= QUARTER
                    low -= QUARTER
                    high -= QUARTER
                else:
                    break
                low = 2 * low
                high = 2 * high + 1
                value = 2 * value + _get_bit(data, position)
                position += 1
            codes[q, t] = x
            _update(q, x, context_f, context_c, codebook_size, state, weights)
