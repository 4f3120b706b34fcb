"""Conditions of an evaluation: a registry codec at one operating point, with the checkpoint it runs.

``--codec opus@6,12`` asks for two conditions, ``--codec lowpass_3500`` for the anchor's only
one. A condition's identity in stored results is (codec, operating point, checkpoint): the same
FunCodec model loaded from another directory with other weights is another condition, while a
copy of the same weights elsewhere is the same one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from codecbench.codecs import codec_spec, get_entry, load_codec, readiness
from codecbench.codecs.base import Codec, CodecNotReadyError, LoadOptions, OperatingPoint
from codecbench.codecs.checkpoints import COMMIT_HASH, cached_snapshot
from codecbench.codecs.condition import Condition
from codecbench.evaluation.metrics.base import package_version

HASH_BLOCK_BYTES = 1 << 22


@dataclass(frozen=True)
class EvalCondition:
    """A codec at one operating point, ready to be loaded.

    Attributes:
        codec: registry name.
        operating_point: the resolved setting (label, nominal kbps, token layout).
        load_options: model directory and device.
        checkpoint: which weights: ``hub:owner/name@commit``, ``sha256:...`` of a model
            directory's weight files, or ``""`` for codecs without weights.
        implementation: the packages and versions that run it.
    """

    codec: str
    operating_point: OperatingPoint
    load_options: LoadOptions
    checkpoint: str
    implementation: str

    @property
    def key(self) -> str:
        """How the condition is written on the command line: ``opus@6``, ``lowpass_3500``."""
        return str(Condition(self.codec, self.operating_point.nominal_kbps))

    @property
    def is_token_codec(self) -> bool:
        """Whether the codec sends tokens (a neural codec), which get token statistics."""
        return self.operating_point.codebook_size is not None

    def load(self) -> Codec:
        return load_codec(self.codec, self.load_options)


def operating_point_label(label: str, nominal_kbps: float | None, tokens_per_second: float | None) -> str:
    """``6 kbps``, ``1 kbps · 100 tok/s``, ``0.7 kbps (700C)``, or the label of a point without a bitrate."""
    if nominal_kbps is None:
        return label
    text = f"{nominal_kbps:g} kbps"
    if tokens_per_second is not None:
        text += f" · {tokens_per_second:.4g} tok/s"
    if not label.startswith(text.split(" · ")[0]) and not label.isdigit():
        text += f" ({label})"
    return text


def short_checkpoint(checkpoint: str) -> str:
    """``hub:owner/name@0123456789...`` -> ``@0123456``; ``sha256:abcdef...`` -> ``sha256:abcdef12``."""
    if checkpoint.startswith("sha256:"):
        return checkpoint[:15]
    _, _, revision = checkpoint.rpartition("@")
    return f"@{revision[:7]}" if revision else checkpoint


def resolve_conditions(
    requested: list[Condition], options_for: Callable[[str], LoadOptions] = lambda codec: LoadOptions()
) -> list[EvalCondition]:
    """Check each requested condition against the registry and pin its checkpoint.

    Duplicates are dropped (first kept).

    Raises:
        ValueError: unknown codec or bitrate (the message lists the allowed ones).
        CodecNotReadyError: a codec cannot run here (missing weights, ...); says what to do.
    """
    resolved: dict[tuple[str, str], EvalCondition] = {}
    for condition in requested:
        options = options_for(condition.codec)
        spec = codec_spec(condition.codec, options)
        point = spec.operating_point(condition.kbps)
        state = readiness(condition.codec, options)
        if not state.ready:
            raise CodecNotReadyError(f"codec {condition.codec} is {state.describe()}")
        key = (condition.codec, point.label)
        if key not in resolved:
            resolved[key] = EvalCondition(
                codec=condition.codec,
                operating_point=point,
                load_options=options,
                checkpoint=checkpoint_identity(condition.codec, options),
                implementation=codec_implementation(condition.codec, spec.family),
            )
    return list(resolved.values())


def model_dir_options(model_dirs: Mapping[str, Path], device: str = "cpu") -> Callable[[str], LoadOptions]:
    """``--model-dir CODEC=DIR`` and ``--device`` as the load options of each codec."""
    return lambda codec: LoadOptions(model_dir=model_dirs.get(codec), device=device)


def checkpoint_identity(codec: str, options: LoadOptions) -> str:
    """Which weights ``codec`` loads with ``options``: the Hub commit, or a hash of the model
    directory's weight files; ``""`` for codecs without weights."""
    weights = get_entry(codec).weights
    if weights is None:
        return ""
    if options.model_dir is not None:
        digest = hashlib.sha256()
        for name in weights.files:
            digest.update(f"{name}\0{file_sha256(options.model_dir / name)}\0".encode())
        return f"sha256:{digest.hexdigest()}"
    assert weights.hub is not None, "a ready codec without --model-dir has Hub weights"
    revision = weights.hub.revision
    if not weights.hub.pinned:  # a branch: the snapshot folder is named after the commit it resolved to
        snapshot = cached_snapshot(weights)
        if snapshot is not None and COMMIT_HASH.fullmatch(snapshot.name):
            revision = snapshot.name
    return f"hub:{weights.hub.repo_id}@{revision}"


@cache
def _file_sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per process for an unchanged file."""
    stat = path.stat()
    return _file_sha256_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


# The packages that do a codec's work, by family; classical codecs each have their own library.
_FAMILY_PACKAGES = {
    "anchor": ("codecbench", "scipy"),
    "neural": ("codecbench", "torch", "transformers"),
}
_CLASSICAL_PACKAGES = {"opus": ("av",), "codec2": ("pycodec2",)}


def codec_implementation(codec: str, family: str) -> str:
    """The packages (with versions) that run ``codec``: ``av 18.1.0`` for Opus, ..."""
    packages = _CLASSICAL_PACKAGES.get(codec) or _FAMILY_PACKAGES.get(family) or ("codecbench",)
    return ", ".join(f"{package} {package_version(package)}" for package in packages)
