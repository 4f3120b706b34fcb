"""Loading Amphion's FACodec checkpoints (state dicts saved with ``torch.save``) into our modules.

Our modules name their parts for what they are; each carries ``upstream_names``, a map from its
own child or parameter names to Amphion's (e.g. ``input_conv`` -> ``block.0``). :func:`upstream_key`
walks a state-dict key through those maps, which gives the explicit key map both ways.

Loading is strict: every tensor the module needs must be in the checkpoint with the right shape,
and every checkpoint tensor must be used, except those under the training-only prefixes of
:func:`decoder_training_only_prefixes`, which are skipped and counted. Anything else raises
:class:`CheckpointMismatchError` naming the keys.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from codecbench.codecs.facodec.config import CONFIG_FILENAME, FACodecDecoderConfig

_LISTED_KEYS = 8


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the module built from the configuration; the message names the keys."""


def decoder_training_only_prefixes(config: FACodecDecoderConfig) -> tuple[str, ...]:
    """The decoder checkpoint's training-only heads, skipped when loading.

    ``f0_predictor`` and ``phone_predictor`` are always built by upstream (auxiliary supervision);
    the gradient-reversal heads exist as the ``use_gr_*`` arguments say. ``x_timbre_predictor``
    is the 245,200-speaker classifier, about 65 M of the decoder checkpoint's 99 M values.
    """
    prefixes = ["f0_predictor.", "phone_predictor."]
    if config.vq_num_q_r > 0 and config.use_gr_residual_f0:
        prefixes.append("res_f0_predictor.")
    if config.vq_num_q_r > 0 and config.use_gr_residual_phone:
        prefixes.append("res_phone_predictor.")
    if config.use_gr_content_f0:
        prefixes.append("content_f0_predictor.")
    if config.use_gr_prosody_phone:
        prefixes.append("prosody_phone_predictor.")
    if config.use_gr_x_timbre:
        prefixes.append("x_timbre_predictor.")
    return tuple(prefixes)


def upstream_key(module: nn.Module, key: str) -> str:
    """Amphion's name for ``module``'s state-dict ``key``.

    A module's ``upstream_names`` may map one component (``attention_norm`` -> ``ln_1``), two
    (``blocks.3`` -> ``block.4``, for upstream's flat ``nn.Sequential`` indices), or map a child to
    ``""`` when upstream keeps that child's parts on the parent.
    """
    parts = key.split(".")
    mapped: list[str] = []
    index = 0
    while index < len(parts):
        names = getattr(module, "upstream_names", {})
        pair = ".".join(parts[index : index + 2])
        width = 2 if index + 2 < len(parts) and pair in names else 1
        own = ".".join(parts[index : index + width])
        name = names.get(own, own)
        if name:
            mapped.append(name)
        if index + width < len(parts):  # descend unless this was the parameter itself
            for part in parts[index : index + width]:
                module = getattr(module, part)
        index += width
    return ".".join(mapped)


def upstream_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module``'s state dict under Amphion's key names (what ``torch.save`` of upstream's model holds)."""
    return {upstream_key(module, key): tensor for key, tensor in module.state_dict().items()}


@dataclass(frozen=True)
class LoadReport:
    """What loading one checkpoint did.

    Attributes:
        source: the file (or a description) loaded.
        loaded_keys: tensors copied into the module.
        skipped_keys: training-only tensors left out.
        skipped_values: total number of values in the skipped tensors.
    """

    source: str
    loaded_keys: int
    skipped_keys: tuple[str, ...]
    skipped_values: int


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LISTED_KEYS])
    return shown + (f" (and {len(keys) - _LISTED_KEYS} more)" if len(keys) > _LISTED_KEYS else "")


def load_upstream_state_dict(
    module: nn.Module,
    state_dict: dict[str, torch.Tensor],
    skip_prefixes: tuple[str, ...] = (),
    source: str = "checkpoint",
) -> LoadReport:
    """Copy an upstream-named ``state_dict`` into ``module`` strictly, skipping ``skip_prefixes``.

    Raises:
        CheckpointMismatchError: keys missing, unexpected or of the wrong shape; all are named.
    """
    own_state = module.state_dict()
    own_by_upstream = {upstream_key(module, key): key for key in own_state}
    converted: dict[str, torch.Tensor] = {}
    skipped: list[str] = []
    unexpected: list[str] = []
    wrong_shape: list[str] = []
    for key, tensor in state_dict.items():
        own = own_by_upstream.get(key)
        if own is not None:
            if tuple(tensor.shape) != tuple(own_state[own].shape):
                wrong_shape.append(f"{key} {tuple(tensor.shape)} (model: {tuple(own_state[own].shape)})")
            else:
                converted[own] = tensor
        elif key.startswith(skip_prefixes):
            skipped.append(key)
        else:
            unexpected.append(key)
    missing = sorted(key for key in own_by_upstream if key not in state_dict)
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(sorted(unexpected))}")
    if wrong_shape:
        problems.append(f"wrong shapes: {_listed(sorted(wrong_shape))}")
    if problems:
        raise CheckpointMismatchError(
            f"{source} does not fit the model its configuration describes ({'; '.join(problems)}). "
            f"Is it the right file, and does the model's configuration match it (a --model-dir directory's "
            f"{CONFIG_FILENAME}, else the published model's)?"
        )
    module.load_state_dict(converted, strict=True)
    return LoadReport(
        source=source,
        loaded_keys=len(converted),
        skipped_keys=tuple(skipped),
        skipped_values=sum(state_dict[key].numel() for key in skipped),
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read a ``torch.save``'d state dict as tensors only (no code runs).

    Memory-mapped when the file allows it, so skipped training-only tensors are never read.
    """
    path = Path(path)
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            # Files written with the legacy (pre-zip) serialization cannot be memory-mapped.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointMismatchError(
            f"{path} is not a readable PyTorch checkpoint ({error}). Delete it and fetch it again."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointMismatchError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return state
