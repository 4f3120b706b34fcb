"""FreqCodec configuration: one frozen dataclass per part, validated when built.

Field names and defaults are FunCodec's constructor arguments, so a ``config.yaml`` that leaves
a field out builds what FunCodec builds; :meth:`FreqCodecConfig.from_upstream` reads that file.
Derived values (frame rate, hop, frequency bins) are properties.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Encoder-side domain transforms and the channels each gives the 2-D encoder.
ENCODER_DOMAIN_CHANNELS: dict[str, int] = {"stft": 2, "mag": 1, "mag_angle": 2, "mag_phase": 3}
#: Decoder-side domain inversions and the channels each needs from the 2-D decoder.
DECODER_DOMAIN_CHANNELS: dict[str, int] = {"stft": 2, "mag_angle": 2, "mag_phase": 3}
#: Activations FunCodec takes by ``torch.nn`` name (plus its own ``snake``); all are stateless
#: except snake, whose per-channel ``alpha`` is a parameter.
ACTIVATIONS = frozenset({"ELU", "ReLU", "LeakyReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "snake"})
CONV_NORMS = frozenset({"none", "weight_norm", "time_group_norm"})
PAD_MODES = frozenset({"reflect", "constant", "replicate", "circular"})
GROUP_NORM_PARAMS = frozenset({"num_groups", "eps", "affine"})

@dataclass(frozen=True, kw_only=True)
class SEANet2dConfig:
    """Fields FunCodec's ``SEANetEncoder2d`` and ``SEANetDecoder2d`` share (upstream names and defaults).

    Args:
        n_filters: channels after the first convolution; each stage doubles (encoder) or
            halves (decoder) them.
        ratios: ``(freq_ratio, time_ratio)`` per stage in decoder order (the encoder walks
            them reversed); kernels are twice the ratio, strides the ratio.
        conv_group_ratio: > 0 makes the residual and down-sampling convolutions grouped, with
            ``channels // 2 // conv_group_ratio`` groups (the "gr" in FreqCodec model names).
        seq_model: ``"lstm"`` or ``None`` (no sequence model at the bottleneck).
    """

    n_filters: int = 32
    n_residual_layers: int = 1
    ratios: tuple[tuple[int, int], ...] = ((4, 1), (4, 1), (4, 2), (4, 1))
    activation: str = "ELU"
    activation_params: Mapping[str, Any] = field(default_factory=lambda: {"alpha": 1.0})
    norm: str = "weight_norm"
    norm_params: Mapping[str, Any] = field(default_factory=dict)
    kernel_size: tuple[int, int] = (7, 7)
    last_kernel_size: int = 7
    residual_kernel_size: int = 3
    dilation_base: int = 2
    causal: bool = False
    pad_mode: str = "reflect"
    true_skip: bool = False
    compress: int = 2
    seq_model: str | None = "lstm"
    seq_layer_num: int = 2
    res_seq: bool = True
    conv_group_ratio: int = -1

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not supported; choose one of {sorted(ACTIVATIONS)}")
        if self.norm not in CONV_NORMS:
            raise ValueError(f"norm {self.norm!r} is not supported; choose one of {sorted(CONV_NORMS)}")
        if self.norm == "time_group_norm" and self.causal:
            raise ValueError("norm 'time_group_norm' cannot be causal (FunCodec refuses it too)")
        unknown = set(self.norm_params) - GROUP_NORM_PARAMS
        if unknown:
            raise ValueError(f"norm_params {sorted(unknown)} are not supported; allowed: {sorted(GROUP_NORM_PARAMS)}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode {self.pad_mode!r} is not supported; choose one of {sorted(PAD_MODES)}")
        if self.seq_model not in ("lstm", None):
            raise ValueError(f"seq_model {self.seq_model!r} is not supported; choose 'lstm' or none")
        for name in ("n_filters", "n_residual_layers", "residual_kernel_size", "dilation_base",
                     "compress", "last_kernel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seq_model == "lstm" and self.seq_layer_num < 1:
            raise ValueError(f"seq_layer_num must be >= 1 with an LSTM, got {self.seq_layer_num}")

    @property
    def bottleneck_channels(self) -> int:
        """Channels at the LSTM, between the 2-D stages and the code projection."""
        return self.n_filters * 2 ** len(self.ratios)

    @property
    def time_stride(self) -> int:
        """STFT frames per code frame."""
        return math.prod(time for _, time in self.ratios)

    def groups(self, channels: int, group_ratio: int) -> int:
        """FunCodec's group count for a grouped convolution over ``channels``."""
        return channels // 2 // group_ratio if group_ratio > 0 else 1


