"""Model weights: where a neural codec finds them, and how ``codecbench download`` fetches them.

Weights come from the Hugging Face Hub into codecbench's own Hub cache, ``hub/`` under the
codecbench home directory (so ``CODECBENCH_HOME`` moves it), pinned to one revision per codec;
or from a local model directory the user names with ``--model-dir``. Loading a codec never
downloads anything: a codec whose weights are missing is not ready, and its readiness says
which command fetches them.
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
class Weights:
    """The files a neural codec loads and where codecbench gets them.

    Args:
        files: names the model directory must hold; also exactly what is downloaded.
        hub: where ``codecbench download`` fetches them; ``None`` for codecs that only load a
            local directory (``funcodec --model-dir DIR``).
    """

    files: tuple[str, ...]
    hub: HubCheckpoint | None = None

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("weights must name at least one file")

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
                allow_patterns=list(weights.files),
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
    """Whether codec ``name`` has its weights, and if not, the one command that gets them."""
    if options.model_dir is not None:
        return model_dir_readiness(options.model_dir, weights)
    if weights.hub is None:
        return Readiness(
            False,
            "it loads a model from a directory you give it.",
            f"Pass --model-dir DIR holding {weights.describe_files()}.",
        )
    if cached_snapshot(weights) is None:
        return Readiness(
            False,
            f"its weights ({weights.hub.describe()}) are not downloaded.",
            f"Run `codecbench download {name}` (or pass --model-dir DIR holding {weights.describe_files()}).",
        )
    return Readiness.ok()


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
