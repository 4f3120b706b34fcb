"""HTTP routes of the Listen page's player and downloads, under ``/listen-api/``.

* ``runs/{run_id}/state``        the comparison's manifest and scores so far (JSON, polled),
* ``runs/{run_id}/files/{name}`` one file the manifest names (audio or spectrogram strip),
* ``runs/{run_id}/download.zip`` the original, the reconstructions and ``scores.csv``,
* ``runs/{run_id}/scores.csv``   the scores alone.

The app faces strangers. A run id is 192 random bits, known only to the browser that ran the
comparison (and whoever it shares it with); it must match :data:`RUN_ID_PATTERN` exactly, and a
file is served only when the run's manifest names it, so no path a request spells out ever
reaches the file system. Every refusal is the same 404, whether or not the thing exists.
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from codecbench.comparison_record import MANIFEST, read_record, scores_csv, served_files, write_zip
from codecbench.run_folders import RUN_ID_PATTERN

PREFIX = "/listen-api"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
MEDIA_TYPES = {".wav": "audio/wav", ".png": "image/png"}
# Zips written at once (each reads every WAV of a comparison); more requests get a 503.
ZIP_WRITERS = 2
CHUNK_BYTES = 1 << 20


def listen_api_router(work_dir: Path) -> APIRouter:
    """The routes, serving only run folders directly under ``work_dir``."""
    router = APIRouter(prefix=PREFIX)
    root = work_dir.resolve()
    zip_slots = threading.BoundedSemaphore(ZIP_WRITERS)

    @router.get("/runs/{run_id}/state")
    def state(run_id: str) -> JSONResponse:
        return JSONResponse(_record(root, run_id)[1], headers=NO_STORE)

    @router.get("/runs/{run_id}/files/{name}")
    def file(run_id: str, name: str) -> FileResponse:
        run_dir, record = _record(root, run_id)
        if name not in served_files(record) or Path(name).suffix not in MEDIA_TYPES:
            raise _not_found()
        return FileResponse(run_dir / name, media_type=MEDIA_TYPES[Path(name).suffix], headers=NO_STORE)

    @router.get("/runs/{run_id}/download.zip")
    def download_zip(run_id: str) -> Response:
        run_dir, record = _record(root, run_id)
        # A zip can be hundreds of MB (10 minutes through many conditions): it is written to a
        # temporary file, never held in memory, and only a few are written at once.
        if not zip_slots.acquire(blocking=False):
            raise HTTPException(status_code=503, detail="Busy writing other downloads; try again in a moment.",
                                headers={"Retry-After": "5"})
        spool = tempfile.TemporaryFile()
        try:
            write_zip(run_dir, record, spool)
            size = spool.tell()
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        finally:
            zip_slots.release()
        return StreamingResponse(iter(lambda: spool.read(CHUNK_BYTES), b""), media_type="application/zip",
                                 background=BackgroundTask(spool.close),
                                 headers={**NO_STORE, "Content-Length": str(size),
                                          "Content-Disposition": 'attachment; filename="comparison.zip"'})

    @router.get("/runs/{run_id}/scores.csv")
    def download_scores(run_id: str) -> Response:
        _, record = _record(root, run_id)
        return Response(scores_csv(record), media_type="text/csv; charset=utf-8",
                        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="scores.csv"'})

    return router


def _record(root: Path, run_id: str) -> tuple[Path, dict[str, Any]]:
    """The run folder and its record, or the one 404 for anything else."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise _not_found()
    run_dir = root / run_id
    if run_dir.resolve().parent != root or not (run_dir / MANIFEST).is_file():
        raise _not_found()
    try:
        return run_dir, read_record(run_dir)
    except (OSError, ValueError, json.JSONDecodeError):
        raise _not_found() from None


def _not_found() -> HTTPException:
    return HTTPException(status_code=404, detail="No such comparison (comparisons are kept for a day).")