@dataclass(frozen=True, kw_only=True)
class Encoder2dConfig(SEANet2dConfig):
    """``SEANetEncoder2d``: spectral channels in, ``dimension``-wide latent frames out."""

    input_channels: int
    dimension: int = 128


@dataclass(frozen=True, kw_only=True)
class Decoder2dConfig(SEANet2dConfig):
    """``SEANetDecoder2d``: latent frames in, ``output_channels`` spectral planes out.

    Args:
        last_out_padding: ``((freq_left, freq_right), (time_left, time_right))`` samples the last
            transposed convolution keeps instead of trimming (upstream's default restores the odd
            ``n_fft // 2 + 1`` frequency bins).
    """

    input_dimension: int
    output_channels: int = 1
    final_activation: str | None = None
    final_activation_params: Mapping[str, Any] = field(default_factory=dict)
    trim_right_ratio: float = 1.0
    last_out_padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 1), (0, 0))
    tr_conv_group_ratio: int = -1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.final_activation is not None and self.final_activation not in ACTIVATIONS - {"snake"}:
            raise ValueError(
                f"final_activation {self.final_activation!r} is not supported; "
                f"choose one of {sorted(ACTIVATIONS - {'snake'})} or none"
            )
        if not 0.0 <= self.trim_right_ratio <= 1.0:
            raise ValueError(f"trim_right_ratio must be in [0, 1], got {self.trim_right_ratio}")
        if self.trim_right_ratio != 1.0 and not self.causal:
            raise ValueError("trim_right_ratio != 1 only makes sense for a causal decoder")


@dataclass(frozen=True, kw_only=True)
class QuantizerConfig:
    """FunCodec's ``CostumeQuantizer``: residual VQ over the encoder's latent frames.

    Args:
        code_dimension: ``codec_dim``; when it differs from ``input_dimension`` the latent is
            projected to it (and back) by linear layers.
        code_range: ``codec_range``; when set the projected latent is ``tanh`` times this.
    """

    input_dimension: int
    codebook_size: int = 1024
    num_quantizers: int = 8
    code_dimension: int | None = None
    code_range: float | None = None

    def __post_init__(self) -> None:
        if self.codebook_size < 2:
            raise ValueError(f"codebook_size must be >= 2, got {self.codebook_size}")
        if self.num_quantizers < 1:
            raise ValueError(f"num_quantizers must be >= 1, got {self.num_quantizers}")

    @property
    def codebook_dimension(self) -> int:
        return self.code_dimension if self.code_dimension is not None else self.input_dimension


@dataclass(frozen=True, kw_only=True)
class SpectralConfig:
    """The STFT domain transform (torchaudio ``Spectrogram``/``InverseSpectrogram`` defaults:
    Hann window of ``n_fft``, centred frames with reflect padding, no normalisation)."""

    encoder_domain: str
    decoder_domain: str
    n_fft: int = 512
    hop_length: int = 160

    def __post_init__(self) -> None:
        if self.encoder_domain not in ENCODER_DOMAIN_CHANNELS:
            raise ValueError(
                f"codec_domain[0] {self.encoder_domain!r} is not a supported encoder domain; "
                f"choose one of {sorted(ENCODER_DOMAIN_CHANNELS)}"
            )
        if self.decoder_domain not in DECODER_DOMAIN_CHANNELS:
            raise ValueError(
                f"codec_domain[1] {self.decoder_domain!r} is not a supported decoder domain; "
                f"choose one of {sorted(DECODER_DOMAIN_CHANNELS)}"
            )
        if self.n_fft < 2 or self.hop_length < 1 or self.hop_length > self.n_fft:
            raise ValueError(
                f"domain_conf needs n_fft >= 2 and 1 <= hop_length <= n_fft, got {self.n_fft}/{self.hop_length}"
            )

    @property
    def frequency_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def min_input_samples(self) -> int:
        """Shortest input the centred (reflect-padded) STFT accepts."""
        return self.n_fft // 2 + 1


