"""FACodec's key map and skip list for Amphion's checkpoints (state dicts saved with ``torch.save``).

Our modules name their parts for what they are; each carries ``upstream_names``, a map from its
own child or parameter names to Amphion's (e.g. ``input_conv`` -> ``block.0``). :func:`upstream_key`
walks a state-dict key through those maps, which gives the explicit key map both ways
(:func:`key_map`). The decoder checkpoint's training-only heads are the skip list
(:func:`decoder_skip_list`). Reading, strict loading and the report are
:mod:`codecbench.codecs.checkpoint_porting`'s.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.checkpoint_porting import CheckpointError, Skip, read_state_dict
from codecbench.codecs.facodec.config import CONFIG_FILENAME, FACodecDecoderConfig

__all__ = [
    "CHECKPOINT_HINT",
    "CheckpointMismatchError",
    "decoder_skip_list",
    "decoder_training_only_prefixes",
    "key_map",
    "read_state_dict",
    "upstream_key",
    "upstream_state_dict",
]

#: The checkpoint porting error; FACodec's earlier name for it.
CheckpointMismatchError = CheckpointError

#: What to check when a checkpoint does not fit.
CHECKPOINT_HINT = (
    f"Is it the right file, and does the model's configuration match it (a --model-dir directory's "
    f"{CONFIG_FILENAME}, else the published model's)?"
)


def decoder_skip_list(config: FACodecDecoderConfig) -> tuple[Skip, ...]:
    """The decoder checkpoint's training-only heads, which inference never runs.

    ``f0_predictor`` and ``phone_predictor`` are always built by upstream (auxiliary supervision);
    the gradient-reversal heads exist as the ``use_gr_*`` arguments say. ``x_timbre_predictor``
    is the 245,200-speaker classifier, about 65 M of the decoder checkpoint's 99 M values.
    """
    auxiliary = "auxiliary {} prediction from the {} codes, a training loss only"
    reversal = "gradient-reversal {} head on the {} codes, a training loss only"
    skips = [
        Skip("f0_predictor.", auxiliary.format("F0", "prosody")),
        Skip("phone_predictor.", auxiliary.format("phone", "content")),
    ]
    if config.vq_num_q_r > 0 and config.use_gr_residual_f0:
        skips.append(Skip("res_f0_predictor.", reversal.format("F0", "residual")))
    if config.vq_num_q_r > 0 and config.use_gr_residual_phone:
        skips.append(Skip("res_phone_predictor.", reversal.format("phone", "residual")))
    if config.use_gr_content_f0:
        skips.append(Skip("content_f0_predictor.", reversal.format("F0", "content")))
    if config.use_gr_prosody_phone:
        skips.append(Skip("prosody_phone_predictor.", reversal.format("phone", "prosody")))
    if config.use_gr_x_timbre:
        skips.append(Skip("x_timbre_predictor.", "speaker classifier on the codes (gradient reversal), a training loss only"))
    return tuple(skips)


def decoder_training_only_prefixes(config: FACodecDecoderConfig) -> tuple[str, ...]:
    """The key prefixes of :func:`decoder_skip_list`, for ``str.startswith``."""
    return tuple(skip.key for skip in decoder_skip_list(config))


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


def key_map(module: nn.Module) -> dict[str, str]:
    """Amphion's key -> ``module``'s key, for every tensor ``module`` holds."""
    return {upstream_key(module, key): key for key in module.state_dict()}


def upstream_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module``'s state dict under Amphion's key names (what ``torch.save`` of upstream's model holds)."""
    return {upstream_key(module, key): tensor for key, tensor in module.state_dict().items()}
