"""Opus (RFC 6716) through PyAV's bundled FFmpeg and libopus.

Encoded as a real Ogg/Opus stream in memory with the VoIP application and 20 ms frames, in
libopus's default (unconstrained) VBR mode, as codec papers use it. The bitrate reported is
measured from the Opus packets alone, without Ogg framing.
"""

from __future__ import annotations

import io

import numpy as np

from codecbench.audio import resample
from codecbench.codecs.base import Codec, CodecSpec, EncodedAudio, OperatingPoint, Readiness

# Rates libopus accepts at its input; it always decodes at 48 kHz in an Ogg stream.
OPUS_INPUT_RATES_HZ = (8_000, 12_000, 16_000, 24_000, 48_000)
OPUS_DECODE_RATE_HZ = 48_000
FRAME_DURATION_MS = 20

OPUS_SPEC = CodecSpec(
    name="opus",
    family="classical",
    description="Opus (libopus via PyAV), VoIP mode, 20 ms frames, VBR",
    sample_rate_hz=None,
    operating_points=tuple(
        OperatingPoint(label=f"{kbps:g} kbps", nominal_kbps=float(kbps)) for kbps in (6, 8, 12, 16, 24)
    ),
    bitrate_range_kbps=(6.0, 510.0),
)


class OpusCodec(Codec):
    spec = OPUS_SPEC

    def codec_sample_rate_hz(self, input_sample_rate_hz: int) -> int:
        """The lowest Opus input rate that keeps the input's bandwidth (48 kHz at most)."""
        for rate in OPUS_INPUT_RATES_HZ:
            if rate >= input_sample_rate_hz:
                return rate
        return OPUS_DECODE_RATE_HZ

    def encode(
        self, samples: np.ndarray, sample_rate_hz: int, operating_point: OperatingPoint
    ) -> EncodedAudio:
        import av

        if sample_rate_hz not in OPUS_INPUT_RATES_HZ:
            raise ValueError(
                f"Opus encodes at {', '.join(map(str, OPUS_INPUT_RATES_HZ))} Hz, not {sample_rate_hz} Hz"
            )
        buffer = io.BytesIO()
        payload_bytes = 0
        with av.open(buffer, mode="w", format="ogg") as container:
            stream = container.add_stream(
                "libopus",
                rate=sample_rate_hz,
                options={"application": "voip", "frame_duration": str(FRAME_DURATION_MS)},
            )
            stream.bit_rate = int(round(operating_point.nominal_kbps * 1000))
            stream.layout = "mono"
            stream.format = "flt"
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
            )
            frame.sample_rate = sample_rate_hz
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                payload_bytes += packet.size
                container.mux(packet)
        return EncodedAudio(
            payload=buffer.getvalue(),
            payload_bits=8 * payload_bytes,
            num_samples=samples.shape[0],
            sample_rate_hz=sample_rate_hz,
            operating_point=operating_point,
        )

    def decode(self, encoded: EncodedAudio) -> np.ndarray:
        import av

        # The Ogg demuxer applies the stream's pre-skip and end trimming, so the decoded
        # signal is aligned with the input and as long as it.
        with av.open(io.BytesIO(encoded.payload), mode="r", format="ogg") as container:
            chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
            decoded_rate = container.streams.audio[0].codec_context.sample_rate or OPUS_DECODE_RATE_HZ
        decoded = np.concatenate(chunks).astype(np.float32)
        return resample(decoded, decoded_rate, encoded.sample_rate_hz)


def opus_readiness() -> Readiness:
    try:
        import av
    except ImportError as error:
        return Readiness(False, f"PyAV is not installed ({error}).", "Run `pip install av`.")
    try:
        av.codec.Codec("libopus", "w")
    except Exception:  # PyAV raises UnknownCodecError or ValueError depending on version
        return Readiness(
            False,
            "this PyAV build has no libopus encoder.",
            "Install the PyPI wheel of av (`pip install --force-reinstall av`), which bundles libopus.",
        )
    return Readiness.ok()