@dataclass(frozen=True, kw_only=True)
class FreqCodecConfig:
    """A whole FreqCodec model: domain transform, 2-D encoder, residual VQ, 2-D decoder.

    Args:
        sample_rate_hz: ``target_sample_hz``; the rate the model encodes.
        audio_normalize: divide the input by its RMS before encoding and multiply the decoder
            output back (the scale travels with the codes).
    """

    sample_rate_hz: int = 24_000
    audio_normalize: bool = False
    spectral: SpectralConfig
    encoder: Encoder2dConfig
    quantizer: QuantizerConfig
    decoder: Decoder2dConfig

    def __post_init__(self) -> None:
        domain_in = ENCODER_DOMAIN_CHANNELS[self.spectral.encoder_domain]
        if self.encoder.input_channels != domain_in:
            raise ValueError(
                f"input_size {self.encoder.input_channels} does not match codec_domain "
                f"{self.spectral.encoder_domain!r}, which gives {domain_in} channels to the 2-D encoder"
            )
        domain_out = DECODER_DOMAIN_CHANNELS[self.spectral.decoder_domain]
        if self.decoder.output_channels != domain_out:
            raise ValueError(
                f"decoder_conf.channels {self.decoder.output_channels} does not match codec_domain "
                f"{self.spectral.decoder_domain!r}, which needs {domain_out} channels"
            )
        if self.quantizer.input_dimension != self.encoder.dimension:
            raise ValueError("the quantizer's input dimension must be the encoder's dimension")
        if self.decoder.input_dimension != self.encoder.dimension:
            raise ValueError("the decoder's input dimension must be the encoder's dimension")
        bins_at_bottleneck = encoder_frequency_bins(self.encoder, self.spectral.frequency_bins)
        if bins_at_bottleneck != 1:
            raise ValueError(
                f"encoder_conf.ratios {[list(r) for r in self.encoder.ratios]} reduce "
                f"{self.spectral.frequency_bins} frequency bins to {bins_at_bottleneck}, not 1"
            )
        bins_out = decoder_frequency_bins(self.decoder)
        if bins_out != self.spectral.frequency_bins:
            raise ValueError(
                f"decoder_conf (ratios {[list(r) for r in self.decoder.ratios]}, last_out_padding "
                f"{[list(p) for p in self.decoder.last_out_padding]}) rebuilds {bins_out} frequency bins, "
                f"but n_fft {self.spectral.n_fft} needs {self.spectral.frequency_bins}"
            )
        if self.encoder.time_stride != self.decoder.time_stride:
            raise ValueError(
                f"encoder_conf.ratios {[list(r) for r in self.encoder.ratios]} and decoder_conf.ratios "
                f"{[list(r) for r in self.decoder.ratios]} have different time ratios (x{self.encoder.time_stride} "
                f"and x{self.decoder.time_stride} in all): the decoder would not rebuild the encoder's frames; "
                "give both the same time ratios"
            )
        check_layer_channels(self.encoder, self.decoder)

    @property
    def hop_length_samples(self) -> int:
        """Input samples per code frame."""
        return self.spectral.hop_length * self.encoder.time_stride

    @property
    def frame_rate_hz(self) -> float:
        """Code frames per second."""
        return self.sample_rate_hz / self.hop_length_samples

    def num_frames(self, num_samples: int) -> int:
        """Code frames for ``num_samples`` of input: ceil((1 + n // hop) / time stride)."""
        stft_frames = 1 + num_samples // self.spectral.hop_length
        return -(-stft_frames // self.encoder.time_stride)

    @classmethod
    def from_upstream(cls, path: str | Path) -> FreqCodecConfig:
        """Read FunCodec's ``config.yaml`` (see :mod:`codecbench.codecs.freqcodec.upstream_config`).

        Raises:
            ValueError: not a FreqCodec config, or a field this implementation does not support
                (the message names the file and the field).
        """
        from codecbench.codecs.freqcodec.upstream_config import read_funcodec_config

        return read_funcodec_config(path)


def encoder_frequency_bins(encoder: Encoder2dConfig, bins: int) -> int:
    """Frequency bins left after the encoder's down-sampling convolutions.

    A kernel of 2r with stride r and r bins of padding keeps floor(bins / r); FunCodec adds no
    extra frequency padding.
    """
    for freq_ratio, _ in reversed(encoder.ratios):
        bins = bins // freq_ratio
    return bins


def decoder_frequency_bins(decoder: Decoder2dConfig) -> int:
    """Frequency bins the decoder's transposed convolutions rebuild from one."""
    bins = 1
    last = len(decoder.ratios) - 1
    for index, (freq_ratio, _) in enumerate(decoder.ratios):
        kept_left, kept_right = decoder.last_out_padding[0] if index == last else (0, 0)
        trim_right = freq_ratio // 2
        trim_left = freq_ratio - trim_right
        bins = (bins - 1) * freq_ratio + 2 * freq_ratio
        bins -= max(trim_left - kept_left, 0) + max(trim_right - kept_right, 0)
    return bins


def check_layer_channels(encoder: Encoder2dConfig, decoder: Decoder2dConfig) -> None:
    """Fail early, naming the layer and the field, where a convolution's group count or its
    GroupNorm's ``norm_params.num_groups`` does not divide its channels (torch would refuse it
    with a bare error while building the model)."""
    for section, config, where, in_channels, out_channels, groups in _convolutions(encoder, decoder):
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{where}: {groups} groups do not divide {in_channels} -> {out_channels} channels; "
                "lower conv_group_ratio / tr_conv_group_ratio or raise n_filters"
            )
        if config.norm == "time_group_norm":
            num_groups = config.norm_params.get("num_groups", 1)
            if not isinstance(num_groups, int) or num_groups < 1 or out_channels % num_groups:
                raise ValueError(
                    f"{section}.norm_params.num_groups {num_groups!r} does not divide the {out_channels} output "
                    f"channels of the {where}: GroupNorm needs a divisor of every layer's channels "
                    "(FunCodec's models use 1)"
                )


