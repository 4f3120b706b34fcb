"""FACodec as a codecbench :class:`Codec`: codes grouped by attribute, the timbre vector as side
information, batches, and voice conversion.

The payload (:class:`FACodecPayload`) holds the codes ``[num_codebooks, num_frames]`` (prosody
rows, content rows, then the residual rows the operating point keeps) and the float32 timbre
vector, which every operating point sends once per utterance; it is counted in
``side_info_bits`` (256 x 32 = 8192 bits for the published model), not in the bitrate.

The encoder runs on the input exactly as given, as Amphion's does: the codes are upstream's
codes for any length. Its strided convolutions give ``T`` frames for ``N = 200 T + r`` samples
when ``r < 152`` and ``T + 1`` when ``r >= 152`` (:meth:`FACodecEncoder.num_frames`), and the
decoder gives 200 samples a frame: the reconstruction is cut to the input's length when it is
longer, and when it is shorter :func:`~codecbench.codecs.transcode` pads it with zeros and
reports how many (``padded_samples``). Zero-padding the input instead would change the codes
of the last frames and, the decoder not being causal, the whole reconstruction.

Clips share a model call only when their lengths are equal, and then each gets what it gets
alone (see :mod:`codecbench.codecs.facodec.model` for the positional-table quirk this needs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from codecbench.audio import Audio, fit_length, resample
from codecbench.codecs.base import TokenPayload
from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.entry import facodec_spec
from codecbench.codecs.facodec.model import FACodecModel
from codecbench.codecs.token_codec import BatchLimits, TorchTokenCodec

# The timbre vector is sent as float32 values.
TIMBRE_BITS_PER_VALUE = 32


@dataclass(frozen=True, eq=False, kw_only=True)
class FACodecPayload(TokenPayload):
    """What FACodec sends for one utterance.

    Attributes:
        codes: ``[num_codebooks, num_frames]``: prosody rows, content rows, residual rows.
        timbre: float32 ``[D]`` timbre (speaker) vector, sent once per utterance.
        num_prosody_codebooks, num_content_codebooks: how the rows split by attribute.
    """

    timbre: np.ndarray
    num_prosody_codebooks: int
    num_content_codebooks: int

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timbre.ndim != 1 or self.timbre.dtype != np.float32:
            raise ValueError(f"the timbre vector must be float32 [D], got {self.timbre.dtype} {self.timbre.shape}")
        if self.num_prosody_codebooks + self.num_content_codebooks > self.num_codebooks:
            raise ValueError(
                f"{self.num_codebooks} codebooks cannot hold {self.num_prosody_codebooks} prosody and "
                f"{self.num_content_codebooks} content codebooks"
            )

    @property
    def side_info_bits(self) -> int:
        """The timbre vector's bits (float32 values), reported apart from the token bitrate."""
        return super().side_info_bits + int(self.timbre.size) * TIMBRE_BITS_PER_VALUE

    @property
    def prosody_codes(self) -> np.ndarray:
        return self.codes[: self.num_prosody_codebooks]

    @property
    def content_codes(self) -> np.ndarray:
        return self.codes[self.num_prosody_codebooks : self.num_prosody_codebooks + self.num_content_codebooks]

    @property
    def residual_codes(self) -> np.ndarray:
        return self.codes[self.num_prosody_codebooks + self.num_content_codebooks :]

    def code_streams(self) -> tuple[tuple[str, np.ndarray], ...]:
        """The codes by attribute, ``(name, [codebooks, frames])``; residual only when sent."""
        streams = (("prosody", self.prosody_codes), ("content", self.content_codes), ("residual", self.residual_codes))
        return tuple((name, codes) for name, codes in streams if codes.shape[0])


@dataclass(frozen=True)
class ConvertedSpeech:
    """What :meth:`FACodecCodec.convert_voice` gives.

    Attributes:
        samples: float32 ``[num_samples]`` at the content clip's rate and length.
        padded_samples: zeros added at the end (at 16 kHz) where the redecoder's output was
            shorter than the content clip (see the module docstring); not FACodec's.
    """

    samples: np.ndarray
    padded_samples: int


