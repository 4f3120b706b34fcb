"""FACodec as a codecbench :class:`Codec`: operating points, payload, side information.

Operating points add codebooks in FACodec's own order: prosody and content first (2.4 kbps for
the published model: 3 codebooks x 80 frames/s x 10 bits), then the acoustic-residual
codebooks one at a time (3.2, 4.0, 4.8 kbps). The timbre vector is continuous and sent once
per utterance at every operating point; it is side information, counted in
``side_info_bits`` (float32 values) and not in the token bitrate.

The input is zero-padded to a whole number of frames, so the codes cover all of it (upstream's
inference drops an incomplete last frame); the decoder output is trimmed to the input length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codecbench.audio import Audio, fit_length, resample
from codecbench.codecs.base import Codec, CodecSpec, EncodedAudio, OperatingPoint
from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.config import FACodecConfig
from codecbench.codecs.facodec.model import FACodecModel

FACODEC_NAME = "facodec"
# The timbre vector is transmitted as float32 values.
TIMBRE_BITS_PER_VALUE = 32


def facodec_operating_points(config: FACodecConfig) -> tuple[OperatingPoint, ...]:
    """Prosody + content, then one more residual codebook per point, lowest bitrate first."""
    decoder = config.decoder
    sizes_bits = {decoder.codebook_size_prosody, decoder.codebook_size_content}
    if decoder.vq_num_q_r:
        sizes_bits.add(decoder.codebook_size_residual)
    if len(sizes_bits) != 1:
        # Mixed sizes would need a per-codebook bit count; the published model uses one size.
        raise ValueError(
            f"FACodec operating points need one codebook size for all attributes, got 2**{sorted(sizes_bits)} entries"
        )
    (bits,) = sizes_bits
    base = decoder.vq_num_q_p + decoder.vq_num_q_c
    points = []
    for residual in range(decoder.vq_num_q_r + 1):
        codebooks = base + residual
        kbps = round(config.frame_rate_hz * codebooks * bits / 1000, 6)
        points.append(
            OperatingPoint(
                label=f"{kbps:g} kbps",
                nominal_kbps=kbps,
                frame_rate_hz=config.frame_rate_hz,
                num_codebooks=codebooks,
                codebook_size=2**bits,
            )
        )
    return tuple(points)


def facodec_spec(config: FACodecConfig = FACodecConfig()) -> CodecSpec:
    return CodecSpec(
        name=FACODEC_NAME,
        family="neural",
        description="FACodec (NaturalSpeech 3, Amphion): prosody, content and residual codes + timbre vector",
        sample_rate_hz=config.sample_rate_hz,
        operating_points=facodec_operating_points(config),
    )


FACODEC_SPEC = facodec_spec()


def describe_operating_point(operating_point: OperatingPoint, config: FACodecConfig = FACodecConfig()) -> str:
    """Which attributes an operating point carries, e.g. ``prosody + content + 1 of 3 residual``."""
    residual = residual_codebooks(operating_point, config)
    text = "prosody + content"
    if residual:
        text += f" + {residual} of {config.decoder.vq_num_q_r} residual"
    return text + " codebooks, + timbre vector"


def residual_codebooks(operating_point: OperatingPoint, config: FACodecConfig) -> int:
    """Residual codebooks used at ``operating_point``."""
    base = config.decoder.vq_num_q_p + config.decoder.vq_num_q_c
    if operating_point.num_codebooks is None or not (
        base <= operating_point.num_codebooks <= base + config.decoder.vq_num_q_r
    ):
        raise ValueError(
            f"{operating_point.label} is not a FACodec operating point "
            f"(it needs {base} to {base + config.decoder.vq_num_q_r} codebooks)"
        )
    return operating_point.num_codebooks - base


@dataclass(frozen=True)
class FACodecEncodedAudio(EncodedAudio):
    """FACodec's encoding of one utterance.

    ``payload`` holds the codes ``[num_codebooks, num_frames]`` (int16): prosody rows, content
    rows, then the residual rows the operating point keeps. ``payload_bits`` counts them.

    Attributes:
        timbre: float32 ``[D]`` timbre vector, sent once per utterance at every operating point.
        num_prosody_codebooks, num_content_codebooks: how the payload rows split.
    """

    timbre: np.ndarray
    num_prosody_codebooks: int
    num_content_codebooks: int

    @property
    def side_info_bits(self) -> int:
        """Bits of the timbre vector (float32 values), reported apart from the token bitrate."""
        return int(self.timbre.size) * TIMBRE_BITS_PER_VALUE

    @property
    def prosody_codes(self) -> np.ndarray:
        return self.payload[: self.num_prosody_codebooks]

    @property
    def content_codes(self) -> np.ndarray:
        return self.payload[self.num_prosody_codebooks : self.num_prosody_codebooks + self.num_content_codebooks]

    @property
    def residual_codes(self) -> np.ndarray:
        return self.payload[self.num_prosody_codebooks + self.num_content_codebooks :]

    def factorized_codes(self) -> FactorizedCodes:
        """The codes as a batch of one, grouped by attribute."""
        codes = torch.from_numpy(self.payload.astype(np.int64))[None]
        return FactorizedCodes.from_stacked(codes, self.num_prosody_codebooks, self.num_content_codebooks)


class FACodecCodec(Codec):
    """FACodec at its operating points. ``model`` comes from :func:`~codecbench.codecs.facodec.load_facodec`."""

    def __init__(self, model: FACodecModel):
        self.model = model
        self.config = model.config
        self.spec = facodec_spec(model.config)

    def _check_rate(self, sample_rate_hz: int) -> None:
        if sample_rate_hz != self.config.sample_rate_hz:
            raise ValueError(f"FACodec encodes {self.config.sample_rate_hz} Hz audio, not {sample_rate_hz} Hz")

    def _padded(self, samples: np.ndarray) -> torch.Tensor:
        hop = self.config.hop_length
        num_frames = max(1, -(-samples.shape[0] // hop))
        padded = np.zeros(num_frames * hop, dtype=np.float32)
        padded[: samples.shape[0]] = samples
        return torch.from_numpy(padded)[None]

    def encode(
        self, samples: np.ndarray, sample_rate_hz: int, operating_point: OperatingPoint
    ) -> FACodecEncodedAudio:
        self._check_rate(sample_rate_hz)
        residual = residual_codebooks(operating_point, self.config)
        encoding = self.model.encode(self._padded(samples))
        codes = encoding.codes.with_residual_codebooks(residual).stacked()[0].cpu().numpy().astype(np.int16)
        return FACodecEncodedAudio(
            payload=codes,
            payload_bits=int(codes.size) * operating_point.bits_per_token,
            num_samples=samples.shape[0],
            sample_rate_hz=sample_rate_hz,
            operating_point=operating_point,
            timbre=encoding.timbre[0].cpu().numpy().astype(np.float32),
            num_prosody_codebooks=self.config.decoder.vq_num_q_p,
            num_content_codebooks=self.config.decoder.vq_num_q_c,
        )

    def decode(self, encoded: EncodedAudio) -> np.ndarray:
        if not isinstance(encoded, FACodecEncodedAudio):
            raise TypeError(f"FACodec decodes its own encodings, not {type(encoded).__name__}")
        timbre = torch.from_numpy(encoded.timbre)[None]
        decoded = self.model.decode(encoded.factorized_codes(), timbre)[0].cpu().numpy()
        return decoded[: encoded.num_samples].astype(np.float32, copy=False)

    def convert_voice(self, content: Audio, timbre: Audio) -> np.ndarray:
        """``content`` spoken in the voice of ``timbre``: float32 at the content's rate and length.

        Prosody and content codes come from ``content``, the timbre vector from ``timbre`` (each
        resampled to 16 kHz); FACodec's redecoder speaks them.

        Raises:
            RedecoderMissingError: the model was loaded without ``ns3_facodec_redecoder.bin``.
        """
        rate = self.config.sample_rate_hz
        content_at_rate = resample(content.samples, content.sample_rate_hz, rate)
        timbre_at_rate = resample(timbre.samples, timbre.sample_rate_hz, rate)
        codes = self.model.encode(self._padded(content_at_rate)).codes
        timbre_vector = self.model.encode(self._padded(timbre_at_rate)).timbre
        converted = self.model.convert_voice(codes, timbre_vector)[0].cpu().numpy()
        converted = fit_length(converted, content_at_rate.shape[0])
        return fit_length(resample(converted, rate, content.sample_rate_hz), content.num_samples).astype(np.float32)
