"""Model weights: where a neural codec finds them, and how ``codecbench download`` fetches them.

Weights come from the Hugging Face Hub into codecbench's own Hub cache, ``hub/`` under the
codecbench home directory (so ``CODECBENCH_HOME`` moves it), pinned to one revision per codec;
or from a local model directory the user names with ``--model-dir``. Loading a codec never
downloads anything: a codec whose weights are missing is not ready, and its readiness says
which command fetches them. Optional files (FACodec's redecoder) are downloaded with the rest
and loaded when present; a codec without them is ready, and its readiness notes what it lacks
(a downloaded snapshot lacks one only when the repository has none at that revision, so the
remedy is a model directory, not another download).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from codecbench.codecs.base import LoadOptions, Readiness
from codecbench.paths import codecbench_home

COMMIT_HASH = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class HubCheckpoint:
    """A model repository on the Hugging Face Hub, at one revision.

    Args:
        repo_id: ``owner/name``.
        revision: the commit to download, or ``main`` where no commit could be pinned.
    """

    repo_id: str
    revision: str

    def __post_init__(self) -> None:
        if self.repo_id.count("/") != 1:
            raise ValueError(f"Hub repository {self.repo_id!r} must be written owner/name")

    @property
    def pinned(self) -> bool:
        """Whether the revision is a commit hash (a branch name can move under us)."""
        return COMMIT_HASH.fullmatch(self.revision) is not None

    def describe(self) -> str:
        return f"{self.repo_id}@{self.revision[:7] if self.pinned else self.revision}"


@dataclass(frozen=True)
class OptionalFile:
    """A file a codec loads when it is there and runs without.

    Args:
        name: file name in the model directory.
        needed_for: the feature it gives (``"voice conversion"``), noted in readiness when the
            file is missing; ``None`` for a file that only changes how the model is built (a
            configuration whose absence means the published settings).
    """

    name: str
    needed_for: str | None = None


@dataclass(frozen=True)
class Weights:
    """The files a neural codec loads and where codecbench gets them.

    Args:
        files: names the model directory must hold.
        hub: where ``codecbench download`` fetches them; ``None`` for codecs that only load a
            local directory (``funcodec --model-dir DIR``).
        optional_files: files loaded when present; a directory without them still loads.

    ``codecbench download`` fetches exactly ``files`` and ``optional_files``.
    """

    files: tuple[str, ...]
    hub: HubCheckpoint | None = None
    optional_files: tuple[OptionalFile, ...] = ()

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("weights must name at least one file")

    @property
    def download_files(self) -> tuple[str, ...]:
        return self.files + tuple(optional.name for optional in self.optional_files)

    def describe_files(self) -> str:
        return " and ".join(", ".join(self.files).rsplit(", ", 1))


def hub_cache_dir() -> Path:
    """codecbench's Hugging Face Hub cache (laid out as ``huggingface_hub`` lays out its own)."""
    return codecbench_home() / "hub"


def cached_snapshot(weights: Weights) -> Path | None:
    """The complete cached snapshot of ``weights.hub``, or ``None``. Never touches the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import IncompleteSnapshotError, LocalEntryNotFoundError

    if weights.hub is None:
        return None
    try:
        folder = snapshot_download(
            weights.hub.repo_id,
            revision=weights.hub.revision,
            cache_dir=hub_cache_dir(),
            allow_patterns=list(weights.files),
            local_files_only=True,
        )
    except (LocalEntryNotFoundError, IncompleteSnapshotError):
        return None
    folder = Path(folder)
    return folder if not _missing_files(folder, weights) else None


def download(name: str, weights: Weights) -> Path:
    """Fetch codec ``name``'s weights into the Hub cache (with a progress bar) and return their folder.

    Files already in the cache are not fetched again.

    Raises:
        ValueError: the codec has no Hub checkpoint (it loads a local directory).
        RuntimeError: the download failed or came back without the expected files; the
            message says why.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if weights.hub is None:
        raise ValueError(
            f"{name} has nothing to download: it loads a model directory you give it "
            f"(--model-dir DIR holding {weights.describe_files()})."
        )
    try:
        folder = Path(
            snapshot_download(
                weights.hub.repo_id,
                revision=weights.hub.revision,
                cache_dir=hub_cache_dir(),
                allow_patterns=list(weights.download_files),
            )
        )
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as error:
        raise RuntimeError(
            f"could not download {weights.hub.describe()} for {name}: {error}. Check the network "
            f"connection (and HF_HUB_OFFLINE), or put the files ({weights.describe_files()}) in a "
            "directory and pass --model-dir DIR."
        ) from error
    missing = _missing_files(folder, weights)
    if missing:
        raise RuntimeError(
            f"{weights.hub.describe()} does not contain {', '.join(missing)}; codecbench cannot load {name} from it."
        )
    return folder


