"""Each served stimulus carries its own inaudible dither, so that equal audio is not equal bytes.

The hidden reference is the open reference's audio. Sent as the same bytes, a script that
downloads both would know which version is the hidden one without listening. So every
stimulus is sent with triangular (TPDF) dither of one least significant bit of its 16-bit
WAV, drawn from a generator seeded by the stimulus's own per-participant token and a value
that never leaves the server (so the dither cannot be regenerated and removed): no two sent
stimuli are equal bytes, the same token always gets the same bytes (a reload, a cache), and
file sizes stay equal.

One LSB TPDF (values -1, 0, +1 with probabilities 1/4, 1/2, 1/4) has an RMS of 0.71 LSB,
-93.3 dBFS: at the loudness codecbench brings stimuli to (-23 LUFS by default) it lies about
70 dB below the speech, under the threshold of hearing at any comfortable listening level,
and about as loud as the rounding to 16 bits the stimulus already went through.
``benchmarks/mushra_dither.py`` measures its level and what it changes in scores.

This stops byte comparison, not signal analysis: a client that decodes the versions can
still find the one nearest the reference (the README's threat model says what follows).
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import soundfile

#: Peak of the dither in 16-bit steps.
DITHER_LSB = 1


def tpdf_dither(num_samples: int, num_channels: int, seed_text: str) -> np.ndarray:
    """Integer TPDF dither ``[num_samples, num_channels]`` in {-1, 0, +1}, fixed by ``seed_text``."""
    seed = int.from_bytes(hashlib.sha256(seed_text.encode("utf-8")).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    shape = (num_samples, num_channels)
    return (rng.integers(0, DITHER_LSB + 1, shape, dtype=np.int32)
            - rng.integers(0, DITHER_LSB + 1, shape, dtype=np.int32))


def dithered_wav(wav: bytes, seed_text: str) -> bytes:
    """The 16-bit WAV ``wav`` with its own dither (same format, same size)."""
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="int16", always_2d=True)
    noisy = samples.astype(np.int32) + tpdf_dither(samples.shape[0], samples.shape[1], seed_text)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(noisy, -32768, 32767).astype(np.int16), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
