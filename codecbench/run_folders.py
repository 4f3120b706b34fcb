"""Run folders: one private folder per comparison or reconstruction under the app's work folder.

A folder's name is its run id (``run-`` and 192 random bits): whoever knows it may download
what it holds, so it must not be guessable; folders older than a day are removed as new ones
are made. Used by the Listen page, the leaderboard's reconstructions and voice conversion.
"""

from __future__ import annotations

import re
import secrets
import shutil
import time
from pathlib import Path

RUN_ID_PATTERN = re.compile(r"run-[A-Za-z0-9_-]{32}")


def new_run_dir(work_dir: Path, *, keep_s: float = 24 * 3600) -> Path:
    """A fresh folder under ``work_dir`` for one comparison; folders older than ``keep_s`` go.

    Its name (``run-`` and 192 random bits) is the comparison's run id: whoever knows it may
    download the comparison, so it must not be guessable.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - keep_s
    for old in work_dir.glob("run-*"):
        if old.is_dir() and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
    run_dir = work_dir / f"run-{secrets.token_urlsafe(24)}"
    run_dir.mkdir(mode=0o700)
    return run_dir
