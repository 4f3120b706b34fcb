"""Load FunCodec's FreqCodec ``model.pth`` into :class:`FreqCodecModel`, strictly.

``model.pth`` is the state dict of FunCodec's whole training model. The conversion is explicit:

- keys listed in :data:`TRAINING_ONLY_PREFIXES` and the codebooks' EMA statistics
  (:data:`TRAINING_ONLY_CODEBOOK_BUFFERS`) are skipped and reported;
- the stacked codebooks ``quantizer.rq.model.embed`` become ``quantizer.codebooks``; every
  codebook's ``inited`` flag must be set;
- the STFT windows (``enc_trans_func.window``, ``dec_trans_func.window``) become
  ``analysis.window`` and ``synthesis.window``;
- with ``norm: weight_norm`` each ``weight_g``/``weight_v`` pair is folded into ``weight``;
- every other key must match a model key by name and shape. Anything missing, left over or
  misshapen fails the load with :class:`CheckpointError` listing it under its name in
  ``model.pth`` (``quantizer.rq.model.embed``, not ``quantizer.codebooks``; a folded weight as
  its ``weight_g``/``weight_v`` keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from codecbench.codecs.freqcodec.config import FreqCodecConfig
from codecbench.codecs.freqcodec.model import FreqCodecModel

#: Whole sub-models FunCodec keeps only for training: the GAN discriminator, the mel
#: transforms of the spectral loss, and the phase augmentation of phase-invariant training.
TRAINING_ONLY_PREFIXES: tuple[str, ...] = ("discriminator.", "mel_spec_transforms.", "phaseaug.")
#: Per-codebook buffers that only drive EMA codebook updates and k-means initialisation.
TRAINING_ONLY_CODEBOOK_BUFFERS: tuple[str, ...] = ("cluster_size", "embed_avg")

_CODEBOOK_PREFIX = "quantizer.rq.model."
#: model.pth keys stored under another name in :class:`FreqCodecModel`.
_RENAMED = {
    _CODEBOOK_PREFIX + "embed": "quantizer.codebooks",
    "enc_trans_func.window": "analysis.window",
    "dec_trans_func.window": "synthesis.window",
}
#: Weights FunCodec's ``weight_norm`` splits into ``weight_g``/``weight_v``.
_WEIGHT_NORMED_SUFFIXES = ("conv.conv.weight", "convtr.convtr.weight")
_SHOWN = 12


class CheckpointError(ValueError):
    """``model.pth`` does not fit the model its ``config.yaml`` describes."""


@dataclass(frozen=True)
class CheckpointReport:
    """What loading did with the checkpoint's keys.

    Attributes:
        loaded_keys: model keys filled from the checkpoint.
        skipped_training_keys: checkpoint keys skipped as training-only.
        folded_weight_norm_pairs: ``weight_g``/``weight_v`` pairs folded into plain weights.
    """

    loaded_keys: tuple[str, ...]
    skipped_training_keys: tuple[str, ...]
    folded_weight_norm_pairs: int

    def summary(self) -> str:
        """One line: keys loaded, training-only keys skipped (by prefix), weight-norm pairs folded."""
        groups = sorted({
            next((prefix + "*" for prefix in TRAINING_ONLY_PREFIXES if key.startswith(prefix)), key)
            for key in self.skipped_training_keys
        })
        return (
            f"loaded {len(self.loaded_keys)} keys, skipped {len(self.skipped_training_keys)} training-only keys"
            + (f" ({', '.join(groups)})" if groups else "")
            + f", folded {self.folded_weight_norm_pairs} weight_g/weight_v pairs"
        )


def load_model(
    config: FreqCodecConfig, checkpoint_path: str | Path, device: str = "cpu"
) -> tuple[FreqCodecModel, CheckpointReport]:
    """Build the model ``config`` describes (read it with :meth:`FreqCodecConfig.from_upstream`)
    and fill it from ``model.pth``.

    Raises:
        CheckpointError: the checkpoint is unreadable or does not match ``config`` (the message
            lists the keys).
    """
    model = FreqCodecModel(config)
    try:
        state = torch.load(Path(checkpoint_path), map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and tensor errors all mean "not a readable model.pth"
        raise CheckpointError(f"{checkpoint_path} is not a readable PyTorch state dict: {error}") from None
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{checkpoint_path} holds a {type(state).__name__}, not a state dict")
    report = load_upstream_state_dict(model, state)
    return model.to(device), report


def load_upstream_state_dict(model: FreqCodecModel, upstream: Mapping[str, torch.Tensor]) -> CheckpointReport:
    """Convert FunCodec's state dict (see the module docstring) and load it into ``model`` strictly.

    Raises:
        CheckpointError: keys missing, left over or misshapen, named as ``model.pth`` names them.
    """
    conversion = convert_upstream_state_dict(upstream, model.config)
    converted = conversion.tensors
    expected = model.state_dict()
    missing = sorted(
        name for key in set(expected) - set(converted) for name in _upstream_names(key, model.config, upstream)
    )
    unexpected = sorted(name for key in set(converted) - set(expected) for name in conversion.origins[key])
    misshapen = sorted(
        f"{conversion.origins[key][-1]} {tuple(converted[key].shape)} (model {tuple(expected[key].shape)})"
        for key in set(expected) & set(converted)
        if converted[key].shape != expected[key].shape
    )
    if missing or unexpected or misshapen:
        problems = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen)):
            if keys:
                shown = ", ".join(keys[:_SHOWN]) + (f", ... ({len(keys)} in all)" if len(keys) > _SHOWN else "")
                problems.append(f"{label}: {shown}")
        raise CheckpointError(
            "the checkpoint does not match its config.yaml (" + "; ".join(problems) + "). "
            "Use the config.yaml published with this model.pth."
        )
    model.load_state_dict(converted, strict=True)
    return CheckpointReport(
        loaded_keys=tuple(sorted(converted)), skipped_training_keys=tuple(sorted(conversion.skipped)),
        folded_weight_norm_pairs=conversion.folded_weight_norm_pairs,
    )


@dataclass(frozen=True)
class UpstreamConversion:
    """FunCodec's state dict under :class:`FreqCodecModel`'s key names.

    Attributes:
        tensors: model key to tensor.
        origins: model key to the ``model.pth`` key(s) it was made from (two for a folded
            ``weight_g``/``weight_v`` pair, ``weight_v`` last), so errors name what the file holds.
        skipped: ``model.pth`` keys skipped as training-only.
        folded_weight_norm_pairs: ``weight_g``/``weight_v`` pairs folded into plain weights.
    """

    tensors: dict[str, torch.Tensor]
    origins: dict[str, tuple[str, ...]]
    skipped: tuple[str, ...]
    folded_weight_norm_pairs: int


def convert_upstream_state_dict(upstream: Mapping[str, torch.Tensor], config: FreqCodecConfig) -> UpstreamConversion:
    """FunCodec keys to model keys (see the module docstring)."""
    tensors: dict[str, torch.Tensor] = {}
    origins: dict[str, tuple[str, ...]] = {}
    skipped: list[str] = []
    initialisation_checked = False
    for key, tensor in upstream.items():
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"checkpoint entry {key!r} is a {type(tensor).__name__}, not a tensor")
        buffer = key[len(_CODEBOOK_PREFIX):] if key.startswith(_CODEBOOK_PREFIX) else None
        if key.startswith(TRAINING_ONLY_PREFIXES) or buffer in TRAINING_ONLY_CODEBOOK_BUFFERS:
            skipped.append(key)
        elif buffer == "inited":
            not_initialised = [index for index, flag in enumerate(tensor.reshape(len(tensor), -1)[:, 0]) if flag == 0]
            if not_initialised:
                raise CheckpointError(
                    f"codebooks {not_initialised} were never initialised (inited is 0): "
                    "this checkpoint was saved before training started"
                )
            initialisation_checked = True
        else:
            model_key = _RENAMED.get(key, key)
            tensors[model_key] = tensor
            origins[model_key] = (key,)
    if "quantizer.codebooks" in tensors and not initialisation_checked:
        raise CheckpointError(f"the checkpoint has codebooks but no {_CODEBOOK_PREFIX}inited flags")
    folded = 0
    for side in _weight_normed_sides(config):
        folded += _fold_weight_norm(tensors, origins, side)
    return UpstreamConversion(tensors, origins, tuple(skipped), folded)


def _weight_normed_sides(config: FreqCodecConfig) -> tuple[str, ...]:
    return tuple(side for side, norm in (("encoder.", config.encoder.norm), ("decoder.", config.decoder.norm))
                 if norm == "weight_norm")


def _upstream_names(model_key: str, config: FreqCodecConfig, upstream: Mapping[str, torch.Tensor]) -> list[str]:
    """The ``model.pth`` key(s) that would have given ``model_key``; for a weight-normed
    convolution, those of its ``weight_g``/``weight_v`` pair the file lacks."""
    if model_key.startswith(_weight_normed_sides(config)) and model_key.endswith(_WEIGHT_NORMED_SUFFIXES):
        return [name for name in (model_key + "_g", model_key + "_v") if name not in upstream]
    return [next((old for old, new in _RENAMED.items() if new == model_key), model_key)]


def _fold_weight_norm(state: dict[str, torch.Tensor], origins: dict[str, tuple[str, ...]], prefix: str) -> int:
    """Replace each ``<prefix>...weight_g``/``weight_v`` pair by ``weight = g * v / |v|`` (norm over
    all axes but the first, as ``torch.nn.utils.weight_norm`` with ``dim=0``)."""
    pairs = 0
    for key_g in [key for key in state if key.startswith(prefix) and key.endswith(".weight_g")]:
        base = key_g[: -len("_g")]
        key_v = base + "_v"
        if key_v not in state:
            continue  # the lone weight_g is reported as unexpected
        magnitude, direction = state.pop(key_g), state.pop(key_v)
        del origins[key_g], origins[key_v]
        norm = direction.reshape(direction.shape[0], -1).norm(dim=1).reshape(-1, *[1] * (direction.dim() - 1))
        state[base] = direction * (magnitude / norm)
        origins[base] = (key_g, key_v)
        pairs += 1
    return pairs
