"""Codec 2 (David Rowe's low-bitrate speech vocoder) through pycodec2.

Codec 2 works on 8 kHz 16-bit audio. pycodec2's ``encode`` takes exactly one frame per call
(more samples are silently zeroed past the first frame), so frames are encoded one by one.
Each frame's bits are packed back to back into one bitstream, so the payload is exactly what a
link would carry (a 52-bit 1300 mode frame costs 52 bits, not 7 bytes).
"""

from __future__ import annotations

import numpy as np

from codecbench.codecs.base import Codec, CodecSpec, EncodedAudio, OperatingPoint, Readiness

SAMPLE_RATE_HZ = 8_000

# pycodec2 mode key for each operating point label.
_MODE_BY_LABEL = {
    "700C": 700,
    "1200": 1200,
    "1300": 1300,
    "1400": 1400,
    "1600": 1600,
    "2400": 2400,
    "3200": 3200,
}

# Decoder output lags the input by this many 8 kHz samples. Codec 2 analyses each 10 ms
# subframe with a window centred half its 320-sample pitch buffer (160 samples) behind the
# newest input, and its overlap-add synthesis ends each output block on that model's centre,
# so the modes built on one parameter set per 10 ms lag by 160 samples; 700C's rate-K
# interpolation adds one 10 ms subframe. Codec 2 synthesises its own phase, so waveform
# cross-correlation cannot check this; the spectral-envelope estimate
# (`python benchmarks/codec2_delay.py`) finds 149-153 (700C: 234) on 24 real speech clips and
# 157-160 (700C: 238) on synthetic speech, i.e. within about 1.5 ms of these values.
DELAY_SAMPLES_8KHZ = {
    "700C": 240,
    "1200": 160,
    "1300": 160,
    "1400": 160,
    "1600": 160,
    "2400": 160,
    "3200": 160,
}

CODEC2_SPEC = CodecSpec(
    name="codec2",
    family="classical",
    description="Codec 2 vocoder (pycodec2), 8 kHz",
    sample_rate_hz=SAMPLE_RATE_HZ,
    operating_points=tuple(
        OperatingPoint(label=label, nominal_kbps=mode / 1000) for label, mode in _MODE_BY_LABEL.items()
    ),
    waveform_coherent=False,  # a vocoder: it synthesises its own phase
)


class Codec2Codec(Codec):
    spec = CODEC2_SPEC

    def encode(
        self, samples: np.ndarray, sample_rate_hz: int, operating_point: OperatingPoint
    ) -> EncodedAudio:
        import pycodec2

        if sample_rate_hz != SAMPLE_RATE_HZ:
            raise ValueError(f"Codec 2 encodes 8000 Hz audio, not {sample_rate_hz} Hz")
        codec = pycodec2.Codec2(_MODE_BY_LABEL[operating_point.label])
        frame_length = codec.samples_per_frame()
        bits_per_frame = codec.bits_per_frame()
        # Encode enough trailing frames for the decoder's delay to flush the last input sample.
        needed = samples.shape[0] + self.delay_samples(operating_point)
        num_frames = -(-needed // frame_length)
        pcm = np.zeros(num_frames * frame_length, dtype=np.int16)
        pcm[: samples.shape[0]] = np.clip(np.round(samples * 32768.0), -32768, 32767).astype(np.int16)

        frame_bits = [
            np.unpackbits(np.frombuffer(codec.encode(pcm[i : i + frame_length]), dtype=np.uint8))[:bits_per_frame]
            for i in range(0, pcm.shape[0], frame_length)
        ]
        bitstream = np.concatenate(frame_bits)
        return EncodedAudio(
            payload=np.packbits(bitstream).tobytes(),
            payload_bits=int(bitstream.size),
            num_samples=samples.shape[0],
            sample_rate_hz=sample_rate_hz,
            operating_point=operating_point,
        )

    def decode(self, encoded: EncodedAudio) -> np.ndarray:
        import pycodec2

        codec = pycodec2.Codec2(_MODE_BY_LABEL[encoded.operating_point.label])
        bits_per_frame = codec.bits_per_frame()
        bitstream = np.unpackbits(np.frombuffer(encoded.payload, dtype=np.uint8))[: encoded.payload_bits]
        frames = [
            codec.decode(np.packbits(bitstream[i : i + bits_per_frame]).tobytes())
            for i in range(0, bitstream.size, bits_per_frame)
        ]
        return np.concatenate(frames).astype(np.float32) / 32768.0

    def delay_samples(self, operating_point: OperatingPoint) -> int:
        return DELAY_SAMPLES_8KHZ[operating_point.label]


def codec2_readiness() -> Readiness:
    try:
        import pycodec2  # noqa: F401
    except ImportError as error:
        return Readiness(False, f"pycodec2 is not installed ({error}).", "Run `pip install pycodec2`.")
    return Readiness.ok()
