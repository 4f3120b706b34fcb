"""FACodec's decoder network (upstream ``FACodecDecoder``), inference parts only.

Despite its name it holds both halves of the codec's discrete side: the three residual
quantizers (prosody, content, acoustic residual), the transformer that turns latents into a
timbre vector, and the generator that turns code embeddings and a timbre vector into speech.
Its training-only heads (F0/phone predictors, gradient-reversal classifiers including a
245,200-speaker classifier) are not built; ``checkpoint.py`` skips their weights.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.config import FACodecDecoderConfig
from codecbench.codecs.facodec.generator import TimbreConditionedGenerator
from codecbench.codecs.facodec.quantizer import ResidualVectorQuantizer
from codecbench.codecs.facodec.transformer import TransformerEncoder


class FACodecDecoder(nn.Module):
    """Quantizers, timbre encoder and generator of FACodec."""

    upstream_names = {
        "prosody_quantizer": "quantizer.0",
        "content_quantizer": "quantizer.1",
        "residual_quantizer": "quantizer.2",
        "generator": "",
    }

    def __init__(self, config: FACodecDecoderConfig):
        super().__init__()
        self.config = config
        prosody_entries, content_entries, residual_entries = config.codebook_entries
        self.prosody_quantizer = ResidualVectorQuantizer(
            config.vq_num_q_p, config.vq_dim, prosody_entries, config.codebook_dim
        )
        self.content_quantizer = ResidualVectorQuantizer(
            config.vq_num_q_c, config.vq_dim, content_entries, config.codebook_dim
        )
        self.residual_quantizer = (
            ResidualVectorQuantizer(config.vq_num_q_r, config.vq_dim, residual_entries, config.codebook_dim)
            if config.vq_num_q_r > 0
            else None
        )
        self.timbre_encoder = TransformerEncoder(config.timbre_encoder)
        self.generator = TimbreConditionedGenerator(
            config.in_channels, config.upsample_initial_channel, config.up_ratios
        )

    def quantize(self, latents: torch.Tensor) -> FactorizedCodes:
        """Codes for encoder latents ``[B, D, T]``.

        As upstream, prosody and content quantizers both read the latents; the residual
        quantizer reads what their sum leaves.
        """
        prosody, prosody_codes = self.prosody_quantizer.quantize(latents)
        content, content_codes = self.content_quantizer.quantize(latents)
        if self.residual_quantizer is None:
            residual_codes = prosody_codes.new_zeros((latents.shape[0], 0, latents.shape[2]))
        else:
            _, residual_codes = self.residual_quantizer.quantize(latents - (prosody + content))
        return FactorizedCodes(prosody_codes, content_codes, residual_codes)

    def timbre(self, latents: torch.Tensor, batch_positions: torch.Tensor | None = None) -> torch.Tensor:
        """The timbre (speaker) vector ``[B, D]``: the time-mean of the timbre encoder's output.

        ``batch_positions``: see :mod:`codecbench.codecs.facodec.transformer` (``None`` is upstream's indexing).
        """
        return self.timbre_encoder(latents.transpose(1, 2), batch_positions=batch_positions).mean(dim=1)

    def embed(self, codes: FactorizedCodes) -> torch.Tensor:
        """Frame embeddings ``[B, D, T]`` from codes (upstream ``vq2emb``); fewer residual codebooks are fine."""
        embedding = self.prosody_quantizer.embed(codes.prosody) + self.content_quantizer.embed(codes.content)
        if codes.residual.shape[1] > 0:
            if self.residual_quantizer is None:
                raise ValueError("this decoder has no residual quantizer (vq_num_q_r = 0) but got residual codes")
            embedding = embedding + self.residual_quantizer.embed(codes.residual)
        return embedding

    def synthesize(self, embedding: torch.Tensor, timbre: torch.Tensor) -> torch.Tensor:
        """Waveform ``[B, 1, T * hop]`` from embeddings ``[B, D, T]`` and timbre ``[B, D]`` (upstream ``inference``)."""
        return self.generator(embedding, timbre)
