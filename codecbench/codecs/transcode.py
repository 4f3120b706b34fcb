"""Run audio through a codec the way a comparison needs it.

The input is resampled to the codec's rate, encoded, decoded from the payload alone, freed of
the codec's known delay, resampled back, and cut to the input's length, so the output can be
played, plotted and scored sample-aligned against the input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from codecbench.audio import Audio, fit_length, resample
from codecbench.codecs.base import Codec, OperatingPoint


@dataclass(frozen=True)
class TranscodeResult:
    """A reconstruction and how it was made.

    Attributes:
        samples: float32 ``[num_samples]`` at ``sample_rate_hz``, aligned with the input and
            of the same length.
        sample_rate_hz: the input's rate.
        codec: registry name of the codec.
        operating_point: the setting used.
        measured_kbps: payload bits / input duration; ``None`` for anchors.
        side_info_bits: per-clip side information sent besides the payload's stream (not in
            ``measured_kbps``).
        codec_sample_rate_hz: the rate the codec ran at.
        delay_samples: codec delay removed from the output, in samples at the codec rate.
        processing_s: wall-clock time of resampling, encoding and decoding.
    """

    samples: np.ndarray
    sample_rate_hz: int
    codec: str
    operating_point: OperatingPoint
    measured_kbps: float | None
    side_info_bits: int
    codec_sample_rate_hz: int
    delay_samples: int
    processing_s: float

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.sample_rate_hz

    @property
    def realtime_factor(self) -> float:
        """Processing time divided by audio duration (below 1 is faster than real time)."""
        return self.processing_s / self.duration_s

    def summary(self) -> dict[str, Any]:
        """The stable JSON record that ``codecbench transcode`` prints."""
        return {
            "codec": self.codec,
            "operating_point": self.operating_point.label,
            "nominal_kbps": self.operating_point.nominal_kbps,
            "measured_kbps": None if self.measured_kbps is None else round(self.measured_kbps, 3),
            "side_info_bits": self.side_info_bits,
            "tokens_per_second": self.operating_point.tokens_per_second,
            "input_sample_rate": self.sample_rate_hz,
            "codec_sample_rate": self.codec_sample_rate_hz,
            "duration_s": round(self.duration_s, 4),
            "delay_samples": self.delay_samples,
            "realtime_factor": round(self.realtime_factor, 4),
            "processing_s": round(self.processing_s, 4),
        }


def transcode(codec: Codec, audio: Audio, operating_point: OperatingPoint) -> TranscodeResult:
    """Encode and decode ``audio`` with ``codec`` at ``operating_point``."""
    started = time.perf_counter()
    codec_rate = codec.codec_sample_rate_hz(audio.sample_rate_hz)
    at_codec_rate = resample(audio.samples, audio.sample_rate_hz, codec_rate)
    encoded = codec.encode(at_codec_rate, codec_rate, operating_point)
    decoded = codec.decode(encoded)
    delay = codec.delay_samples(operating_point)
    assert delay >= 0, f"{codec.spec.name} reports a negative delay"
    decoded = fit_length(decoded[delay:], at_codec_rate.shape[0])
    output = fit_length(resample(decoded, codec_rate, audio.sample_rate_hz), audio.num_samples)
    processing_s = time.perf_counter() - started
    return TranscodeResult(
        samples=output.astype(np.float32, copy=False),
        sample_rate_hz=audio.sample_rate_hz,
        codec=codec.spec.name,
        operating_point=operating_point,
        measured_kbps=encoded.measured_kbps,
        side_info_bits=encoded.side_info_bits,
        codec_sample_rate_hz=codec_rate,
        delay_samples=delay,
        processing_s=processing_s,
    )
