"""The waveform generator shared by FACodec's decoder and redecoder.

Upstream's ``inference(x, speaker_embedding)``: the frame embeddings are layer-normalised over
channels (no learned affine), scaled and shifted by a linear map of the timbre vector, then
upsampled to a waveform by a convolutional stack ending in ``tanh``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codecbench.codecs.facodec.alias_free import AliasFreeSnakeBeta
from codecbench.codecs.facodec.blocks import DecoderBlock
from codecbench.codecs.facodec.layers import WNConv1d

_EDGE_KERNEL = 7
# Upstream's ``timbre_norm`` is ``nn.LayerNorm(in_channels, elementwise_affine=False)`` (eps 1e-5).
_TIMBRE_NORM_EPS = 1e-5


class TimbreConditionedGenerator(nn.Module):
    """Frame embeddings ``[B, C, T]`` and a timbre vector ``[B, C]`` to a waveform ``[B, 1, T * hop]``.

    Args:
        in_channels: width ``C`` of the embeddings and of the timbre vector.
        upsample_initial_channel: channels after the first convolution; each block halves them.
        up_ratios: upsampling stride of each block.
    """

    def __init__(self, in_channels: int, upsample_initial_channel: int, up_ratios: tuple[int, ...]):
        super().__init__()
        self.in_channels = in_channels
        # Upstream names these ``timbre_linear`` and ``model.N`` on the decoder itself.
        self.upstream_names = {
            "timbre_projection": "timbre_linear",
            "input_conv": "model.0",
            **{f"blocks.{i}": f"model.{i + 1}" for i in range(len(up_ratios))},
            "output_activation": f"model.{len(up_ratios) + 1}",
            "output_conv": f"model.{len(up_ratios) + 2}",
        }
        self.timbre_projection = nn.Linear(in_channels, 2 * in_channels)
        with torch.no_grad():
            self.timbre_projection.bias[:in_channels] = 1
            self.timbre_projection.bias[in_channels:] = 0
        self.input_conv = WNConv1d(in_channels, upsample_initial_channel, _EDGE_KERNEL, padding=_EDGE_KERNEL // 2)
        self.blocks = nn.ModuleList(
            DecoderBlock(upsample_initial_channel // 2**i, upsample_initial_channel // 2 ** (i + 1), stride)
            for i, stride in enumerate(up_ratios)
        )
        out_channels = upsample_initial_channel // 2 ** len(up_ratios)
        self.output_activation = AliasFreeSnakeBeta(out_channels)
        self.output_conv = WNConv1d(out_channels, 1, _EDGE_KERNEL, padding=_EDGE_KERNEL // 2)

    def forward(self, embedding: torch.Tensor, timbre: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.timbre_projection(timbre).unsqueeze(2).chunk(2, dim=1)  # [B, C, 1] each
        x = F.layer_norm(embedding.transpose(1, 2), (self.in_channels,), eps=_TIMBRE_NORM_EPS).transpose(1, 2)
        x = self.input_conv(x * gamma + beta)
        for block in self.blocks:
            x = block(x)
        return torch.tanh(self.output_conv(self.output_activation(x)))
