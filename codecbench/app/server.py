"""The web server: one FastAPI application holding the participant API and three Gradio apps.

* ``/``            the Listen and Leaderboard pages,
* ``/mushra/``     the MUSHRA participant page, its own Blocks so that nothing of the other pages
                   (codec names included) reaches a participant's browser,
* ``/admin/``      the MUSHRA Admin page (password-protected),
* ``/mushra-api/`` the JSON routes and stimulus audio the participant page's player uses.

Gradio apps are mounted with ``gr.mount_gradio_app`` (Gradio's documented way to combine them
with other routes) and served by uvicorn, in this thread or in a background one.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import gradio as gr
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from codecbench.app.admin_auth import AdminGate
from codecbench.app.admin_page import build_admin_page
from codecbench.app.leaderboard_page import build_leaderboard_page
from codecbench.app.listen_api import listen_api_router
from codecbench.app.listen_page import build_listen_page
from codecbench.app.mushra_api import BrowserKeyMiddleware, mushra_api_router
from codecbench.app.mushra_page import build_participant_page, player_assets
from codecbench.app.request_limits import (
    EVENT_MAX_BODY,
    PARTICIPANT_API_MAX_BODY,
    BodyLimit,
    RequestLimitsMiddleware,
)
from codecbench.app.settings import AppSettings
from codecbench.comparison import ReconstructionScorer
from codecbench.listening_test.design import ADMIN_PAGE_PATH, PARTICIPANT_PAGE_PATH
from codecbench.storage import Database, open_database


def build_server(settings: AppSettings, public_url: str) -> FastAPI:
    """The whole app as a FastAPI application (not yet served)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    database = open_database(settings.database_url)
    scorer = ReconstructionScorer(workers=settings.scoring_workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        try:
            yield
        finally:  # scoring workers may still be warming up: stop them rather than wait
            scorer.close()
            database.close()

    server = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    server.include_router(mushra_api_router(database))
    server.include_router(listen_api_router(settings.work_dir))
    server.add_middleware(BrowserKeyMiddleware, prefix=PARTICIPANT_PAGE_PATH)
    server.add_middleware(RequestLimitsMiddleware,
                          limits=[BodyLimit("/mushra-api/", PARTICIPANT_API_MAX_BODY), BodyLimit("/", EVENT_MAX_BODY)],
                          no_upload_prefixes=[PARTICIPANT_PAGE_PATH, ADMIN_PAGE_PATH],
                          upload_limits=[BodyLimit("/", settings.max_upload_bytes + 1024 * 1024)])
    for page_path in (PARTICIPANT_PAGE_PATH, ADMIN_PAGE_PATH):
        _redirect_to_slash(server, page_path.rstrip("/"))

    head, css = player_assets()
    participant_page = build_participant_page(database)
    participant_page.queue(default_concurrency_limit=None)
    _mount(server, participant_page, path=PARTICIPANT_PAGE_PATH.rstrip("/"), head=head, css=css,
           footer_links=[], run_history=False, show_error=False)
    admin_gate = AdminGate(settings.admin_password)  # one back-off for every page that asks the password
    admin_page = build_admin_page(database, admin_gate, public_url)
    admin_page.queue(default_concurrency_limit=4)
    _mount(server, admin_page, path=ADMIN_PAGE_PATH.rstrip("/"), footer_links=[], run_history=False, show_error=False)
    listen_app = build_app(settings, scorer, database, admin_gate)
    listen_app.queue(default_concurrency_limit=2)
    _mount(server, listen_app, path="/", allowed_paths=[str(settings.work_dir)], max_file_size=settings.max_upload_bytes,
           footer_links=["settings"], show_error=False)
    server.state.database = database
    return server


def build_app(
    settings: AppSettings = AppSettings(),
    scorer: ReconstructionScorer | None = None,
    database: Database | None = None,
    admin_gate: AdminGate | None = None,
) -> gr.Blocks:
    """The main pages (served at ``/``) as a ``gr.Blocks`` (not launched).

    ``scorer``: the Listen page's :class:`codecbench.comparison.ReconstructionScorer`.
    ``database``: the open :class:`codecbench.storage.Database` the Leaderboard page reads
    (default: opened from ``settings.database_url``).
    ``admin_gate``: the :class:`codecbench.app.admin_auth.AdminGate` its evaluation panel checks
    the admin password with (default: one of its own).
    """
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


def _mount(server: FastAPI, blocks: gr.Blocks, *, path: str, **options) -> None:
    """Mount a Gradio app with Gradio's file checks on.

    Gradio checks that a file given to an event was uploaded through it (and that a file an
    event returns lies in an allowed folder) only for apps it has launched: ``mount_gradio_app``
    leaves ``has_launched`` false, and every file-taking event would then open any server path
    a stranger names (reading its audio back, or telling whether it exists). Marking the app
    launched turns the checks on; nothing else in Gradio reads the flag.
    """
    gr.mount_gradio_app(server, blocks, path=path, **options)
    blocks.has_launched = True


def _redirect_to_slash(server: FastAPI, path: str) -> None:
    @server.get(path, include_in_schema=False)
    def redirect(request: Request) -> RedirectResponse:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"{path}/{query}", status_code=307)


@dataclass
class RunningServer:
    """A server started with ``block=False``; ``close()`` stops it."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(
    settings: AppSettings, *, host: str, port: int, block: bool, public_url: str | None = None
) -> RunningServer | None:
    """Serve the app on host:port; blocking, or in a background thread returning a :class:`RunningServer`."""
    url_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = f"http://{url_host}:{port}/"
    app = build_server(settings, public_url or url)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if block:
        print(f"codecbench app on {url} (MUSHRA participants: {url}mushra/..., admin: {url}admin/)", flush=True)
        server.run()
        return None
    server.install_signal_handlers = lambda: None  # not the main thread
    thread = threading.Thread(target=server.run, daemon=True, name="codecbench-app")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the app did not start on {host}:{port} (is the port in use?)")
        time.sleep(0.01)
    return RunningServer(server, thread, url)
