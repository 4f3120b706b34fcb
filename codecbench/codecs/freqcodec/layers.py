"""Building blocks of FreqCodec's 2-D SEANet: padded convolutions, trimmed transposed
convolutions, activations and the bottleneck LSTM.

Padding follows FunCodec exactly, because output lengths and values depend on it: a stride-s
convolution pads ``(k - 1) * dilation - (s - 1)`` samples split right-heavy (left-heavy for the
2-D time axis), plus "extra" padding so the last window is full; reflect padding of an axis
shorter than the pad first zero-extends it. Transposed convolutions trim ``k - s`` samples
instead. Submodule names (``conv.conv``, ``conv.norm``, ``convtr.convtr``, ``lstm``) are
FunCodec's, so its checkpoint keys load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


def extra_padding_for_full_windows(length: int, kernel_size: int, stride: int, padding_total: int) -> int:
    """Samples to add at the end so the last stride-``stride`` window of ``kernel_size`` is complete."""
    num_windows = (length - kernel_size + padding_total) / stride + 1
    ideal_length = (math.ceil(num_windows) - 1) * stride + (kernel_size - padding_total)
    return ideal_length - length


def pad_time(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """Pad the last axis; reflect padding longer than the signal zero-extends it first."""
    if mode != "reflect":
        return F.pad(x, (left, right), mode)
    length = x.shape[-1]
    extension = max(left, right) - length + 1 if length <= max(left, right) else 0
    if extension:
        x = F.pad(x, (0, extension))
    padded = F.pad(x, (left, right), "reflect")
    return padded[..., : padded.shape[-1] - extension]


def pad_freq_time(
    x: torch.Tensor, time_padding: tuple[int, int], freq_padding: tuple[int, int], mode: str
) -> torch.Tensor:
    """Pad the frequency (``-2``) and time (``-1``) axes of ``[B, C, F, T]``; reflect as :func:`pad_time`."""
    if mode != "reflect":
        return F.pad(x, (*time_padding, *freq_padding), mode)
    freq_len, time_len = x.shape[-2:]
    time_extension = max(time_padding) - time_len + 1 if time_len <= max(time_padding) else 0
    freq_extension = max(freq_padding) - freq_len + 1 if freq_len <= max(freq_padding) else 0
    x = F.pad(x, (0, time_extension, 0, freq_extension))
    padded = F.pad(x, (*time_padding, *freq_padding), "reflect")
    return padded[..., : padded.shape[-2] - freq_extension, : padded.shape[-1] - time_extension]


def make_norm(norm: str, norm_params: Mapping[str, Any], channels: int) -> nn.Module:
    """FunCodec's per-convolution normalisation: GroupNorm for ``time_group_norm``, else none.

    Weight norm is not a module here: the checkpoint loader folds ``weight_g``/``weight_v``
    into plain weights.
    """
    if norm == "time_group_norm":
        params = dict(norm_params)
        return nn.GroupNorm(params.pop("num_groups", 1), channels, **params)
    return nn.Identity()


class NormConv(nn.Module):
    """A convolution and its normalisation (FunCodec's ``NormConv1d``/``NormConv2d``)."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, norm: str, norm_params: Mapping[str, Any]):
        super().__init__()
        self.conv = conv
        self.norm = make_norm(norm, norm_params, conv.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class NormConvTranspose(nn.Module):
    """A transposed convolution and its normalisation (FunCodec's ``NormConvTranspose2d``)."""

    def __init__(self, convtr: nn.ConvTranspose2d, norm: str, norm_params: Mapping[str, Any]):
        super().__init__()
        self.convtr = convtr
        self.norm = make_norm(norm, norm_params, convtr.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.convtr(x))


class PaddedConv1d(nn.Module):
    """``[B, C, T]`` convolution padded so the output has ceil(T / stride) frames (``SConv1d``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 dilation: int = 1, groups: int = 1, causal: bool = False, norm: str = "none",
                 norm_params: Mapping[str, Any] | None = None, pad_mode: str = "reflect"):
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation, groups=groups)
        self.conv = NormConv(conv, norm, norm_params or {})
        self.causal = causal
        self.pad_mode = pad_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv.conv
        kernel_size, stride, dilation = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
        padding_total = (kernel_size - 1) * dilation - (stride - 1)
        extra = extra_padding_for_full_windows(x.shape[-1], kernel_size, stride, padding_total)
        if self.causal:
            x = pad_time(x, padding_total, extra, self.pad_mode)
        else:
            right = padding_total // 2
            x = pad_time(x, padding_total - right, right + extra, self.pad_mode)
        return self.conv(x)


class PaddedConv2d(nn.Module):
    """``[B, C, F, T]`` convolution (``SConv2d``): frequency always padded symmetrically without
    extra padding; time padded as in :class:`PaddedConv1d` except that the extra padding goes
    to the left when not causal, as upstream does."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], *,
                 stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1), groups: int = 1,
                 causal: bool = False, norm: str = "none", norm_params: Mapping[str, Any] | None = None,
                 pad_mode: str = "reflect"):
        super().__init__()
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, dilation=dilation, groups=groups)
        self.conv = NormConv(conv, norm, norm_params or {})
        self.causal = causal
        self.pad_mode = pad_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv.conv
        (freq_kernel, time_kernel), (freq_stride, time_stride) = conv.kernel_size, conv.stride
        freq_dilation, time_dilation = conv.dilation
        freq_total = (freq_kernel - 1) * freq_dilation - (freq_stride - 1)
        time_total = (time_kernel - 1) * time_dilation - (time_stride - 1)
        extra = extra_padding_for_full_windows(x.shape[-1], time_kernel, time_stride, time_total)
        freq_after = freq_total // 2
        freq_padding = (freq_total - freq_after, freq_after)
        if self.causal:
            time_padding = (time_total, extra)
        else:
            time_after = time_total // 2
            time_padding = (time_total - time_after + extra, time_after)
        return self.conv(pad_freq_time(x, time_padding, freq_padding, self.pad_mode))


