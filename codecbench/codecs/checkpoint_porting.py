"""Porting upstream checkpoints into our own modules: one reader, one strict loader, one report.

Our FACodec and FreqCodec ports, and the FunCodec-to-``EncodecModel`` conversion, fill a module
from a state dict written by someone else's training code. The steps are the same for each;
only two things differ per model, and they stay in the model's own module:

- a **key map**, upstream name -> our name: a ``Mapping`` (our missing keys are then reported
  under their upstream names) or a function returning ``None`` for keys it does not know. An our
  name containing ``{index}`` splits a tensor stacked along its first axis into one key per row
  (FunCodec stores all codebooks as one ``[num_quantizers, ...]`` buffer);
- a **skip list** of :class:`Skip` entries: upstream tensors inference never uses (discriminators,
  losses, EMA statistics, auxiliary heads), each with the reason it is safe to leave out.

:func:`load_checkpoint` then reads the file (memory-mapped where the format allows, so skipped
tensors are never read from disk), folds weight norm where asked, and loads strictly: every
tensor the module needs must be there with its shape and every upstream tensor must be used or
skipped, else :class:`CheckpointError` names the file, the keys and what to do. Success returns
a :class:`LoadReport`.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where tensors are touched, so skip lists and reports import without it
    import torch
    from torch import nn

__all__ = [
    "CheckpointError",
    "KeyMap",
    "LoadReport",
    "ReadCheckpoint",
    "RenamedKeys",
    "Skip",
    "SkippedKey",
    "fold_weight_norm",
    "load_checkpoint",
    "port_state_dict",
    "read_checkpoint",
    "read_state_dict",
    "rename_keys",
]

#: Upstream name -> our name. A function returns ``None`` for a key it has no rule for.
KeyMap = Mapping[str, str] | Callable[[str], str | None]

#: The two halves of a weight-normed weight, as ``torch.nn.utils.weight_norm`` and as
#: ``torch.nn.utils.parametrizations.weight_norm`` name them: (magnitude suffix, direction suffix).
WEIGHT_NORM_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".weight_g", ".weight_v"),
    (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
)
_SHOWN = 12
_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


class CheckpointError(ValueError):
    """A checkpoint cannot be read, or does not fit the model; the message names the file and keys.

    Attributes:
        path: the checkpoint file (``None`` for a state dict given in memory).
        report: for a mismatch, what was found (its ``missing``, ``unexpected`` and
            ``wrong_shape`` name the keys as the file names them); ``None`` for an unreadable file.
    """

    def __init__(self, message: str, path: Path | None = None, report: LoadReport | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.report = report


@dataclass(frozen=True)
class Skip:
    """Upstream tensors known to be unused by inference, and why.

    Args:
        key: an upstream key, or a prefix ending in ``.`` for a whole sub-model.
        reason: why leaving it out cannot change the output (shown in reports).
    """

    key: str
    reason: str

    def matches(self, upstream_key: str) -> bool:
        return upstream_key == self.key or (self.key.endswith(".") and upstream_key.startswith(self.key))

    @property
    def pattern(self) -> str:
        """``discriminator.*`` for a prefix, the key itself otherwise (for summaries)."""
        return self.key + "*" if self.key.endswith(".") else self.key


@dataclass(frozen=True)
class SkippedKey:
    """One upstream tensor left out: its key, the :class:`Skip` entry that matched, its size."""

    key: str
    skip: Skip
    num_values: int

    @property
    def reason(self) -> str:
        return self.skip.reason


@dataclass(frozen=True)
class LoadReport:
    """What porting one checkpoint did. Keys are sorted.

    Attributes:
        source: the file loaded (or a description of an in-memory state dict).
        source_format: how it was read: ``torch (memory-mapped)``, ``torch (legacy, read whole)``,
            ``safetensors (memory-mapped)`` or ``in memory``.
        loaded_keys: our state-dict keys filled from the checkpoint.
        skipped: upstream tensors left out, each with its reason.
        folded_weight_norm: upstream weights (named by their plain ``weight`` key) rebuilt from a
            weight-norm pair.
        missing: upstream keys the module needs and the file lacks (ours where the key map cannot
            name them). Empty after a successful load.
        unexpected: upstream keys neither used nor skipped. Empty after a successful load.
        wrong_shape: ``key (file shape) (model shape)`` for tensors that exist on both sides but
            differ. Empty after a successful load.
    """

    source: str
    source_format: str
    loaded_keys: tuple[str, ...]
    skipped: tuple[SkippedKey, ...] = ()
    folded_weight_norm: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    wrong_shape: tuple[str, ...] = ()

    @property
    def fits(self) -> bool:
        """Whether the checkpoint fits the module exactly (nothing missing, unexpected or misshapen)."""
        return not (self.missing or self.unexpected or self.wrong_shape)

    @property
    def skipped_keys(self) -> tuple[str, ...]:
        return tuple(skipped.key for skipped in self.skipped)

    @property
    def skipped_values(self) -> int:
        """Total number of values in the skipped tensors (memory never spent on them)."""
        return sum(skipped.num_values for skipped in self.skipped)

    @property
    def folded_weight_norm_pairs(self) -> int:
        return len(self.folded_weight_norm)

    def problems(self) -> str:
        """``missing: ...; unexpected: ...; wrong shape: ...``, each list cut after a dozen keys."""
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("wrong shape", self.wrong_shape)):
            if keys:
                shown = ", ".join(keys[:_SHOWN]) + (f", ... ({len(keys)} in all)" if len(keys) > _SHOWN else "")
                parts.append(f"{label}: {shown}")
        return "; ".join(parts)

    def summary(self) -> str:
        """One line: keys loaded, training-only keys skipped (by skip entry), weight-norm pairs folded."""
        patterns = sorted({skipped.skip.pattern for skipped in self.skipped})
        return (
            f"loaded {len(self.loaded_keys)} keys, skipped {len(self.skipped)} training-only keys"
            + (f" ({', '.join(patterns)})" if patterns else "")
            + f", folded {self.folded_weight_norm_pairs} weight_g/weight_v pairs"
        )


# ----------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ReadCheckpoint:
    """A state dict read from a file.

    Attributes:
        path: the file.
        source_format: how it was read (see :attr:`LoadReport.source_format`).
        tensors: upstream key -> tensor; memory-mapped tensors are read from disk on first use.
    """

    path: Path
    source_format: str
    tensors: dict[str, torch.Tensor]


def read_checkpoint(path: str | Path) -> ReadCheckpoint:
    """Read a state dict as tensors only (no pickled code runs), memory-mapped where possible.

    ``.safetensors`` files are read with safetensors; anything else as a ``torch.save`` file
    (``.pth``, ``.pt``, ``.bin``, ...) with ``weights_only=True`` and ``mmap=True``, falling back
    to a whole read for the legacy (pre-zip) serialisation, which cannot be memory-mapped.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a readable checkpoint, or holds something other than a
            mapping of names to tensors (the message says to fetch it again).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file {path}")
    if path.suffix == ".safetensors":
        return ReadCheckpoint(path, "safetensors (memory-mapped)", _read_safetensors(path))
    source_format = "torch (memory-mapped)"
    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            state = torch.load(path, map_location="cpu", weights_only=True)
            source_format = "torch (legacy, read whole)"
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({error}). Delete it and fetch it again.", path
        ) from None
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(state).__name__}, not a state dict (a mapping of names to tensors). "
            "Is it the right file?", path
        )
    _check_tensors(state, path)
    return ReadCheckpoint(path, source_format, dict(state))


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """:func:`read_checkpoint`'s tensors alone."""
    return read_checkpoint(path).tensors


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:  # pragma: no cover - transformers installs it
        raise CheckpointError(f"{path} is a safetensors file; install safetensors (pip install safetensors)", path) from None
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error}). Delete it and fetch it again.", path) from None


