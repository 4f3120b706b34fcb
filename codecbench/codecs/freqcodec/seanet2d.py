"""FreqCodec's 2-D SEANet encoder and decoder.

The encoder folds the spectrogram's frequency axis into channels stage by stage (kernel 2r,
stride r per axis, channels doubling) until one bin is left, then runs an LSTM over time and
projects to the code dimension. The decoder mirrors it with transposed convolutions. Layer
order matches FunCodec's ``SEANetEncoder2d``/``SEANetDecoder2d`` so checkpoint keys
(``encoder.model.<index>...``) line up one to one.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.freqcodec.config import Decoder2dConfig, Encoder2dConfig, SEANet2dConfig
from codecbench.codecs.freqcodec.layers import (
    BottleneckLSTM,
    PaddedConv1d,
    PaddedConv2d,
    SqueezeFrequency,
    TrimmedConvTranspose2d,
    UnsqueezeFrequency,
    make_activation,
)


class ResidualBlock2d(nn.Module):
    """Activation, k x k conv to ``channels // compress``, activation, 1 x 1 conv back, plus a shortcut.

    Args:
        channels: input and output channels.
        time_dilation: dilation of the k x k convolution along time (frequency is never dilated).
    """

    def __init__(self, config: SEANet2dConfig, channels: int, time_dilation: int):
        super().__init__()
        hidden = channels // config.compress
        groups = config.groups(min(channels, hidden), config.conv_group_ratio)
        conv_args = dict(causal=config.causal, norm=config.norm, norm_params=config.norm_params,
                         pad_mode=config.pad_mode)
        kernel = config.residual_kernel_size
        self.block = nn.Sequential(
            make_activation(config.activation, config.activation_params, channels),
            PaddedConv2d(channels, hidden, (kernel, kernel), dilation=(1, time_dilation), groups=groups, **conv_args),
            make_activation(config.activation, config.activation_params, hidden),
            PaddedConv2d(hidden, channels, (1, 1), groups=groups, **conv_args),
        )
        self.shortcut: nn.Module
        if config.true_skip:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = PaddedConv2d(channels, channels, (1, 1),
                                         groups=config.groups(channels, config.conv_group_ratio), **conv_args)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.block(x)


def _residual_stack(config: SEANet2dConfig, channels: int) -> list[nn.Module]:
    return [ResidualBlock2d(config, channels, config.dilation_base ** j) for j in range(config.n_residual_layers)]


class SEANetEncoder2d(nn.Module):
    """Spectral planes ``[B, C, F, T]`` to latent frames ``[B, T / time stride, dimension]``."""

    def __init__(self, config: Encoder2dConfig):
        super().__init__()
        conv_args = dict(causal=config.causal, norm=config.norm, norm_params=config.norm_params,
                         pad_mode=config.pad_mode)
        channels = config.n_filters
        layers: list[nn.Module] = [PaddedConv2d(config.input_channels, channels, config.kernel_size, **conv_args)]
        for freq_ratio, time_ratio in reversed(config.ratios):
            layers += _residual_stack(config, channels)
            layers += [
                make_activation(config.activation, config.activation_params, channels),
                PaddedConv2d(channels, 2 * channels, (2 * freq_ratio, 2 * time_ratio), stride=(freq_ratio, time_ratio),
                             groups=config.groups(channels, config.conv_group_ratio), **conv_args),
            ]
            channels *= 2
        layers.append(SqueezeFrequency())
        if config.seq_model == "lstm":
            layers.append(BottleneckLSTM(channels, config.seq_layer_num, config.res_seq))
        layers += [
            make_activation(config.activation, config.activation_params, channels),
            PaddedConv1d(channels, config.dimension, config.last_kernel_size, **conv_args),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, spectral: torch.Tensor) -> torch.Tensor:
        """``[B, C, F, T]`` to ``[B, T', D]``."""
        return self.model(spectral).permute(0, 2, 1)


class SEANetDecoder2d(nn.Module):
    """Latent frames ``[B, T', D]`` to spectral planes ``[B, C, F, T' x time stride]``."""

    def __init__(self, config: Decoder2dConfig):
        super().__init__()
        conv_args = dict(causal=config.causal, norm=config.norm, norm_params=config.norm_params,
                         pad_mode=config.pad_mode)
        channels = config.bottleneck_channels
        layers: list[nn.Module] = [
            PaddedConv1d(config.input_dimension, channels, config.kernel_size[0], **conv_args)
        ]
        if config.seq_model == "lstm":
            layers.append(BottleneckLSTM(channels, config.seq_layer_num, config.res_seq))
        layers.append(UnsqueezeFrequency())
        last = len(config.ratios) - 1
        for index, (freq_ratio, time_ratio) in enumerate(config.ratios):
            layers += [
                make_activation(config.activation, config.activation_params, channels),
                TrimmedConvTranspose2d(
                    channels, channels // 2, (2 * freq_ratio, 2 * time_ratio), stride=(freq_ratio, time_ratio),
                    groups=config.groups(channels, config.tr_conv_group_ratio), causal=config.causal,
                    norm=config.norm, norm_params=config.norm_params,
                    out_padding=config.last_out_padding if index == last else ((0, 0), (0, 0)),
                    trim_right_ratio=config.trim_right_ratio,
                ),
            ]
            channels //= 2
            layers += _residual_stack(config, channels)
        layers += [
            make_activation(config.activation, config.activation_params, channels),
            PaddedConv2d(channels, config.output_channels, (config.last_kernel_size, config.last_kernel_size),
                         **conv_args),
        ]
        if config.final_activation is not None:
            layers.append(
                make_activation(config.final_activation, config.final_activation_params, config.output_channels)
            )
        self.model = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """``[B, T', D]`` to ``[B, C, F, T]``."""
        return self.model(latent.permute(0, 2, 1))