def model_dir_readiness(directory: Path, weights: Weights) -> Readiness:
    """Whether a user-given model directory holds the files ``weights`` names."""
    remedy = f"Pass --model-dir DIR holding {weights.describe_files()}."
    if not directory.is_dir():
        return Readiness(False, f"the model directory {directory} does not exist.", remedy)
    missing = _missing_files(directory, weights)
    if missing:
        return Readiness(False, f"the model directory {directory} has no {', '.join(missing)}.", remedy)
    return Readiness.ok()


def weights_readiness(name: str, weights: Weights, options: LoadOptions) -> Readiness:
    """Whether codec ``name`` has its weights, and if not, the one command that gets them.

    A ready codec's readiness notes the optional files it lacks.
    """
    if options.model_dir is not None:
        state = model_dir_readiness(options.model_dir, weights)
        if not state.ready:
            return state
    elif weights.hub is None:
        return Readiness(
            False,
            "it loads a model from a directory you give it.",
            f"Pass --model-dir DIR holding {weights.describe_files()}.",
        )
    elif cached_snapshot(weights) is None:
        return Readiness(
            False,
            f"its weights ({weights.hub.describe()}) are not downloaded.",
            f"Run `codecbench download {name}` (or pass --model-dir DIR holding {weights.describe_files()}).",
        )
    notes = []
    for optional in weights.optional_files:
        if optional.needed_for is None:
            continue
        state = optional_file_readiness(name, weights, optional, options)
        if not state.ready:
            notes.append(f"no {optional.needed_for}: {state.reason} {state.remedy}")
    return Readiness(True, note=" ".join(notes) or None)


def optional_file_readiness(name: str, weights: Weights, optional: OptionalFile, options: LoadOptions) -> Readiness:
    """Whether codec ``name``'s ``optional`` file is there; if not, why not and how to get it.

    Call after :func:`weights_readiness` said ready.
    """
    folder = weights_dir(weights, options)
    if (folder / optional.name).is_file():
        return Readiness.ok()
    if options.model_dir is not None:
        source = f" from https://huggingface.co/{weights.hub.repo_id}" if weights.hub is not None else ""
        return Readiness(False, f"the model directory {folder} has no {optional.name}.", f"Copy it there{source}.")
    # ``codecbench download`` fetches optional files with the others, so a snapshot without
    # one comes from a repository revision that has none: downloading again would not help.
    assert weights.hub is not None, "a snapshot folder without --model-dir comes from the Hub"
    return Readiness(
        False,
        f"{weights.hub.repo_id} has no {optional.name} at revision {folder.name[:7]}.",
        f"Put {optional.name} in a directory with {weights.describe_files()} and pass --model-dir DIR.",
    )


def weights_dir(weights: Weights, options: LoadOptions) -> Path:
    """The directory to load from: the user's ``--model-dir``, else the cached snapshot.

    Call after :func:`weights_readiness` said ready.
    """
    if options.model_dir is not None:
        return options.model_dir
    folder = cached_snapshot(weights)
    assert folder is not None, "weights_dir called for weights that are not present"
    return folder


def _missing_files(folder: Path, weights: Weights) -> list[str]:
    return [name for name in weights.files if not (folder / name).is_file()]