def _check_tensors(state: Mapping[str, object], path: Path | None) -> None:
    import torch

    wrong = sorted(f"{key} ({type(value).__name__})" for key, value in state.items() if not isinstance(value, torch.Tensor))
    if wrong:
        where = path if path is not None else "the state dict"
        raise CheckpointError(
            f"{where} does not hold a state dict (a mapping of names to tensors): "
            f"{', '.join(wrong[:_SHOWN])} {'is' if len(wrong) == 1 else 'are'} not tensors", path
        )


# ---------------------------------------------------------------------------------- weight norm


def fold_weight_norm(magnitude: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """The weight a weight-normed layer computes: ``g * v / ||v||``.

    The norm is taken over every axis but the first, as ``torch.nn.utils.weight_norm`` and
    ``torch.nn.utils.parametrizations.weight_norm`` do with their default ``dim=0`` (for a
    transposed convolution that axis is the input channels, as upstream saved it).
    """
    norm = direction.reshape(direction.shape[0], -1).norm(dim=1)
    return direction * (magnitude / norm.reshape(magnitude.shape))


def _fold_pairs(
    tensors: dict[str, torch.Tensor], origins: dict[str, tuple[str, ...]], prefixes: tuple[str, ...]
) -> list[str]:
    """Replace each weight-norm pair under ``prefixes`` by its plain ``weight``, in place."""
    folded = []
    for magnitude_suffix, direction_suffix in WEIGHT_NORM_SUFFIXES:
        for key_g in [key for key in tensors if key.startswith(prefixes) and key.endswith(magnitude_suffix)]:
            base = key_g[: -len(magnitude_suffix)]
            key_v = base + direction_suffix
            magnitude, direction = tensors[key_g], tensors.get(key_v)
            if direction is None or magnitude.numel() != direction.shape[0]:
                continue  # a lone or misfit half is reported as unexpected, and the weight as missing
            del tensors[key_g], tensors[key_v], origins[key_g], origins[key_v]
            tensors[base + ".weight"] = fold_weight_norm(magnitude, direction)
            origins[base + ".weight"] = (key_g, key_v)
            folded.append(base + ".weight")
    return sorted(folded)


# ---------------------------------------------------------------------------------- key mapping


def _ours(key_map: KeyMap, upstream_key: str) -> str | None:
    return key_map.get(upstream_key) if isinstance(key_map, Mapping) else key_map(upstream_key)


@dataclass(frozen=True)
class RenamedKeys:
    """An upstream state dict under our names (what :func:`rename_keys` gives).

    Attributes:
        tensors: our key -> tensor.
        origins: our key -> the upstream key(s) it was made from (``key[i]`` for row ``i`` of a
            stack; a folded weight's ``weight_g``/``weight_v`` pair, direction last), so that
            errors name what the file holds.
        skipped: the upstream tensors the skip list left out, sorted by key.
        unmapped: upstream keys the key map has no name for, sorted.
    """

    tensors: dict[str, torch.Tensor]
    origins: dict[str, tuple[str, ...]]
    skipped: tuple[SkippedKey, ...]
    unmapped: tuple[str, ...]


def _split_skipped(
    upstream: Mapping[str, torch.Tensor], skip: Iterable[Skip]
) -> tuple[dict[str, torch.Tensor], tuple[SkippedKey, ...]]:
    skip = tuple(skip)
    kept: dict[str, torch.Tensor] = {}
    skipped: list[SkippedKey] = []
    for key, tensor in upstream.items():
        rule = next((entry for entry in skip if entry.matches(key)), None)
        if rule is None:
            kept[key] = tensor
        else:
            skipped.append(SkippedKey(key, rule, tensor.numel()))
    return kept, tuple(sorted(skipped, key=lambda skipped_key: skipped_key.key))


def rename_keys(upstream: Mapping[str, torch.Tensor], key_map: KeyMap, skip: Iterable[Skip] = ()) -> RenamedKeys:
    """Apply ``skip`` and then ``key_map`` to ``upstream``; needs no module."""
    kept, skipped = _split_skipped(upstream, skip)
    tensors: dict[str, torch.Tensor] = {}
    origins: dict[str, tuple[str, ...]] = {}
    unmapped: list[str] = []
    for key, tensor in kept.items():
        ours = _ours(key_map, key)
        if ours is None:
            unmapped.append(key)
        elif "{index}" in ours:  # a stack along the first axis: one key per row
            for index, row in enumerate(tensor):
                tensors[ours.format(index=index)] = row.clone()
                origins[ours.format(index=index)] = (f"{key}[{index}]",)
        else:
            tensors[ours] = tensor
            origins[ours] = (key,)
    return RenamedKeys(tensors, origins, skipped, tuple(sorted(unmapped)))


def port_state_dict(
    module: nn.Module,
    upstream: Mapping[str, torch.Tensor],
    key_map: KeyMap,
    *,
    skip: Iterable[Skip] = (),
    weight_norm_prefixes: tuple[str, ...] = (),
    source: str | Path | None = None,
    source_format: str = "in memory",
    hint: str = "Is it the right file, and does the model's configuration match it?",
) -> LoadReport:
    """Load an upstream-named ``upstream`` into ``module`` strictly (see the module docstring).

    Args:
        module: the module to fill; its ``state_dict()`` keys are "our" names.
        upstream: the checkpoint's tensors under the names the file uses.
        key_map: upstream name -> our name (see :data:`KeyMap`).
        skip: upstream tensors to leave out, each with its reason.
        weight_norm_prefixes: upstream key prefixes under which ``weight_g``/``weight_v`` (or
            ``parametrizations.weight.original0``/``original1``) pairs are folded into the plain
            ``weight`` before mapping, for modules that hold plain weights.
        source: the file it came from (a ``Path`` becomes the error's ``path``), or a
            description; named first in errors.
        source_format: how ``upstream`` was read, for the report.
        hint: what the user should check or do when the checkpoint does not fit.

    Raises:
        CheckpointError: keys missing, unexpected or of the wrong shape; all are named as the
            file names them, and ``error.report`` lists them.
    """
    path = source if isinstance(source, Path) else None
    source = "the state dict" if source is None else str(source)
    _check_tensors(upstream, path)
    kept, skipped = _split_skipped(upstream, skip)  # first, so skipped tensors are never touched
    upstream_origins = {key: (key,) for key in kept}
    folded = _fold_pairs(kept, upstream_origins, weight_norm_prefixes) if weight_norm_prefixes else []
    renamed = rename_keys(kept, key_map)
    tensors, unmapped = renamed.tensors, renamed.unmapped
    origins = {
        ours: tuple(origin for name in names for origin in upstream_origins.get(name, (name,)))
        for ours, names in renamed.origins.items()
    }

    expected = module.state_dict()
    reverse = {ours: name for name, ours in key_map.items()} if isinstance(key_map, Mapping) else {}
    missing = sorted(
        name
        for key in expected.keys() - tensors.keys()
        for name in _upstream_names(reverse.get(key, key), weight_norm_prefixes, upstream_origins)
    )
    unexpected = sorted(
        [name for key in unmapped for name in upstream_origins[key]]
        + [name for key in tensors.keys() - expected.keys() for name in origins[key]]
    )
    wrong_shape = sorted(
        f"{origins[key][-1]} {tuple(tensors[key].shape)} (model {tuple(expected[key].shape)})"
        for key in expected.keys() & tensors.keys()
        if tensors[key].shape != expected[key].shape
    )
    report = LoadReport(
        source=source,
        source_format=source_format,
        loaded_keys=tuple(sorted(expected.keys() & tensors.keys())),
        skipped=skipped,
        folded_weight_norm=tuple(folded),
        missing=tuple(missing),
        unexpected=tuple(unexpected),
        wrong_shape=tuple(wrong_shape),
    )
    if not report.fits:
        raise CheckpointError(
            f"{source} does not fit the model its configuration describes ({report.problems()}). {hint}",
            path,
            report,
        )
    module.load_state_dict(tensors, strict=True)
    return report


def _upstream_names(name: str, weight_norm_prefixes: tuple[str, ...], present: Mapping[str, object]) -> list[str]:
    """The upstream key(s) the file would need for ``name``: for a weight folded from a pair,
    the halves of the pair the file lacks."""
    if name.startswith(weight_norm_prefixes) and name.endswith(".weight"):
        base = name[: -len(".weight")]
        absent = [base + suffix for suffix in WEIGHT_NORM_SUFFIXES[0] if base + suffix not in present]
        return absent or [name]
    return [name]


def load_checkpoint(
    module: nn.Module,
    path: str | Path,
    key_map: KeyMap,
    *,
    skip: Iterable[Skip] = (),
    weight_norm_prefixes: tuple[str, ...] = (),
    hint: str = "Is it the right file, and does the model's configuration match it?",
) -> LoadReport:
    """Read ``path`` with :func:`read_checkpoint` and port it into ``module`` with
    :func:`port_state_dict` (see there for the arguments and errors)."""
    checkpoint = read_checkpoint(path)
    return port_state_dict(
        module, checkpoint.tensors, key_map, skip=skip, weight_norm_prefixes=weight_norm_prefixes,
        source=checkpoint.path, source_format=checkpoint.source_format, hint=hint,
    )