class FACodecCodec(TorchTokenCodec):
    """FACodec at its operating points, on ``device``.

    Args:
        model: from :func:`~codecbench.codecs.facodec.model.load_facodec` (or random weights).
        device: where ``model`` is.
        batch_limits: size caps per model call; by default one clip per call on the CPU.
    """

    def __init__(self, model: FACodecModel, device: str = "cpu", batch_limits: BatchLimits | None = None):
        config = model.config
        super().__init__(
            facodec_spec(config),
            device=device,
            hop_length=config.hop_length,
            pads_safely=False,
            pad_to_frames=False,
            batch_limits=batch_limits,
        )
        self.model = model
        self.config = config

    def num_frames(self, num_samples: int) -> int:
        """Frames Amphion's encoder gives for ``num_samples`` (see the module docstring)."""
        return self.model.encoder.num_frames(num_samples)

    def _encode_batch_tensor(self, audio, num_codebooks: int):
        encoding = self.model.encode(audio[:, 0])
        residual = num_codebooks - self._prosody_and_content_codebooks
        return encoding.codes.with_residual_codebooks(residual).stacked(), encoding.timbre

    def _decode_batch_tensor(self, codes, timbres):
        decoder = self.config.decoder
        factorized = FactorizedCodes.from_stacked(codes, decoder.vq_num_q_p, decoder.vq_num_q_c)
        return self.model.decode(factorized, timbres)

    def _payload(self, codes: np.ndarray, side_info: np.ndarray | None) -> FACodecPayload:
        assert side_info is not None, "FACodec's encoder always gives a timbre vector"
        return FACodecPayload(
            codes=codes,
            timbre=np.ascontiguousarray(side_info, dtype=np.float32),
            num_prosody_codebooks=self.config.decoder.vq_num_q_p,
            num_content_codebooks=self.config.decoder.vq_num_q_c,
        )

    def _side_info(self, payload: TokenPayload) -> np.ndarray:
        if not isinstance(payload, FACodecPayload):
            raise ValueError(f"FACodec decodes FACodec payloads (codes and a timbre vector), not {type(payload).__name__}")
        decoder = self.config.decoder
        split = (payload.num_prosody_codebooks, payload.num_content_codebooks)
        if split != (decoder.vq_num_q_p, decoder.vq_num_q_c):
            raise ValueError(
                f"the payload's codes are {split[0]} prosody + {split[1]} content codebooks; this model's are "
                f"{decoder.vq_num_q_p} prosody + {decoder.vq_num_q_c} content"
            )
        if payload.timbre.shape != (self.config.timbre_dim,):
            raise ValueError(f"the timbre vector has {payload.timbre.size} values; this model's has {self.config.timbre_dim}")
        return payload.timbre

    @property
    def _prosody_and_content_codebooks(self) -> int:
        return self.config.decoder.vq_num_q_p + self.config.decoder.vq_num_q_c

    def convert_voice(self, content: Audio, timbre: Audio) -> ConvertedSpeech:
        """``content`` spoken in the voice of ``timbre``, at the content's rate and length.

        Prosody and content codes come from ``content``, the timbre vector from ``timbre`` (each
        resampled to 16 kHz and encoded as it is, as Amphion does); FACodec's redecoder speaks
        them. Where the redecoder's output is shorter than the content clip, it is padded with
        zeros (as :func:`~codecbench.codecs.transcode` pads reconstructions).

        Raises:
            RedecoderMissingError: the model was loaded without ``ns3_facodec_redecoder.bin``.
        """
        self.model.require_redecoder()
        rate = self.config.sample_rate_hz
        content_at_rate = resample(content.samples, content.sample_rate_hz, rate)
        timbre_at_rate = resample(timbre.samples, timbre.sample_rate_hz, rate)
        for name, samples in (("content", content_at_rate), ("timbre", timbre_at_rate)):
            self._check_long_enough(samples.shape[0], f"the {name} clip")
        codes = self.model.encode(self._as_batch(content_at_rate)).codes
        timbre_vector = self.model.encode(self._as_batch(timbre_at_rate)).timbre
        converted = self.model.convert_voice(codes, timbre_vector)[0].float().cpu().numpy()
        padded = max(0, content_at_rate.shape[0] - converted.shape[0])
        converted = fit_length(converted, content_at_rate.shape[0])
        samples = fit_length(resample(converted, rate, content.sample_rate_hz), content.num_samples).astype(np.float32)
        return ConvertedSpeech(samples, padded)

    def _as_batch(self, samples: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None].to(self.device)
