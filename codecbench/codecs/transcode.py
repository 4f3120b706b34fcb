"""Run audio through a codec the way a comparison needs it.

The input is resampled to the codec's rate, encoded, decoded from the payload alone, freed of
the codec's known delay, resampled back, and cut to the input's length, so the output can be
played, plotted and scored sample-aligned against the input. Where the codec's output stops
short of the input's end, it is padded with zeros to the input's length, and the result says
how many samples that took (``padded_samples``): they are not the codec's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from codecbench.audio import Audio, fit_length, resample
from codecbench.codecs.base import Codec, EncodedAudio, OperatingPoint


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
        padded_samples: zeros added at the end, at the codec rate, where the codec's output
            (after removing the delay) was shorter than the input; 0 for most codecs.
        processing_s: wall-clock time of resampling, encoding and decoding.
        encoded: what the encoder emitted (its payload: a token codec's codes, for instance).
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
    encoded: EncodedAudio
    padded_samples: int = 0

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
            "padded_samples": self.padded_samples,
            "realtime_factor": round(self.realtime_factor, 4),
            "processing_s": round(self.processing_s, 4),
        }


def transcode(codec: Codec, audio: Audio, operating_point: OperatingPoint) -> TranscodeResult:
    """Encode and decode ``audio`` with ``codec`` at ``operating_point``."""
    return transcode_batch(codec, [audio], operating_point)[0]


def transcode_batch(codec: Codec, clips: Sequence[Audio], operating_point: OperatingPoint) -> list[TranscodeResult]:
    """:func:`transcode` for several clips, through the codec's batch API (neural codecs run the
    clips through the model together); each result equals what :func:`transcode` gives alone.

    Clips at different rates go in one batch per codec rate. ``processing_s`` is the batch's
    time shared equally among its clips. If the codec fails, the whole call raises.
    """
    started = time.perf_counter()
    groups: dict[int, list[int]] = {}
    for index, audio in enumerate(clips):
        groups.setdefault(codec.codec_sample_rate_hz(audio.sample_rate_hz), []).append(index)
    delay = codec.delay_samples(operating_point)
    assert delay >= 0, f"{codec.spec.name} reports a negative delay"
    outputs: dict[int, tuple[np.ndarray, EncodedAudio, int, int]] = {}
    for codec_rate, indices in groups.items():
        inputs = [resample(clips[i].samples, clips[i].sample_rate_hz, codec_rate) for i in indices]
        encoded = codec.encode_batch(inputs, codec_rate, operating_point)
        decoded = codec.decode_batch(encoded)
        for index, at_codec_rate, payload, reconstruction in zip(indices, inputs, encoded, decoded):
            aligned = reconstruction[delay:]
            padded = max(0, at_codec_rate.shape[0] - aligned.shape[0])
            reconstruction = fit_length(aligned, at_codec_rate.shape[0])
            audio = clips[index]
            output = fit_length(resample(reconstruction, codec_rate, audio.sample_rate_hz), audio.num_samples)
            outputs[index] = (output, payload, codec_rate, padded)
    processing_s = (time.perf_counter() - started) / max(len(clips), 1)
    results = []
    for index, audio in enumerate(clips):
        output, payload, codec_rate, padded = outputs[index]
        results.append(TranscodeResult(
            samples=output.astype(np.float32, copy=False),
            sample_rate_hz=audio.sample_rate_hz,
            codec=codec.spec.name,
            operating_point=operating_point,
            measured_kbps=payload.measured_kbps,
            side_info_bits=payload.side_info_bits,
            codec_sample_rate_hz=codec_rate,
            delay_samples=delay,
            processing_s=processing_s,
            encoded=payload,
            padded_samples=padded,
        ))
    return results