def _convolutions(
    encoder: Encoder2dConfig, decoder: Decoder2dConfig
) -> Iterator[tuple[str, SEANet2dConfig, str, int, int, int]]:
    """Every convolution of the encoder and decoder, in layer order:
    ``(config section, its config, layer name, in channels, out channels, groups)``."""

    def residual(side: str, stage: int, dim: int, config: SEANet2dConfig):
        hidden = dim // config.compress
        ratio = config.conv_group_ratio
        yield f"{side} stage {stage} residual conv 1", dim, hidden, config.groups(min(dim, hidden), ratio)
        yield f"{side} stage {stage} residual conv 2", hidden, dim, config.groups(min(dim, hidden), ratio)
        if not config.true_skip:
            yield f"{side} stage {stage} shortcut", dim, dim, config.groups(dim, ratio)

    def encoder_layers():
        channels = encoder.n_filters
        yield "encoder first conv", encoder.input_channels, channels, 1
        for stage in range(len(encoder.ratios)):
            yield from residual("encoder", stage, channels, encoder)
            yield (f"encoder stage {stage} down-sampling", channels, 2 * channels,
                   encoder.groups(channels, encoder.conv_group_ratio))
            channels *= 2
        yield "encoder last conv", channels, encoder.dimension, 1

    def decoder_layers():
        channels = decoder.bottleneck_channels
        yield "decoder first conv", decoder.input_dimension, channels, 1
        for stage in range(len(decoder.ratios)):
            yield (f"decoder stage {stage} up-sampling", channels, channels // 2,
                   decoder.groups(channels, decoder.tr_conv_group_ratio))
            channels //= 2
            yield from residual("decoder", stage, channels, decoder)
        yield "decoder last conv", channels, decoder.output_channels, 1

    for layer in encoder_layers():
        yield ("encoder_conf", encoder, *layer)
    for layer in decoder_layers():
        yield ("decoder_conf", decoder, *layer)
