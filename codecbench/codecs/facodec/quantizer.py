"""Residual vector quantization with factorized (low-dimensional, L2-normalised) codebooks.

Each stage projects its input ``[B, D, T]`` down to ``codebook_dim`` values per frame, picks the
codebook entry nearest by cosine similarity (both sides L2-normalised, as in DAC), and projects
that entry back up to ``D``. A residual quantizer runs its stages on what the previous stages
left unexplained. Inference only: no losses, no codebook updates, no quantizer dropout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.facodec.layers import WNLinear


class FactorizedVectorQuantizer(nn.Module):
    """One codebook of ``num_entries`` vectors of ``codebook_dim`` values, used in a ``dim``-wide space.

    Args:
        dim: width of the latents ``D``.
        num_entries: codebook entries (``2 ** codebook_size`` in upstream's arguments).
        codebook_dim: width of the codebook; when it equals ``dim`` there are no projections.
    """

    upstream_names = {"codebook": "_codebook"}

    def __init__(self, dim: int, num_entries: int, codebook_dim: int):
        super().__init__()
        self.projects = dim != codebook_dim
        if self.projects:
            self.in_proj = WNLinear(dim, codebook_dim)
            self.out_proj = WNLinear(codebook_dim, dim)
        self.codebook = nn.Embedding(num_entries, codebook_dim)

    def _project_in(self, x: torch.Tensor) -> torch.Tensor:
        return self.in_proj(x) if self.projects else x

    def _project_out(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(x) if self.projects else x

    def quantize(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest entries for ``latents`` ``[B, D, T]``: (quantized ``[B, D, T]``, codes ``[B, T]``)."""
        projected = self._project_in(latents.transpose(1, 2))  # [B, T, d]
        flat = F.normalize(projected.reshape(-1, projected.shape[-1]))
        codebook = F.normalize(self.codebook.weight)
        distance = (
            flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1, keepdim=True).t()
        )
        codes = (-distance).max(1)[1].reshape(projected.shape[:2])
        chosen = F.embedding(codes, self.codebook.weight)
        # Upstream's straight-through expression; it rounds differently from ``chosen`` alone,
        # and the residual stages see this rounding, so it is kept.
        chosen = projected + (chosen - projected)
        return self._project_out(chosen).transpose(1, 2), codes

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, D, T]`` for ``codes`` ``[B, T]``."""
        return self._project_out(F.embedding(codes, self.codebook.weight)).transpose(1, 2)


class ResidualVectorQuantizer(nn.Module):
    """``num_quantizers`` factorized stages, each quantizing the previous stages' residual.

    Args:
        num_quantizers: number of stages (codebooks).
        dim, num_entries, codebook_dim: as for :class:`FactorizedVectorQuantizer`.
    """

    def __init__(self, num_quantizers: int, dim: int, num_entries: int, codebook_dim: int):
        super().__init__()
        self.layers = nn.ModuleList(
            FactorizedVectorQuantizer(dim, num_entries, codebook_dim) for _ in range(num_quantizers)
        )

    @property
    def num_quantizers(self) -> int:
        return len(self.layers)

    def quantize(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize ``latents`` ``[B, D, T]`` with every stage.

        Returns:
            the sum of the stages' outputs ``[B, D, T]`` and the codes ``[B, num_quantizers, T]``.
        """
        residual = latents
        total: torch.Tensor | float = 0.0
        codes = []
        for layer in self.layers:
            quantized, stage_codes = layer.quantize(residual)
            residual = residual - quantized
            total = total + quantized
            codes.append(stage_codes)
        return total, torch.stack(codes, dim=1)

    def embed(self, codes: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, D, T]`` from the codes of the first ``K`` stages, ``codes`` ``[B, K, T]``.

        ``K`` may be smaller than ``num_quantizers`` (a lower bitrate) but not zero.
        """
        if not 1 <= codes.shape[1] <= self.num_quantizers:
            raise ValueError(f"expected 1 to {self.num_quantizers} codebooks, got {codes.shape[1]}")
        total: torch.Tensor | float = 0.0
        for index in range(codes.shape[1]):
            total = total + self.layers[index].embed(codes[:, index])
        return total
