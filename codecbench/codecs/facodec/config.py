"""FACodec's hyperparameters, named as Amphion's constructor arguments.

A model directory's ``config.json`` is ``{"encoder": {...}, "decoder": {...}, "redecoder": {...}}``
whose keys are the arguments of Amphion's ``FACodecEncoder``, ``FACodecDecoder`` and
``FACodecRedecoder`` (``models/codec/ns3_codec/facodec.py``), plus the sizes upstream hard-codes
inside those classes (the transformer encoders). Every default is the published model
(``amphion/naturalspeech3_facodec``), so a directory without ``config.json`` is that model.

Upstream's ``codebook_size_*`` arguments are log2 values: 10 means 1024 entries. The names
are kept because ``config.json`` mirrors upstream; the entry counts are properties.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# FACodec was trained on 16 kHz speech; no upstream argument sets the rate.
SAMPLE_RATE_HZ = 16_000

# A model directory holds Amphion's state dicts under these names (as amphion/naturalspeech3_facodec
# does), the redecoder only for voice conversion, and optionally the configuration below.
ENCODER_FILENAME = "ns3_facodec_encoder.bin"
DECODER_FILENAME = "ns3_facodec_decoder.bin"
REDECODER_FILENAME = "ns3_facodec_redecoder.bin"
CONFIG_FILENAME = "config.json"


def _positive(owner: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{owner}.{name} must be a positive integer, not {value!r}")


def _count(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{owner}.{name} must be an integer >= 0, not {value!r}")


def _booleans(owner: str, **values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, bool):  # JSON "false" is a string, and a true one
            raise ValueError(f"{owner}.{name} must be true or false, not {value!r}")


def _ratios(owner: str, name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value or any(
        not isinstance(r, int) or isinstance(r, bool) or r <= 0 for r in value
    ):
        raise ValueError(f"{owner}.{name} must be a non-empty list of positive integers, not {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class TransformerEncoderConfig:
    """Sizes of upstream's ``TransformerEncoder``, which FACodec builds with literal arguments.

    Args:
        encoder_layer: number of layers (upstream: 4).
        encoder_hidden: model width; must equal the width of the latents it reads.
        encoder_head: attention heads; must divide ``encoder_hidden``.
        conv_filter_size: hidden width of the convolutional feed-forward block.
        conv_kernel_size: kernel of its first (1-D convolution) layer.
        max_len: rows of the sinusoidal table (upstream ``PositionalEncoding``'s default). Upstream
            indexes it by batch position; codecbench gives every item row 0 (see ``transformer.py``),
            so it bounds neither the batch size nor the clip length.
    """

    encoder_layer: int = 4
    encoder_hidden: int = 256
    encoder_head: int = 4
    conv_filter_size: int = 1024
    conv_kernel_size: int = 5
    max_len: int = 5000

    def __post_init__(self) -> None:
        _positive(
            "transformer encoder",
            encoder_layer=self.encoder_layer,
            encoder_hidden=self.encoder_hidden,
            encoder_head=self.encoder_head,
            conv_filter_size=self.conv_filter_size,
            conv_kernel_size=self.conv_kernel_size,
            max_len=self.max_len,
        )
        if self.encoder_hidden % self.encoder_head:
            raise ValueError(
                f"transformer encoder: encoder_head={self.encoder_head} must divide "
                f"encoder_hidden={self.encoder_hidden}"
            )
        if self.encoder_hidden % 2:
            raise ValueError(f"transformer encoder: encoder_hidden must be even, not {self.encoder_hidden}")


@dataclass(frozen=True)
class FACodecEncoderConfig:
    """Arguments of upstream ``FACodecEncoder`` (waveform to latents).

    Args:
        ngf: channels after the first convolution; each block doubles them.
        up_ratios: downsampling stride of each block; their product is the hop length.
        out_channels: width of the latents.
    """

    ngf: int = 32
    up_ratios: tuple[int, ...] = (2, 4, 5, 5)
    out_channels: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_ratios", _ratios("encoder", "up_ratios", self.up_ratios))
        _positive("encoder", ngf=self.ngf, out_channels=self.out_channels)

    @property
    def hop_length(self) -> int:
        return math.prod(self.up_ratios)


class _GeneratorSizes:
    """Derived sizes shared by the decoder and redecoder configs (both have the fields used here)."""

    up_ratios: tuple[int, ...]
    codebook_size_prosody: int
    codebook_size_content: int
    codebook_size_residual: int

    @property
    def hop_length(self) -> int:
        return math.prod(self.up_ratios)

    @property
    def codebook_entries(self) -> tuple[int, int, int]:
        """Entries per codebook for prosody, content and residual."""
        return (
            2**self.codebook_size_prosody,
            2**self.codebook_size_content,
            2**self.codebook_size_residual,
        )


@dataclass(frozen=True)
class FACodecDecoderConfig(_GeneratorSizes):
    """Arguments of upstream ``FACodecDecoder`` that shape the inference model.

    The decoder checkpoint also holds the quantizers and the timbre encoder, so encoding needs it.

    Args:
        in_channels: width of the latents (encoder ``out_channels``).
        upsample_initial_channel: channels of the generator's first convolution; each block halves them.
        ngf: stored by upstream and unused.
        up_ratios: upsampling stride of each generator block.
        vq_num_q_p, vq_num_q_c, vq_num_q_r: codebooks for prosody, content and residual detail.
        vq_dim: width the quantizers read and write (must equal ``in_channels``).
        codebook_dim: width of the factorized codebooks (latents are projected down to it).
        codebook_size_prosody, codebook_size_content, codebook_size_residual: log2 of the
            number of entries per codebook (upstream's convention).
        use_gr_*: which training-only gradient-reversal heads the checkpoint carries; they are
            skipped when loading, and this says which ones to expect.
        timbre_encoder: sizes of the transformer that produces the timbre vector.
    """

    in_channels: int = 256
    upsample_initial_channel: int = 1024
    ngf: int = 32
    up_ratios: tuple[int, ...] = (5, 5, 4, 2)
    vq_num_q_c: int = 2
    vq_num_q_p: int = 1
    vq_num_q_r: int = 3
    vq_dim: int = 256
    codebook_dim: int = 8
    codebook_size_prosody: int = 10
    codebook_size_content: int = 10
    codebook_size_residual: int = 10
    use_gr_content_f0: bool = False
    use_gr_prosody_phone: bool = False
    use_gr_residual_f0: bool = True
    use_gr_residual_phone: bool = True
    use_gr_x_timbre: bool = True
    timbre_encoder: TransformerEncoderConfig = field(default_factory=TransformerEncoderConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_ratios", _ratios("decoder", "up_ratios", self.up_ratios))
        _positive(
            "decoder",
            in_channels=self.in_channels,
            upsample_initial_channel=self.upsample_initial_channel,
            ngf=self.ngf,
            vq_num_q_c=self.vq_num_q_c,
            vq_num_q_p=self.vq_num_q_p,
            vq_dim=self.vq_dim,
            codebook_dim=self.codebook_dim,
            codebook_size_prosody=self.codebook_size_prosody,
            codebook_size_content=self.codebook_size_content,
            codebook_size_residual=self.codebook_size_residual,
        )
        _count("decoder", "vq_num_q_r", self.vq_num_q_r)
        _booleans(
            "decoder",
            use_gr_content_f0=self.use_gr_content_f0,
            use_gr_prosody_phone=self.use_gr_prosody_phone,
            use_gr_residual_f0=self.use_gr_residual_f0,
            use_gr_residual_phone=self.use_gr_residual_phone,
            use_gr_x_timbre=self.use_gr_x_timbre,
        )
        _check_generator("decoder", self.in_channels, self.vq_dim, self.upsample_initial_channel, self.up_ratios)
        if self.timbre_encoder.encoder_hidden != self.in_channels:
            raise ValueError(
                f"decoder.timbre_encoder.encoder_hidden ({self.timbre_encoder.encoder_hidden}) must "
                f"equal decoder.in_channels ({self.in_channels}): it reads the latents"
            )


@dataclass(frozen=True)
class FACodecRedecoderConfig(_GeneratorSizes):
    """Arguments of upstream ``FACodecRedecoder`` (codes + a timbre vector to speech; voice conversion).

    Args:
        in_channels, upsample_initial_channel, up_ratios: as for the decoder's generator
            (the published redecoder starts at 1280 channels).
        vq_num_q_p, vq_num_q_c, vq_num_q_r: codebooks per attribute, as in the decoder.
        vq_dim: width of its code embeddings (must equal ``in_channels``).
        codebook_size_*: log2 of the entries per codebook, as in the decoder.
        timbre_cond_prosody_enc: sizes of the transformer that conditions prosody on timbre.
    """

    in_channels: int = 256
    upsample_initial_channel: int = 1280
    up_ratios: tuple[int, ...] = (5, 5, 4, 2)
    vq_num_q_c: int = 2
    vq_num_q_p: int = 1
    vq_num_q_r: int = 3
    vq_dim: int = 256
    codebook_size_prosody: int = 10
    codebook_size_content: int = 10
    codebook_size_residual: int = 10
    timbre_cond_prosody_enc: TransformerEncoderConfig = field(default_factory=TransformerEncoderConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "up_ratios", _ratios("redecoder", "up_ratios", self.up_ratios))
        _positive(
            "redecoder",
            in_channels=self.in_channels,
            upsample_initial_channel=self.upsample_initial_channel,
            vq_num_q_c=self.vq_num_q_c,
            vq_num_q_p=self.vq_num_q_p,
            vq_dim=self.vq_dim,
            codebook_size_prosody=self.codebook_size_prosody,
            codebook_size_content=self.codebook_size_content,
            codebook_size_residual=self.codebook_size_residual,
        )
        _count("redecoder", "vq_num_q_r", self.vq_num_q_r)
        _check_generator("redecoder", self.in_channels, self.vq_dim, self.upsample_initial_channel, self.up_ratios)
        if self.timbre_cond_prosody_enc.encoder_hidden != self.vq_dim:
            raise ValueError(
                f"redecoder.timbre_cond_prosody_enc.encoder_hidden ({self.timbre_cond_prosody_enc.encoder_hidden}) "
                f"must equal redecoder.vq_dim ({self.vq_dim})"
            )


def _check_generator(owner: str, in_channels: int, vq_dim: int, initial: int, up_ratios: tuple[int, ...]) -> None:
    if vq_dim != in_channels:
        raise ValueError(f"{owner}.vq_dim ({vq_dim}) must equal {owner}.in_channels ({in_channels})")
    if initial % 2 ** len(up_ratios):
        raise ValueError(
            f"{owner}.upsample_initial_channel ({initial}) must be divisible by 2**{len(up_ratios)} "
            f"(each of the {len(up_ratios)} up_ratios halves the channels)"
        )


# Upstream arguments that only matter for training; accepted in config.json and ignored.
_TRAINING_ONLY_ARGUMENTS = {
    "encoder": frozenset(),
    "decoder": frozenset(
        {
            "vq_commit_weight",
            "vq_weight_init",
            "vq_full_commit_loss",
            "quantizer_dropout",
            "dropout_type",
            "use_random_mask_residual",
            "prob_random_mask_residual",
        }
    ),
    "redecoder": frozenset(),
}
_TRANSFORMER_FIELDS = {"decoder": "timbre_encoder", "redecoder": "timbre_cond_prosody_enc"}


def _from_section(section: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"config.json: {section!r} must be an object, not {type(values).__name__}")
    allowed = {f.name for f in fields(cls)}
    unknown = set(values) - allowed - _TRAINING_ONLY_ARGUMENTS[section]
    if unknown:
        raise ValueError(
            f"config.json: unknown {section} key(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    kwargs = {k: v for k, v in values.items() if k in allowed}
    nested = _TRANSFORMER_FIELDS.get(section)
    if nested in kwargs:
        sub = kwargs[nested]
        if not isinstance(sub, dict):
            raise ValueError(f"config.json: {section}.{nested} must be an object")
        sub_allowed = {f.name for f in fields(TransformerEncoderConfig)}
        if set(sub) - sub_allowed:
            raise ValueError(
                f"config.json: unknown {section}.{nested} key(s) {', '.join(sorted(set(sub) - sub_allowed))}; "
                f"allowed: {', '.join(sorted(sub_allowed))}"
            )
        kwargs[nested] = TransformerEncoderConfig(**sub)
    return cls(**kwargs)


@dataclass(frozen=True)
class FACodecConfig:
    """The three FACodec networks together, checked against each other."""

    encoder: FACodecEncoderConfig = field(default_factory=FACodecEncoderConfig)
    decoder: FACodecDecoderConfig = field(default_factory=FACodecDecoderConfig)
    redecoder: FACodecRedecoderConfig = field(default_factory=FACodecRedecoderConfig)

    def __post_init__(self) -> None:
        if self.encoder.out_channels != self.decoder.in_channels:
            raise ValueError(
                f"encoder.out_channels ({self.encoder.out_channels}) must equal "
                f"decoder.in_channels ({self.decoder.in_channels})"
            )
        hops = {self.encoder.hop_length, self.decoder.hop_length, self.redecoder.hop_length}
        if len(hops) != 1:
            raise ValueError(
                "the product of up_ratios (the hop length) must be the same for encoder, decoder and "
                f"redecoder, not {self.encoder.hop_length}, {self.decoder.hop_length}, {self.redecoder.hop_length}"
            )
        for name in ("vq_num_q_p", "vq_num_q_c", "vq_num_q_r", "vq_dim", "codebook_size_prosody",
                     "codebook_size_content", "codebook_size_residual"):
            if getattr(self.decoder, name) != getattr(self.redecoder, name):
                raise ValueError(
                    f"decoder.{name} ({getattr(self.decoder, name)}) and redecoder.{name} "
                    f"({getattr(self.redecoder, name)}) must match: the redecoder reads the decoder's codes"
                )

    @property
    def sample_rate_hz(self) -> int:
        return SAMPLE_RATE_HZ

    @property
    def hop_length(self) -> int:
        """Samples per code frame."""
        return self.encoder.hop_length

    @property
    def frame_rate_hz(self) -> float:
        return SAMPLE_RATE_HZ / self.hop_length

    @property
    def timbre_dim(self) -> int:
        return self.decoder.in_channels

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FACodecConfig:
        """Build from ``{"encoder": {...}, "decoder": {...}, "redecoder": {...}}`` (each optional)."""
        if not isinstance(values, dict):
            raise ValueError(f"config.json must hold an object, not {type(values).__name__}")
        unknown = set(values) - {"encoder", "decoder", "redecoder"}
        if unknown:
            raise ValueError(
                f"config.json: unknown section(s) {', '.join(sorted(unknown))}; allowed: encoder, decoder, redecoder"
            )
        return cls(
            encoder=_from_section("encoder", FACodecEncoderConfig, values.get("encoder", {})),
            decoder=_from_section("decoder", FACodecDecoderConfig, values.get("decoder", {})),
            redecoder=_from_section("redecoder", FACodecRedecoderConfig, values.get("redecoder", {})),
        )

    @classmethod
    def from_json_file(cls, path: Path) -> FACodecConfig:
        """Read a model directory's ``config.json``.

        Raises:
            ValueError: the file is not UTF-8 JSON, or its values are not a FACodec configuration;
                the message names the file.
        """
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not valid UTF-8 JSON ({error}); fix or delete it") from None
        try:
            return cls.from_dict(values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` form (lists for ratios)."""
        out = {"encoder": asdict(self.encoder), "decoder": asdict(self.decoder), "redecoder": asdict(self.redecoder)}
        for section in out.values():
            section["up_ratios"] = list(section["up_ratios"])
        return out
