"""The codecbench web app (Gradio): one Blocks app whose tabs are the pages in this package."""

from __future__ import annotations

import os
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
        model_dirs: codec name -> local model directory to load instead of the Hub cache.
        device: where neural codecs run (``cpu``, ``cuda``, ``cuda:N``).
    """

    max_duration_s: float = 600.0
    work_dir: Path = field(default_factory=_default_work_dir)
    model_dirs: Mapping[str, Path] = field(default_factory=dict)
    device: str = "cpu"

    def __post_init__(self) -> None:
        LoadOptions(device=self.device)  # validates the device string

    def load_options(self, codec: str) -> LoadOptions:
        """How the app loads ``codec``."""
        return LoadOptions(model_dir=self.model_dirs.get(codec), device=self.device)


def build_app(settings: AppSettings = AppSettings()):
    """The whole app as a ``gr.Blocks`` (not launched)."""
    import gradio as gr

    from codecbench.app.listen_page import build_listen_page

    with gr.Blocks(title="codecbench") as app:
        gr.Markdown("# codecbench\nListen to speech codecs side by side.")
        with gr.Tab("Listen"):
            build_listen_page(settings)
    return app


def launch(settings: AppSettings = AppSettings(), *, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Build and serve the app; with ``block=False`` return ``(app, url)`` with the server running."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    app.queue(default_concurrency_limit=2)
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        allowed_paths=[str(settings.work_dir)],
        footer_links=["settings"],
        show_error=True,
        max_file_size="1gb",
        quiet=not block,
    )
    return app, url
