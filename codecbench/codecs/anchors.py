"""MUSHRA anchors of ITU-R BS.1534-3: the reference low-passed at 3.5 kHz and at 7 kHz.

Each anchor is a linear-phase (Kaiser-window) FIR applied centred, so it is zero-phase: the
anchor stays sample-aligned with the reference. The filter is designed at the input's own rate
to meet the standard's mask with margin: passband flat within +-0.1 dB up to the cut-off, at
least 25 dB down at 8/7 of it and 50 dB down at 9/7 of it (4 and 4.5 kHz for the 3.5 kHz anchor,
8 and 9 kHz for the 7 kHz anchor).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal

from codecbench.codecs.base import Codec, CodecSpec, EncodedAudio, OperatingPoint

# The design puts the whole transition band below 8/7 x cut-off with 60 dB of stop-band
# attenuation, so both mask points (25 dB at 8/7 and 50 dB at 9/7) hold with margin, and the
# Kaiser ripple (60 dB -> 0.009 dB) stays far inside the +-0.1 dB passband tolerance.
STOPBAND_ATTENUATION_DB = 60.0
TRANSITION_END_RATIO = 1 + 0.8 / 7  # 3.5 kHz -> 3.9 kHz, 7 kHz -> 7.8 kHz


@dataclass(frozen=True)
class AnchorMask:
    """The BS.1534-3 mask an anchor filter must meet."""

    passband_edge_hz: float
    passband_tolerance_db: float = 0.1

    @property
    def stopband_points_db(self) -> tuple[tuple[float, float], ...]:
        """(frequency, minimum attenuation) pairs: 25 dB at 8/7 and 50 dB at 9/7 of the cut-off."""
        return ((self.passband_edge_hz * 8 / 7, 25.0), (self.passband_edge_hz * 9 / 7, 50.0))


@lru_cache(maxsize=32)
def lowpass_taps(cutoff_hz: float, sample_rate_hz: int) -> np.ndarray | None:
    """FIR taps (odd length) for the anchor; ``None`` when nothing lies above the cut-off."""
    nyquist = sample_rate_hz / 2
    if cutoff_hz >= nyquist:
        return None
    stop_hz = min(cutoff_hz * TRANSITION_END_RATIO, nyquist)
    num_taps, beta = scipy.signal.kaiserord(STOPBAND_ATTENUATION_DB, (stop_hz - cutoff_hz) / nyquist)
    num_taps |= 1  # odd length: a whole-sample centre, hence exactly zero-phase when centred
    return scipy.signal.firwin(
        num_taps, (cutoff_hz + stop_hz) / 2, window=("kaiser", beta), fs=sample_rate_hz
    ).astype(np.float64)


def lowpass(samples: np.ndarray, sample_rate_hz: int, cutoff_hz: float) -> np.ndarray:
    """Zero-phase low-pass of mono audio, same length as the input."""
    taps = lowpass_taps(float(cutoff_hz), int(sample_rate_hz))
    if taps is None:
        return np.asarray(samples, dtype=np.float32).copy()
    filtered = scipy.signal.oaconvolve(np.asarray(samples, np.float64), taps, mode="same")
    return filtered.astype(np.float32)


class LowpassAnchor(Codec):
    """A BS.1534-3 anchor. It has no bitstream: ``encode`` filters, ``decode`` returns that."""

    def __init__(self, spec: CodecSpec, cutoff_hz: float) -> None:
        self.spec = spec
        self.cutoff_hz = cutoff_hz
        self.mask = AnchorMask(passband_edge_hz=cutoff_hz)

    def encode(
        self, samples: np.ndarray, sample_rate_hz: int, operating_point: OperatingPoint
    ) -> EncodedAudio:
        return EncodedAudio(
            payload=lowpass(samples, sample_rate_hz, self.cutoff_hz),
            payload_bits=None,
            num_samples=samples.shape[0],
            sample_rate_hz=sample_rate_hz,
            operating_point=operating_point,
        )

    def decode(self, encoded: EncodedAudio) -> np.ndarray:
        return np.asarray(encoded.payload, dtype=np.float32)


def anchor_spec(cutoff_hz: int) -> CodecSpec:
    return CodecSpec(
        name=f"lowpass_{cutoff_hz}",
        family="anchor",
        description=f"MUSHRA anchor: zero-phase {cutoff_hz / 1000:g} kHz low-pass (ITU-R BS.1534-3)",
        sample_rate_hz=None,
        operating_points=(OperatingPoint(label=f"{cutoff_hz / 1000:g} kHz", nominal_kbps=None),),
    )


LOWPASS_3500_SPEC = anchor_spec(3500)
LOWPASS_7000_SPEC = anchor_spec(7000)
