"""FunCodec's EnCodec-type checkpoint format, and its conversion to ``transformers.EncodecModel``.

A FunCodec model directory holds ``config.yaml`` (FunCodec's training configuration) and
``model.pth`` (its state dict). Its SEANet encoder and decoder, LSTM and residual VQ are
EnCodec's, so the model converts into an ``EncodecModel``: the config is mapped from the yaml
(FunCodec's own defaults filling what it leaves out, settings ``EncodecModel`` cannot
reproduce refused by name), the keys are renamed through an explicit map, the training-only
discriminator and mel keys are dropped, and the result is loaded strictly. Conversions are
cached under the codecbench home, so each model is converted once.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codecbench.codecs.checkpoint_porting import CheckpointError, Skip, port_state_dict, rename_keys
from codecbench.paths import codecbench_home

FUNCODEC_FILES = ("config.yaml", "model.pth")
# Bump when the conversion changes, so cached conversions are redone.
CONVERSION_VERSION = "1"
# Keys of training-only modules, dropped on conversion.
TRAINING_ONLY_PREFIXES = ("discriminator.", "mel_spec_transforms.")


# ------------------------------------------------------------------------------------ config

# FunCodec's defaults (funcodec/models/encoder/seanet_encoder.py, decoder/seanet_decoder.py,
# quantizer/costume_quantizer.py, models/codec_basic.py), for keys a config.yaml leaves out.
_SEANET_DEFAULTS: dict[str, Any] = {
    "n_filters": 32,
    "n_residual_layers": 1,
    "ratios": [8, 5, 4, 2],
    "activation": "ELU",
    "activation_params": {"alpha": 1.0},
    "norm": "weight_norm",
    "norm_params": {},
    "kernel_size": 7,
    "last_kernel_size": 7,
    "residual_kernel_size": 3,
    "dilation_base": 2,
    "causal": False,
    "pad_mode": "reflect",
    "true_skip": False,
    "compress": 2,
    "seq_model": "lstm",
    "seq_layer_num": 2,
    "res_seq": True,
    "add_snake_activation": False,
}
_ENCODER_DEFAULTS = {**_SEANET_DEFAULTS, "dimension": 128, "double_filters": True}
_DECODER_DEFAULTS = {
    **_SEANET_DEFAULTS,
    "channels": 1,
    "final_activation": None,
    "trim_right_ratio": 1.0,
    "half_filters": True,
}
_QUANTIZER_DEFAULTS = {
    "codebook_size": 1024,
    "num_quantizers": 8,
    "sampling_rate": 24_000,
    "encoder_hop_length": 320,
    "use_ddp": True,
    "q0_ds_ratio": 1,
    "codec_dim": None,
    "codec_range": None,
}
_MODEL_DEFAULTS = {
    "target_sample_hz": 24_000,
    "audio_normalize": True,
    "segment_dur": 1.0,
    "codec_domain": "time",
    "bypass_quantizer": False,
}
# Settings shared by FunCodec's encoder and decoder that EncodecModel holds once.
_SHARED_SEANET_KEYS = (
    "n_filters", "n_residual_layers", "ratios", "norm", "kernel_size", "last_kernel_size",
    "residual_kernel_size", "dilation_base", "causal", "pad_mode", "true_skip", "compress", "seq_layer_num",
)


def funcodec_codebook_counts(num_quantizers: int) -> tuple[int, ...]:
    """Quantizer counts codecbench offers for a FunCodec model (EnCodec-type or FreqCodec) with
    ``num_quantizers``: 1, 2, 4, ... up to (and including) all of them: the counts FunCodec's
    example recipes train with (``rand_num_quant``; the ds640 recipes start at 2)."""
    counts = {1 << k for k in range(num_quantizers.bit_length()) if 1 << k <= num_quantizers}
    return tuple(sorted(counts | {num_quantizers}))


@dataclass(frozen=True)
class FunCodecConfig:
    """The parts of a FunCodec EnCodec-type ``config.yaml`` that inference depends on.

    Build it with :meth:`from_yaml`, which checks that the model is one ``EncodecModel`` can run.
    """

    sample_rate_hz: int
    hidden_size: int
    num_filters: int
    num_residual_layers: int
    ratios: tuple[int, ...]
    norm: str
    kernel_size: int
    last_kernel_size: int
    residual_kernel_size: int
    dilation_base: int
    causal: bool
    pad_mode: str
    true_skip: bool
    compress: int
    num_lstm_layers: int
    trim_right_ratio: float
    normalize: bool
    codebook_size: int
    num_quantizers: int

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)

    @property
    def frame_rate_hz(self) -> float:
        return self.sample_rate_hz / self.hop_length

    @property
    def bits_per_code(self) -> int:
        return int(math.log2(self.codebook_size))

    def codebook_counts(self) -> tuple[int, ...]:
        """The quantizer counts codecbench offers (see :func:`funcodec_codebook_counts`)."""
        return funcodec_codebook_counts(self.num_quantizers)

    def encodec_config(self):
        """The equivalent ``transformers.EncodecConfig``."""
        from transformers import EncodecConfig

        kbps_per_quantizer = self.bits_per_code * self.frame_rate_hz / 1000
        return EncodecConfig(
            target_bandwidths=[count * kbps_per_quantizer for count in self.codebook_counts()],
            sampling_rate=self.sample_rate_hz,
            audio_channels=1,
            normalize=self.normalize,
            chunk_length_s=None,
            overlap=None,
            hidden_size=self.hidden_size,
            num_filters=self.num_filters,
            num_residual_layers=self.num_residual_layers,
            upsampling_ratios=list(self.ratios),
            norm_type=self.norm,
            kernel_size=self.kernel_size,
            last_kernel_size=self.last_kernel_size,
            residual_kernel_size=self.residual_kernel_size,
            dilation_growth_rate=self.dilation_base,
            use_causal_conv=self.causal,
            pad_mode=self.pad_mode,
            compress=self.compress,
            num_lstm_layers=self.num_lstm_layers,
            trim_right_ratio=self.trim_right_ratio,
            codebook_size=self.codebook_size,
            codebook_dim=self.hidden_size,
            use_conv_shortcut=not self.true_skip,
        )

    @classmethod
    def from_yaml(cls, path: Path) -> FunCodecConfig:
        """Read FunCodec's ``config.yaml``.

        Raises:
            ValueError: the file is not a FunCodec EnCodec-type configuration, or uses a
                setting ``EncodecModel`` cannot reproduce; the message names the setting, its
                value and what is supported.
        """
        import yaml

        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"cannot read FunCodec config {path}: {error}") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path} is not a FunCodec config.yaml (no mapping at the top)")
        check = _ConfigCheck(path)
        if raw.get("model") == "freq_codec":
            raise ValueError(f"{path} describes a FreqCodec model: load it with the freqcodec codec (-c freqcodec --model-dir DIR)")
        check.equal("model", raw.get("model"), ("encodec",))
        check.equal("encoder", raw.get("encoder"), ("encodec_seanet_encoder",))
        check.equal("decoder", raw.get("decoder"), ("encodec_seanet_decoder",))
        check.equal("quantizer", raw.get("quantizer"), ("costume_quantizer",))
        check.equal("input_size", raw.get("input_size", 1), (1,))
        encoder = {**_ENCODER_DEFAULTS, **(raw.get("encoder_conf") or {})}
        decoder = {**_DECODER_DEFAULTS, **(raw.get("decoder_conf") or {})}
        quantizer = {**_QUANTIZER_DEFAULTS, **(raw.get("quantizer_conf") or {})}
        model = {**_MODEL_DEFAULTS, **(raw.get("model_conf") or {})}

        for name, section in (("encoder_conf", encoder), ("decoder_conf", decoder)):
            check.equal(f"{name}.activation", section["activation"], ("ELU",))
            check.equal(f"{name}.activation_params", section["activation_params"], ({"alpha": 1.0},))
            check.equal(f"{name}.norm", section["norm"], ("time_group_norm", "weight_norm"))
            check.equal(f"{name}.norm_params", section["norm_params"], ({}, {"num_groups": 1}))
            check.equal(f"{name}.seq_model", section["seq_model"], ("lstm",))
            check.equal(f"{name}.res_seq", section["res_seq"], (True,))
            check.equal(f"{name}.add_snake_activation", section["add_snake_activation"], (False,))
        check.equal("encoder_conf.double_filters", encoder["double_filters"], (True,))
        check.equal("decoder_conf.half_filters", decoder["half_filters"], (True,))
        check.equal("decoder_conf.channels", decoder["channels"], (1,))
        check.equal("decoder_conf.final_activation", decoder["final_activation"], (None,))
        for key in _SHARED_SEANET_KEYS:
            check.equal(f"decoder_conf.{key}", decoder[key], (encoder[key],), why="must equal encoder_conf's")
        for key in ("codec_dim", "codec_range"):
            check.equal(f"quantizer_conf.{key}", quantizer[key], (None, encoder["dimension"]) if key == "codec_dim" else (None,))
        check.equal("quantizer_conf.q0_ds_ratio", quantizer["q0_ds_ratio"], (1,))
        check.equal("model_conf.segment_dur", model["segment_dur"], (None,), why="codecbench runs models that encode whole clips")
        check.equal("model_conf.codec_domain", model["codec_domain"], ("time",))
        check.equal("model_conf.bypass_quantizer", model["bypass_quantizer"], (False,))
        sample_rate = model["target_sample_hz"]
        hop_length = math.prod(encoder["ratios"])
        check.equal("quantizer_conf.sampling_rate", quantizer["sampling_rate"], (sample_rate,),
                    why="must equal model_conf.target_sample_hz")
        check.equal("quantizer_conf.encoder_hop_length", quantizer["encoder_hop_length"], (hop_length,),
                    why="must equal the product of encoder_conf.ratios")
        if sample_rate % hop_length:
            raise ValueError(f"{path}: {sample_rate} Hz / hop {hop_length} is not a whole number of frames per second")
        codebook_size = quantizer["codebook_size"]
        if codebook_size < 2 or codebook_size & (codebook_size - 1):
            raise ValueError(f"{path}: quantizer_conf.codebook_size {codebook_size} is not a power of two")
        return cls(
            sample_rate_hz=int(sample_rate),
            hidden_size=int(encoder["dimension"]),
            num_filters=int(encoder["n_filters"]),
            num_residual_layers=int(encoder["n_residual_layers"]),
            ratios=tuple(int(r) for r in encoder["ratios"]),
            norm=encoder["norm"],
            kernel_size=int(encoder["kernel_size"]),
            last_kernel_size=int(encoder["last_kernel_size"]),
            residual_kernel_size=int(encoder["residual_kernel_size"]),
            dilation_base=int(encoder["dilation_base"]),
            causal=bool(encoder["causal"]),
            pad_mode=str(encoder["pad_mode"]),
            true_skip=bool(encoder["true_skip"]),
            compress=int(encoder["compress"]),
            num_lstm_layers=int(encoder["seq_layer_num"]),
            trim_right_ratio=float(decoder["trim_right_ratio"]),
            normalize=bool(model["audio_normalize"]),
            codebook_size=int(codebook_size),
            num_quantizers=int(quantizer["num_quantizers"]),
        )


class _ConfigCheck:
    def __init__(self, path: Path) -> None:
        self.path = path

    def equal(self, key: str, value: Any, allowed: tuple, why: str | None = None) -> None:
        if value not in allowed:
            shown = " or ".join(repr(a) for a in allowed)
            raise ValueError(
                f"{self.path}: {key} is {value!r}; codecbench runs FunCodec EnCodec-type models with "
                f"{key} {shown}" + (f" ({why})" if why else "")
            )


# ----------------------------------------------------------------------------- weight map

_SEANET_KEY = re.compile(
    r"(?P<part>encoder|decoder)\.model\.(?P<layer>\d+)\.(?P<sub>(?:block\.\d+|shortcut)\.)?"
    r"(?P<wrapper>conv\.conv|conv\.norm|convtr\.convtr|convtr\.norm|lstm)\.(?P<param>\w+)"
)
_SEANET_MODULE = {"conv.conv": "conv", "convtr.convtr": "conv", "conv.norm": "norm", "convtr.norm": "norm", "lstm": "lstm"}
_WEIGHT_NORM_PARAMS = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}
_STACKED_CODEBOOK_KEY = re.compile(r"quantizer\.rq\.model\.(?P<buffer>inited|cluster_size|embed|embed_avg)")
_LAYER_CODEBOOK_KEY = re.compile(
    r"quantizer\.rq\.model\.layers\.(?P<index>\d+)\._codebook\.(?P<buffer>inited|cluster_size|embed|embed_avg)"
)

#: Training-only modules FunCodec saves in ``model.pth``, left out of the conversion.
SKIP_LIST: tuple[Skip, ...] = (
    Skip("discriminator.", "the GAN discriminator, used only for the adversarial training loss"),
    Skip("mel_spec_transforms.", "mel filters of the multi-scale spectral training loss"),
)
_HINT = "Use the config.yaml published with this model.pth."


def encodec_key(key: str) -> str | None:
    """FunCodec's name -> ``EncodecModel``'s (the key map), ``None`` for a key no FunCodec
    EnCodec-type model has.

    SEANet convolutions lose FunCodec's wrapper level (``X.conv.conv.weight`` ->
    ``X.conv.weight``, ``X.conv.norm.*`` -> ``X.norm.*``, ``X.convtr.convtr.*`` ->
    ``X.conv.*``), weight-norm pairs become parametrizations, the stacked codebooks
    ``quantizer.rq.model.embed[i]`` (and ``inited``, ``cluster_size``, ``embed_avg``) become
    ``quantizer.layers.i.codebook.*`` (the ``{index}`` of the porting module's key maps), as do
    the per-layer ``quantizer.rq.model.layers.i._codebook.*`` of the non-DDP quantizer.
    """
    if match := _SEANET_KEY.fullmatch(key):
        part, layer, sub, wrapper, param = match.group("part", "layer", "sub", "wrapper", "param")
        return f"{part}.layers.{layer}.{sub or ''}{_SEANET_MODULE[wrapper]}.{_WEIGHT_NORM_PARAMS.get(param, param)}"
    if match := _STACKED_CODEBOOK_KEY.fullmatch(key):
        return "quantizer.layers.{index}.codebook." + match.group("buffer")
    if match := _LAYER_CODEBOOK_KEY.fullmatch(key):
        return f"quantizer.layers.{match.group('index')}.codebook.{match.group('buffer')}"
    return None


@dataclass(frozen=True)
class ConvertedWeights:
    """A state dict renamed to ``EncodecModel``'s keys, and what was left out."""

    state_dict: dict
    dropped_training_keys: tuple[str, ...]


def convert_state_dict(state: dict) -> ConvertedWeights:
    """Rename FunCodec keys to ``EncodecModel`` keys (:func:`encodec_key`), dropping :data:`SKIP_LIST`.

    Raises:
        CheckpointError: keys that fit no rule (the model has parts codecbench does not know).
    """
    renamed = rename_keys(state, encodec_key, SKIP_LIST)
    unknown = renamed.unmapped
    if unknown:
        shown = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        raise CheckpointError(f"model.pth has keys no FunCodec EnCodec-type model has: {shown}")
    return ConvertedWeights(renamed.tensors, tuple(skipped.key for skipped in renamed.skipped))


def build_encodec_model(config: FunCodecConfig, state: dict, source: str | Path | None = None):
    """An ``EncodecModel`` holding a FunCodec state dict, loaded strictly.

    Raises:
        CheckpointError: missing or unexpected keys, or tensors of the wrong shape, listed
            (upstream keys named as ``model.pth`` names them).
    """
    from transformers import EncodecModel

    model = EncodecModel(config.encodec_config())
    port_state_dict(model, state, encodec_key, skip=SKIP_LIST, source=source, hint=_HINT)
    return model.eval()


# ------------------------------------------------------------------------- conversion cache


def converted_model_dir(model_dir: Path) -> Path:
    """The ``EncodecModel`` converted from the FunCodec model in ``model_dir``, converting it once.

    Conversions are kept under ``<codecbench home>/converted/funcodec/``, keyed by the
    config's content and the weight file's identity (path, size, modification time), so a
    changed model is converted again.
    """
    config_path, weights_path = model_dir / FUNCODEC_FILES[0], model_dir / FUNCODEC_FILES[1]
    config = FunCodecConfig.from_yaml(config_path)
    target = codecbench_home() / "converted" / "funcodec" / _conversion_key(config_path, weights_path)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from codecbench.codecs.checkpoint_porting import read_checkpoint  # imports torch

    checkpoint = read_checkpoint(weights_path)
    model = build_encodec_model(config, checkpoint.tensors, source=checkpoint.path)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:  # another process converted it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _conversion_key(config_path: Path, weights_path: Path) -> str:
    weights = weights_path.resolve()
    stat = weights.stat()
    digest = hashlib.sha256()
    digest.update(CONVERSION_VERSION.encode())
    digest.update(config_path.read_bytes())
    digest.update(f"{weights}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]
