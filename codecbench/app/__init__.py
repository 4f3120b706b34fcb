"""The codecbench web app (Gradio): the pages in this package, served by :mod:`codecbench.app.server`.

Importing the package loads no page (nor Gradio, nor the server): :func:`launch` imports them
when called, so :class:`AppSettings` (:mod:`codecbench.app.settings`) can be used by code that
never serves a page, and the pages, which import the settings, never import each other
through this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codecbench.app.settings import AppSettings

if TYPE_CHECKING:
    from codecbench.app.server import RunningServer

__all__ = ["AppSettings", "launch"]


def launch(
    settings: AppSettings = AppSettings(), *, host: str = "127.0.0.1", port: int = 7860, block: bool = True
) -> tuple[RunningServer | None, str]:
    """Serve the whole app (see :mod:`codecbench.app.server`).

    With ``block=False`` the server runs in a background thread and ``(server, url)`` is
    returned; ``server.close()`` stops it.
    """
    from codecbench.app.server import serve

    settings.work_dir.mkdir(parents=True, exist_ok=True)
    running = serve(settings, host=host, port=port, block=block, public_url=settings.public_url)
    return (running, running.url) if running is not None else (None, f"http://{host}:{port}/")
