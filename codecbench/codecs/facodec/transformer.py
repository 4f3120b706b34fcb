"""FACodec's transformer encoder, optionally conditioned by style-adaptive layer norm.

The decoder uses it (plain layer norm) to turn latents into a timbre vector; the redecoder uses
it (layer norm whose scale and shift come from a timbre vector) to condition prosody codes on a
speaker.

Upstream quirk, reproduced: the sinusoidal "positional" encoding is a ``[max_len, 1, D]`` table
added as ``x + table[:x.size(0)]`` to batch-first input ``[B, T, D]``. It therefore adds row ``b``
to every frame of batch item ``b``: it encodes the batch position, not time, and a single
utterance always gets row 0. ``batch_positions`` lets a caller give every item row 0, so an
utterance's output does not depend on the batch it was run in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.facodec.config import TransformerEncoderConfig

# Upstream layer norms (nn.LayerNorm and StyleAdaptiveLayerNorm) use eps 1e-5.
_NORM_EPS = 1e-5


def sinusoidal_table(max_len: int, dim: int) -> torch.Tensor:
    """Upstream's ``PositionalEncoding.pe``: ``[max_len, 1, dim]``, sin on even and cos on odd channels."""
    position = torch.arange(max_len).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_len, 1, dim)
    table[:, 0, 0::2] = torch.sin(position * frequency)
    table[:, 0, 1::2] = torch.cos(position * frequency)
    return table


class BatchPositionEncoding(nn.Module):
    """Adds row ``b`` of the sinusoidal table to every frame of batch item ``b`` (see module doc)."""

    upstream_names = {"table": "pe"}

    def __init__(self, dim: int, max_len: int):
        super().__init__()
        self.register_buffer("table", sinusoidal_table(max_len, dim))

    def forward(self, x: torch.Tensor, batch_positions: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``[B, T, D]``; ``batch_positions`` ``[B]`` rows to add (default ``0 .. B-1``, as upstream)."""
        if batch_positions is None:
            if x.shape[0] > self.table.shape[0]:
                raise ValueError(
                    f"batch of {x.shape[0]} is larger than the positional table ({self.table.shape[0]} rows)"
                )
            return x + self.table[: x.shape[0]]
        return x + self.table[batch_positions]


class StyleAdaptiveLayerNorm(nn.Module):
    """Layer norm whose scale and shift are a linear map of a condition vector ``[B, D]``."""

    upstream_names = {"style_projection": "style"}

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.style_projection = nn.Linear(dim, 2 * dim)
        with torch.no_grad():
            self.style_projection.bias[:dim] = 1
            self.style_projection.bias[dim:] = 0

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, T, D]``, ``condition`` ``[B, D]`` (upstream: the time-mean of a ``[B, T, D]`` condition)."""
        gamma, beta = self.style_projection(condition).unsqueeze(1).chunk(2, dim=-1)
        return gamma * F.layer_norm(x, (self.dim,), eps=_NORM_EPS) + beta


class ConvFeedForward(nn.Module):
    """Conv1d (``conv_kernel_size``, same padding) + ReLU + Linear, on ``[B, T, D]``."""

    upstream_names = {"conv": "ffn_1", "linear": "ffn_2"}

    def __init__(self, dim: int, filter_size: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv1d(dim, filter_size, kernel_size, padding=kernel_size // 2)
        self.linear = nn.Linear(filter_size, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(F.relu(self.conv(x.transpose(1, 2)).transpose(1, 2)))


class TransformerEncoderLayer(nn.Module):
    """Pre-norm self-attention and convolutional feed-forward, each with a residual connection."""

    upstream_names = {"attention_norm": "ln_1", "attention": "self_attn", "ffn_norm": "ln_2"}

    def __init__(self, config: TransformerEncoderConfig, style_adaptive: bool):
        super().__init__()
        dim = config.encoder_hidden
        self.style_adaptive = style_adaptive
        self.attention_norm = StyleAdaptiveLayerNorm(dim) if style_adaptive else nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, config.encoder_head, batch_first=True)
        self.ffn_norm = StyleAdaptiveLayerNorm(dim) if style_adaptive else nn.LayerNorm(dim)
        self.ffn = ConvFeedForward(dim, config.conv_filter_size, config.conv_kernel_size)

    def _norm(self, norm: nn.Module, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        return norm(x, condition) if self.style_adaptive else norm(x)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        normed = self._norm(self.attention_norm, x, condition)
        x = x + self.attention(normed, normed, normed, need_weights=False)[0]
        return x + self.ffn(self._norm(self.ffn_norm, x, condition))


class TransformerEncoder(nn.Module):
    """``[B, T, D] -> [B, T, D]``: batch-position encoding, layers, final norm.

    Args:
        config: the sizes.
        style_adaptive: condition every norm on a vector (the redecoder) or use plain layer norm
            (the decoder's timbre encoder). Upstream's ``use_cln``.
    """

    upstream_names = {"position_encoding": "position_emb", "final_norm": "last_ln"}

    def __init__(self, config: TransformerEncoderConfig, style_adaptive: bool = False):
        super().__init__()
        self.style_adaptive = style_adaptive
        self.position_encoding = BatchPositionEncoding(config.encoder_hidden, config.max_len)
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(config, style_adaptive) for _ in range(config.encoder_layer)
        )
        dim = config.encoder_hidden
        self.final_norm = StyleAdaptiveLayerNorm(dim) if style_adaptive else nn.LayerNorm(dim)

    def forward(
        self,
        x: torch.Tensor,
        condition: torch.Tensor | None = None,
        batch_positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x`` ``[B, T, D]``; ``condition`` ``[B, D]`` when style-adaptive; ``batch_positions`` see module doc."""
        if self.style_adaptive and condition is None:
            raise ValueError("a style-adaptive transformer encoder needs a condition vector")
        x = self.position_encoding(x, batch_positions)
        for layer in self.layers:
            x = layer(x, condition)
        return self.final_norm(x, condition) if self.style_adaptive else self.final_norm(x)
