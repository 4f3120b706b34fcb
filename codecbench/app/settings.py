"""Settings shared by every page of the web app.

A module of its own so that pages, the server and the command line can import the settings
without importing the app package's pages (and the pages without importing each other).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codecbench.codecs.base import LoadOptions


def _default_work_dir() -> Path:
    return Path(tempfile.gettempdir()) / "codecbench-app"


@dataclass(frozen=True)
class AppSettings:
    """Settings shared by every page.

    Args:
        max_duration_s: longest upload accepted on the Listen page.
        work_dir: where reconstructions and plots are written for the browser to fetch.
        scoring_workers: worker processes that score reconstructions (one core each).
        database_url: the database of MUSHRA tests and evaluation results (see
            :func:`codecbench.storage.open_database`).
        admin_password: password of the Admin page; without one the Admin page refuses everything.
        public_url: the address participants reach the app at, for links shown on the Admin page
            (default: the address the app listens on).
        model_dirs: codec name -> local model directory to load instead of the Hub cache.
        device: where neural codecs run (``cpu``, ``cuda``, ``cuda:N``).
        ray_address: a Ray cluster the Leaderboard page's "Run an evaluation" panel may run on
            (``codecbench app --ray-address``); ``None``: runs stay on this server.
    """

    max_duration_s: float = 600.0
    work_dir: Path = field(default_factory=_default_work_dir)
    scoring_workers: int = 1
    database_url: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    public_url: str | None = None
    model_dirs: Mapping[str, Path] = field(default_factory=dict)
    device: str = "cpu"
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.scoring_workers < 1:
            raise ValueError(f"scoring_workers must be at least 1, got {self.scoring_workers}")
        LoadOptions(device=self.device)  # validates the device string

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload the Listen page takes: ``max_duration_s`` of 48 kHz stereo 32-bit
        audio (the largest WAV a researcher would bring), plus 1 MB for headers and metadata."""
        return math.ceil(self.max_duration_s * 48_000 * 2 * 4) + 1024 * 1024

    def load_options(self, codec: str) -> LoadOptions:
        """How the app loads ``codec``."""
        return LoadOptions(model_dir=self.model_dirs.get(codec), device=self.device)
