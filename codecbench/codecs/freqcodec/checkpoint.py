"""FreqCodec's key map and skip list for FunCodec's ``model.pth``, and loading it strictly.

``model.pth`` is the state dict of FunCodec's whole training model. Against
:class:`FreqCodecModel`'s keys:

- keys under :data:`TRAINING_ONLY_PREFIXES` and the codebooks' EMA statistics
  (:data:`TRAINING_ONLY_CODEBOOK_BUFFERS`) are skipped (:data:`SKIP_LIST` says why);
- every codebook's ``quantizer.rq.model.inited`` flag must be set; the flags are checked, not loaded;
- the stacked codebooks ``quantizer.rq.model.embed`` become ``quantizer.codebooks``, and the STFT
  windows (``enc_trans_func.window``, ``dec_trans_func.window``) ``analysis.window`` and
  ``synthesis.window`` (:data:`RENAMED`); every other key keeps its name;
- with ``norm: weight_norm`` each ``weight_g``/``weight_v`` pair is folded into ``weight``.

Reading, folding, strict loading, the report and the errors (which name keys as ``model.pth``
names them) are :mod:`codecbench.codecs.checkpoint_porting`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from codecbench.codecs.checkpoint_porting import (
    CheckpointError,
    LoadReport,
    Skip,
    port_state_dict,
    read_checkpoint,
)
from codecbench.codecs.freqcodec.config import FreqCodecConfig
from codecbench.codecs.freqcodec.model import FreqCodecModel

__all__ = [
    "SKIP_LIST",
    "TRAINING_ONLY_CODEBOOK_BUFFERS",
    "TRAINING_ONLY_PREFIXES",
    "CheckpointError",
    "CheckpointReport",
    "key_map",
    "load_model",
    "load_upstream_state_dict",
]

#: Whole sub-models FunCodec keeps only for training: the GAN discriminator, the mel
#: transforms of the spectral loss, and the phase augmentation of phase-invariant training.
TRAINING_ONLY_PREFIXES: tuple[str, ...] = ("discriminator.", "mel_spec_transforms.", "phaseaug.")
#: Per-codebook buffers that only drive EMA codebook updates and k-means initialisation.
TRAINING_ONLY_CODEBOOK_BUFFERS: tuple[str, ...] = ("cluster_size", "embed_avg")

_CODEBOOK_PREFIX = "quantizer.rq.model."
_INITED_KEY = _CODEBOOK_PREFIX + "inited"

SKIP_LIST: tuple[Skip, ...] = (
    Skip("discriminator.", "the GAN discriminator, used only for the adversarial training loss"),
    Skip("mel_spec_transforms.", "mel filters of the multi-scale spectral training loss"),
    Skip("phaseaug.", "phase augmentation of phase-invariant training"),
    Skip(_CODEBOOK_PREFIX + "cluster_size", "EMA codebook-update statistic; the codebooks themselves are loaded"),
    Skip(_CODEBOOK_PREFIX + "embed_avg", "EMA codebook-update statistic; the codebooks themselves are loaded"),
)

#: ``model.pth`` keys stored under another name in :class:`FreqCodecModel`.
RENAMED: dict[str, str] = {
    _CODEBOOK_PREFIX + "embed": "quantizer.codebooks",
    "enc_trans_func.window": "analysis.window",
    "dec_trans_func.window": "synthesis.window",
}
_HINT = "Use the config.yaml published with this model.pth."

#: The earlier name of the report :func:`load_model` returns.
CheckpointReport = LoadReport


def key_map(model: FreqCodecModel) -> dict[str, str]:
    """``model.pth`` key -> ``model`` key: :data:`RENAMED`, else the same name (a folded weight
    under its plain ``weight`` name)."""
    upstream_of = {ours: upstream for upstream, ours in RENAMED.items()}
    return {upstream_of.get(key, key): key for key in model.state_dict()}


def load_model(
    config: FreqCodecConfig, checkpoint_path: str | Path, device: str = "cpu"
) -> tuple[FreqCodecModel, LoadReport]:
    """Build the model ``config`` describes (read it with :meth:`FreqCodecConfig.from_upstream`)
    and fill it from ``model.pth`` (memory-mapped).

    Raises:
        CheckpointError: the checkpoint is unreadable or does not match ``config`` (the message
            names the file and the keys).
    """
    model = FreqCodecModel(config)
    checkpoint = read_checkpoint(checkpoint_path)
    report = load_upstream_state_dict(
        model, checkpoint.tensors, source=checkpoint.path, source_format=checkpoint.source_format
    )
    return model.to(device), report


def load_upstream_state_dict(
    model: FreqCodecModel,
    upstream: Mapping[str, torch.Tensor],
    source: str | Path | None = None,
    source_format: str = "in memory",
) -> LoadReport:
    """Check the codebooks' ``inited`` flags, then load FunCodec's state dict into ``model``
    strictly (see the module docstring).

    Raises:
        CheckpointError: codebooks never initialised, or keys missing, left over or misshapen,
            named as ``model.pth`` names them.
    """
    upstream = dict(upstream)
    inited = upstream.pop(_INITED_KEY, None)
    if inited is not None:
        not_initialised = [index for index, flag in enumerate(inited.reshape(len(inited), -1)[:, 0]) if flag == 0]
        if not_initialised:
            raise CheckpointError(
                f"codebooks {not_initialised} were never initialised (inited is 0): "
                "this checkpoint was saved before training started",
                source if isinstance(source, Path) else None,
            )
    elif _CODEBOOK_PREFIX + "embed" in upstream:
        raise CheckpointError(f"the checkpoint has codebooks but no {_INITED_KEY} flags")
    config = model.config
    weight_normed = tuple(
        side for side, norm in (("encoder.", config.encoder.norm), ("decoder.", config.decoder.norm)) if norm == "weight_norm"
    )
    return port_state_dict(
        model, upstream, key_map(model), skip=SKIP_LIST, weight_norm_prefixes=weight_normed,
        source=source, source_format=source_format, hint=_HINT,
    )
