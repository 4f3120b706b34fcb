"""FACodec's encoder: 16 kHz waveform to latents at the frame rate (upstream ``FACodecEncoder``)."""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.facodec.alias_free import AliasFreeSnakeBeta
from codecbench.codecs.facodec.blocks import EncoderBlock
from codecbench.codecs.facodec.config import FACodecEncoderConfig
from codecbench.codecs.facodec.layers import WNConv1d

_INPUT_KERNEL = 7
_OUTPUT_KERNEL = 3


class FACodecEncoder(nn.Module):
    """``[B, 1, N]`` waveform to ``[B, out_channels, T]`` latents.

    No padding is added: like upstream, ``T`` is whatever the strided convolutions give
    (:meth:`num_frames`; ``N / hop_length`` when ``N`` is a multiple of it).
    """

    def __init__(self, config: FACodecEncoderConfig):
        super().__init__()
        self.config = config
        blocks = len(config.up_ratios)
        self.upstream_names = {
            "input_conv": "block.0",
            **{f"blocks.{i}": f"block.{i + 1}" for i in range(blocks)},
            "output_activation": f"block.{blocks + 1}",
            "output_conv": f"block.{blocks + 2}",
        }
        self.input_conv = WNConv1d(1, config.ngf, _INPUT_KERNEL, padding=_INPUT_KERNEL // 2)
        self.blocks = nn.ModuleList(
            EncoderBlock(config.ngf * 2 ** (i + 1), stride) for i, stride in enumerate(config.up_ratios)
        )
        channels = config.ngf * 2**blocks
        self.output_activation = AliasFreeSnakeBeta(channels)
        self.output_conv = WNConv1d(channels, config.out_channels, _OUTPUT_KERNEL, padding=_OUTPUT_KERNEL // 2)

    def num_frames(self, num_samples: int) -> int:
        """Latent frames for ``num_samples`` of input: each block's strided convolution (kernel
        ``2s``, stride ``s``, padding ``s // 2 + s % 2``) maps ``L`` to
        ``(L + 2 * padding - 2s) // s + 1``; the other layers keep the length.

        For the published strides (2, 4, 5, 5) and ``N = 200 T + r`` that is ``T + 1`` when
        ``r >= 152`` and ``T`` otherwise: upstream neither rounds up nor down to whole frames.
        """
        length = num_samples
        for stride in self.config.up_ratios:
            padding = stride // 2 + stride % 2
            length = (length + 2 * padding - 2 * stride) // stride + 1
        return max(length, 0)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.dim() != 3 or waveform.shape[1] != 1:
            raise ValueError(f"expected a waveform [batch, 1, samples], got shape {tuple(waveform.shape)}")
        x = self.input_conv(waveform)
        for block in self.blocks:
            x = block(x)
        return self.output_conv(self.output_activation(x))
