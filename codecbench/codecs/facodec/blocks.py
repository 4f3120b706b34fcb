"""Convolutional blocks of FACodec's encoder and generators (DAC-style, with alias-free SnakeBeta)."""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.facodec.alias_free import AliasFreeSnakeBeta
from codecbench.codecs.facodec.layers import WNConv1d, WNConvTranspose1d

RESIDUAL_KERNEL = 7
ENCODER_DILATIONS = (1, 3, 9)


class ResidualUnit(nn.Module):
    """``x + conv1x1(act(dilated conv7(act(x))))``, same length. ``[B, C, T] -> [B, C, T]``."""

    upstream_names = {
        "activation_in": "block.0",
        "dilated_conv": "block.1",
        "activation_out": "block.2",
        "pointwise_conv": "block.3",
    }

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        padding = ((RESIDUAL_KERNEL - 1) * dilation) // 2
        self.activation_in = AliasFreeSnakeBeta(channels)
        self.dilated_conv = WNConv1d(channels, channels, RESIDUAL_KERNEL, padding=padding, dilation=dilation)
        self.activation_out = AliasFreeSnakeBeta(channels)
        self.pointwise_conv = WNConv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dilated_conv(self.activation_in(x))
        return x + self.pointwise_conv(self.activation_out(y))


class EncoderBlock(nn.Module):
    """Three residual units at ``channels // 2``, then a strided convolution to ``channels``.

    ``[B, channels // 2, T] -> [B, channels, about T / stride]``.
    """

    upstream_names = {
        "residual_unit_1": "block.0",
        "residual_unit_3": "block.1",
        "residual_unit_9": "block.2",
        "activation": "block.3",
        "downsample_conv": "block.4",
    }

    def __init__(self, channels: int, stride: int):
        super().__init__()
        half = channels // 2
        self.residual_unit_1 = ResidualUnit(half, dilation=1)
        self.residual_unit_3 = ResidualUnit(half, dilation=3)
        self.residual_unit_9 = ResidualUnit(half, dilation=9)
        self.activation = AliasFreeSnakeBeta(half)
        self.downsample_conv = WNConv1d(
            half, channels, kernel_size=2 * stride, stride=stride, padding=stride // 2 + stride % 2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.residual_unit_9(self.residual_unit_3(self.residual_unit_1(x)))
        return self.downsample_conv(self.activation(x))


class DecoderBlock(nn.Module):
    """A transposed convolution upsampling by ``stride``, then three residual units.

    ``[B, in_channels, T] -> [B, out_channels, T * stride]``.
    """

    upstream_names = {
        "activation": "block.0",
        "upsample_conv": "block.1",
        "residual_unit_1": "block.2",
        "residual_unit_3": "block.3",
        "residual_unit_9": "block.4",
    }

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.activation = AliasFreeSnakeBeta(in_channels)
        self.upsample_conv = WNConvTranspose1d(
            in_channels,
            out_channels,
            kernel_size=2 * stride,
            stride=stride,
            padding=stride // 2 + stride % 2,
            output_padding=stride % 2,
        )
        self.residual_unit_1 = ResidualUnit(out_channels, dilation=1)
        self.residual_unit_3 = ResidualUnit(out_channels, dilation=3)
        self.residual_unit_9 = ResidualUnit(out_channels, dilation=9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.upsample_conv(self.activation(x))
        return self.residual_unit_9(self.residual_unit_3(self.residual_unit_1(x)))
