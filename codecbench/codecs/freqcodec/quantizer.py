"""Residual vector quantisation at inference: latent frames to code indices and back.

Each stage picks the nearest codebook entry (Euclidean) to what the previous stages left over;
the decoded latent is the sum of the picked entries. The distance is computed the way FunCodec
computes it (``|x|² - 2 x·e + |e|²``) so ties and rounding pick the same entries.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.freqcodec.config import QuantizerConfig


class ResidualVectorQuantizer(nn.Module):
    """FunCodec's ``CostumeQuantizer`` without its training machinery (EMA updates, k-means
    initialisation, structured dropout, commitment loss).

    Buffers: ``codebooks`` ``[num_quantizers, codebook_size, codebook_dimension]``. With a
    ``code_dimension`` that differs from the latent's, ``input_proj``/``output_proj`` map into
    and out of codebook space; with ``code_range`` the projected latent is ``tanh`` x range.
    """

    def __init__(self, config: QuantizerConfig):
        super().__init__()
        self.config = config
        dimension = config.codebook_dimension
        self.register_buffer("codebooks", torch.zeros(config.num_quantizers, config.codebook_size, dimension))
        self.input_proj: nn.Module | None = None
        self.output_proj: nn.Module | None = None
        if dimension != config.input_dimension:
            self.input_proj = nn.Linear(config.input_dimension, dimension)
            self.output_proj = nn.Linear(dimension, config.input_dimension)

    def encode(self, latent: torch.Tensor, num_quantizers: int) -> torch.Tensor:
        """Latent frames ``[B, T, D]`` to codes ``[B, num_quantizers, T]`` (int64)."""
        if not 1 <= num_quantizers <= self.config.num_quantizers:
            raise ValueError(f"num_quantizers must be in 1..{self.config.num_quantizers}, got {num_quantizers}")
        if self.input_proj is not None:
            latent = self.input_proj(latent)
        if self.config.code_range is not None:
            latent = torch.tanh(latent) * self.config.code_range
        batch, frames, dimension = latent.shape
        residual = latent.reshape(batch * frames, dimension)
        stages = []
        for codebook in self.codebooks[:num_quantizers]:
            embed = codebook.t()
            distance = -(
                residual.pow(2).sum(1, keepdim=True) - 2 * residual @ embed + embed.pow(2).sum(0, keepdim=True)
            )
            indices = distance.max(dim=-1).indices
            residual = residual - codebook[indices]
            stages.append(indices.view(batch, frames))
        return torch.stack(stages, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, K, T]`` (any K up to ``num_quantizers``) to latent frames ``[B, T, D]``."""
        if codes.dim() != 3 or not 1 <= codes.shape[1] <= self.config.num_quantizers:
            raise ValueError(
                f"codes must be [batch, 1..{self.config.num_quantizers} codebooks, frames], got {tuple(codes.shape)}"
            )
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.config.codebook_size):
            raise ValueError(f"code indices must lie in 0..{self.config.codebook_size - 1}")
        latent = torch.zeros((), dtype=self.codebooks.dtype, device=self.codebooks.device)
        for stage, codebook in enumerate(self.codebooks[: codes.shape[1]]):
            latent = latent + codebook[codes[:, stage]]
        if self.output_proj is not None:
            latent = self.output_proj(latent)
        return latent
