"""The codecbench web app (Gradio): one Blocks app whose tabs are the pages in this package."""

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
    """

    max_duration_s: float = 600.0
    work_dir: Path = field(default_factory=_default_work_dir)
    scoring_workers: int = 1
    database_url: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    public_url: str | None = None
    model_dirs: Mapping[str, Path] = field(default_factory=dict)
    device: str = "cpu"

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


def build_app(settings: AppSettings = AppSettings(), scorer=None, database=None, admin_gate=None):
    """The main pages (served at ``/``) as a ``gr.Blocks`` (not launched).

    ``scorer``: the Listen page's :class:`codecbench.comparison.ReconstructionScorer`.
    ``database``: the open :class:`codecbench.storage.Database` the Leaderboard page reads
    (default: opened from ``settings.database_url``).
    ``admin_gate``: the :class:`codecbench.app.admin_auth.AdminGate` its evaluation panel checks
    the admin password with (default: one of its own).
    """
    import gradio as gr

    from codecbench.app.admin_auth import AdminGate
    from codecbench.app.leaderboard_page import build_leaderboard_page
    from codecbench.app.listen_page import build_listen_page
    from codecbench.storage import open_database

    if database is None:
        database = open_database(settings.database_url)
    with gr.Blocks(title="codecbench") as app:
        gr.Markdown("# codecbench\nListen to speech codecs side by side, and see the leaderboards of scored "
                    "test sets. MUSHRA tests: [Admin](/admin/).")
        with gr.Tab("Listen"):
            build_listen_page(settings, scorer)
        with gr.Tab("Leaderboard", elem_id="tab-leaderboard") as leaderboard_tab:
            build_leaderboard_page(settings, database, admin_gate or AdminGate(settings.admin_password),
                                   leaderboard_tab)
    return app


def launch(settings: AppSettings = AppSettings(), *, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Serve the whole app (see :mod:`codecbench.app.server`).

    With ``block=False`` the server runs in a background thread and ``(server, url)`` is
    returned; ``server.close()`` stops it.
    """
    from codecbench.app.server import serve

    settings.work_dir.mkdir(parents=True, exist_ok=True)
    running = serve(settings, host=host, port=port, block=block, public_url=settings.public_url)
    return (running, running.url) if running is not None else (None, f"http://{host}:{port}/")
