"""The FreqCodec model: waveform to codes and codes back to waveform, as FunCodec's inference does it.

Encode: divide by the RMS loudness scale (when ``audio_normalize``), STFT to spectral planes,
2-D encoder, residual VQ. Decode: sum the codebook entries, 2-D decoder, inverse STFT, multiply
the scale back, cut to the input length. The scale is part of what :meth:`FreqCodecModel.encode`
returns, because the decoder cannot rebuild the level without it (FunCodec's own
decode-from-tokens path drops it; its ``inference`` path, reproduced here, keeps it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from codecbench.codecs.freqcodec.config import FreqCodecConfig
from codecbench.codecs.freqcodec.quantizer import ResidualVectorQuantizer
from codecbench.codecs.freqcodec.seanet2d import SEANetDecoder2d, SEANetEncoder2d
from codecbench.codecs.freqcodec.spectral import SpectralAnalysis, SpectralSynthesis

_SCALE_FLOOR = 1e-8


@dataclass(frozen=True)
class FreqCodecCodes:
    """What the encoder emits for a batch of equally long signals.

    Attributes:
        codes: code indices ``[B, K, T]`` (int64), K codebooks, T frames.
        scale: the RMS loudness scale per signal ``[B]`` (float32) the decoder multiplies back;
            ``None`` for models without ``audio_normalize``.
        num_samples: length of the encoded signals; ``None`` where it is not known (a batch of
            payloads of equal frame counts but different lengths), and the decoder keeps all
            the inverse STFT gives.
    """

    codes: torch.Tensor
    scale: torch.Tensor | None
    num_samples: int | None


class FreqCodecModel(nn.Module):
    """Inference-only FreqCodec built from a :class:`FreqCodecConfig`.

    Submodules carry FunCodec's names (``encoder``, ``quantizer``, ``decoder``) so
    :mod:`codecbench.codecs.freqcodec.checkpoint` can load ``model.pth`` strictly.
    """

    def __init__(self, config: FreqCodecConfig):
        super().__init__()
        self.config = config
        self.analysis = SpectralAnalysis(config.spectral)
        self.encoder = SEANetEncoder2d(config.encoder)
        self.quantizer = ResidualVectorQuantizer(config.quantizer)
        self.decoder = SEANetDecoder2d(config.decoder)
        self.synthesis = SpectralSynthesis(config.spectral)
        self.eval()

    @torch.inference_mode()
    def encode(self, waveform: torch.Tensor, num_quantizers: int) -> FreqCodecCodes:
        """Encode ``[B, L]`` float32 audio at ``config.sample_rate_hz`` with ``num_quantizers`` codebooks.

        Raises:
            ValueError: not ``[B, L]``, or shorter than the STFT allows.
        """
        if waveform.dim() != 2:
            raise ValueError(f"waveform must be [batch, samples], got shape {tuple(waveform.shape)}")
        num_samples = waveform.shape[-1]
        shortest = self.config.spectral.min_input_samples
        if num_samples < shortest:
            raise ValueError(
                f"input of {num_samples} samples is too short: FreqCodec needs at least {shortest} samples "
                f"({shortest / self.config.sample_rate_hz * 1000:.0f} ms)"
            )
        scale = None
        if self.config.audio_normalize:
            scale = _SCALE_FLOOR + waveform.pow(2).mean(dim=-1).sqrt()
            waveform = waveform / scale[:, None]
        latent = self.encoder(self.analysis(waveform))
        codes = self.quantizer.encode(latent, num_quantizers)
        return FreqCodecCodes(codes=codes, scale=scale, num_samples=num_samples)

    @torch.inference_mode()
    def decode(self, encoded: FreqCodecCodes) -> torch.Tensor:
        """Rebuild ``[B, n]`` float32 audio, n <= ``encoded.num_samples``.

        n falls short of the input only when the STFT frames do not cover its tail (at most
        ``hop_length`` samples), exactly as in FunCodec. Without ``num_samples``, n is what the
        inverse STFT gives: STFT hop x (2 x frames - 1) for a time stride of 2.
        """
        if self.config.audio_normalize and encoded.scale is None:
            raise ValueError("this model normalises loudness: decoding needs the scale the encoder returned")
        waveform = self.synthesis(self.decoder(self.quantizer.decode(encoded.codes)))
        if encoded.scale is not None:
            waveform = waveform * encoded.scale[:, None]
        return waveform[:, : encoded.num_samples]