class TrimmedConvTranspose2d(nn.Module):
    """``[B, C, F, T]`` transposed convolution trimming ``kernel - stride`` per axis (``SConvTranspose2d``).

    Args:
        out_padding: ``((freq_left, freq_right), (time_left, time_right))`` samples kept back from
            the trim (FunCodec's ``last_out_padding`` on the last layer).
        trim_right_ratio: share of the time trim taken on the right, for causal models.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int], *,
                 stride: tuple[int, int], groups: int = 1, causal: bool = False,
                 norm: str = "none", norm_params: Mapping[str, Any] | None = None,
                 out_padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0)),
                 trim_right_ratio: float = 1.0):
        super().__init__()
        convtr = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, groups=groups)
        self.convtr = NormConvTranspose(convtr, norm, norm_params or {})
        self.causal = causal
        self.out_padding = out_padding
        self.trim_right_ratio = trim_right_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convtr = self.convtr.convtr
        freq_total = convtr.kernel_size[0] - convtr.stride[0]
        time_total = convtr.kernel_size[1] - convtr.stride[1]
        y = self.convtr(x)
        freq_right = freq_total // 2
        freq_left = freq_total - freq_right
        if self.causal:
            time_right = math.ceil(time_total * self.trim_right_ratio)
        else:
            time_right = time_total // 2
        time_left = time_total - time_right
        (keep_freq_left, keep_freq_right), (keep_time_left, keep_time_right) = self.out_padding
        trim_freq_left = max(freq_left - keep_freq_left, 0)
        trim_freq_right = max(freq_right - keep_freq_right, 0)
        trim_time_left = max(time_left - keep_time_left, 0)
        trim_time_right = max(time_right - keep_time_right, 0)
        return y[..., trim_freq_left: y.shape[-2] - trim_freq_right, trim_time_left: y.shape[-1] - trim_time_right]


class Snake(nn.Module):
    """x + sin²(αx)/α with a learnt α per channel (FunCodec's ``Snake1d``; any trailing axes)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(shape[0], shape[1], -1)
        x = x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)
        return x.reshape(shape)


def make_activation(name: str, params: Mapping[str, Any], channels: int) -> nn.Module:
    """An activation by FunCodec's name: ``snake`` or a ``torch.nn`` class built with ``params``.

    Raises:
        ValueError: ``params`` are not arguments of that activation.
    """
    if name.lower() == "snake":
        return Snake(channels)
    try:
        return getattr(nn, name)(**params)
    except TypeError as error:
        raise ValueError(f"activation {name} does not take the parameters {dict(params)}: {error}") from None


class BottleneckLSTM(nn.Module):
    """LSTM over ``[B, C, T]`` frames with an optional residual connection (FunCodec's ``SLSTM``)."""

    def __init__(self, channels: int, num_layers: int, skip: bool):
        super().__init__()
        self.skip = skip
        self.lstm = nn.LSTM(channels, channels, num_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(2, 0, 1)
        y, _ = self.lstm(x)
        if self.skip:
            y = y + x
        return y.permute(1, 2, 0)


class SqueezeFrequency(nn.Module):
    """``[B, C, 1, T]`` to ``[B, C, T]`` once the encoder has folded all frequency bins into channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(2)


class UnsqueezeFrequency(nn.Module):
    """``[B, C, T]`` to ``[B, C, 1, T]`` before the decoder unfolds frequency."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(2)
