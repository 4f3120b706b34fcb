"""Basic layers: the SnakeBeta activation and weight-normalised convolutions and projections.

Weight normalisation is kept in the old ``torch.nn.utils.weight_norm`` form that the published
checkpoints store: a magnitude ``weight_g`` and a direction ``weight_v`` per output slice
(dimension 0), with ``weight = weight_g * weight_v / ||weight_v||``.

Modules here and in the other FACodec modules may carry ``upstream_names``: a map from their
own child or parameter names to the names Amphion's classes use, so that ``checkpoint.py`` can
translate state-dict keys both ways (see :func:`codecbench.codecs.facodec.checkpoint.upstream_key`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.checkpoint_porting import fold_weight_norm

# SnakeBeta's guard against division by zero, as upstream.
_SNAKE_EPSILON = 1e-9


class SnakeBeta(nn.Module):
    """``x + sin^2(x * exp(alpha)) / (exp(beta) + 1e-9)`` per channel (log-scale alpha and beta).

    Args:
        channels: number of channels ``C`` of the ``[B, C, T]`` input.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha)[None, :, None]
        beta = torch.exp(self.beta)[None, :, None]
        return x + (1.0 / (beta + _SNAKE_EPSILON)) * torch.sin(x * alpha).pow(2)


class _WeightNormed(nn.Module):
    """Holds ``weight_g`` (``[out, 1, ...]``), ``weight_v`` and ``bias`` as the checkpoints name them."""

    def __init__(self, weight_shape: tuple[int, ...], bias_size: int):
        super().__init__()
        self.weight_v = nn.Parameter(torch.empty(weight_shape))
        self.weight_g = nn.Parameter(torch.ones((weight_shape[0],) + (1,) * (len(weight_shape) - 1)))
        self.bias = nn.Parameter(torch.zeros(bias_size))
        nn.init.trunc_normal_(self.weight_v, std=0.02)

    @property
    def weight(self) -> torch.Tensor:
        return fold_weight_norm(self.weight_g, self.weight_v)


class WNConv1d(_WeightNormed):
    """Weight-normalised ``Conv1d`` (input and output ``[B, C, T]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
    ):
        super().__init__((out_channels, in_channels, kernel_size), out_channels)
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class WNConvTranspose1d(_WeightNormed):
    """Weight-normalised ``ConvTranspose1d``; like upstream, the norm is per input channel."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        padding: int,
        output_padding: int,
    ):
        super().__init__((in_channels, out_channels, kernel_size), out_channels)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding)


class WNLinear(_WeightNormed):
    """Weight-normalised ``Linear`` over the last dimension."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__((out_features, in_features), out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)
