"""Alias-free activation: upsample by 2, apply SnakeBeta, low-pass and downsample by 2.

FACodec wraps every SnakeBeta this way (upstream ``alias_free_torch.Activation1d``, adapted
from BigVGAN / alias-free-torch). The Kaiser-windowed sinc filters are fixed; the checkpoints
store them as buffers (``upsample.filter``, ``downsample.lowpass.filter``), and they are loaded
like any other tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.facodec.layers import SnakeBeta

RESAMPLE_RATIO = 2
FILTER_TAPS = 12


def kaiser_sinc_filter(cutoff: float, half_width: float, taps: int) -> torch.Tensor:
    """A low-pass FIR ``[1, 1, taps]`` with DC gain 1 (cutoff and half width in cycles per sample)."""
    even = taps % 2 == 0
    half = taps // 2
    attenuation_db = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation_db > 50.0:
        beta = 0.1102 * (attenuation_db - 8.7)
    elif attenuation_db >= 21.0:
        beta = 0.5842 * (attenuation_db - 21) ** 0.4 + 0.07886 * (attenuation_db - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(taps, beta=beta, periodic=False)
    time = torch.arange(-half, half) + 0.5 if even else torch.arange(taps) - half
    taps_values = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (taps_values / taps_values.sum()).view(1, 1, taps)


class Upsample(nn.Module):
    """Zero-stuffing upsampler with a Kaiser-sinc interpolation filter (replicate-padded edges)."""

    def __init__(self, ratio: int = RESAMPLE_RATIO, taps: int = FILTER_TAPS):
        super().__init__()
        self.ratio = ratio
        self.pad = taps // ratio - 1
        self.crop_left = self.pad * ratio + (taps - ratio) // 2
        self.crop_right = self.pad * ratio + (taps - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, taps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = self.ratio * F.conv_transpose1d(x, self.filter.expand(channels, -1, -1), stride=self.ratio, groups=channels)
        return x[..., self.crop_left : -self.crop_right]


class Downsample(nn.Module):
    """Kaiser-sinc low-pass then decimation (replicate-padded edges)."""

    upstream_names = {"filter": "lowpass.filter"}

    def __init__(self, ratio: int = RESAMPLE_RATIO, taps: int = FILTER_TAPS):
        super().__init__()
        self.ratio = ratio
        even = taps % 2 == 0
        self.pad_left = taps // 2 - int(even)
        self.pad_right = taps // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, taps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, self.filter.expand(channels, -1, -1), stride=self.ratio, groups=channels)


class AliasFreeSnakeBeta(nn.Module):
    """SnakeBeta at twice the rate, so its harmonics do not alias. ``[B, C, T] -> [B, C, T]``."""

    upstream_names = {"snake": "act"}

    def __init__(self, channels: int):
        super().__init__()
        self.upsample = Upsample()
        self.snake = SnakeBeta(channels)
        self.downsample = Downsample()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.snake(self.upsample(x)))
