"""Leaderboard charts written as standalone HTML files that open offline.

plotly.js is written once beside the charts (``plotly.min.js``, about 3.5 MB) and each chart's
HTML loads it by a relative path, so a folder of charts needs no network and carries one copy
of the library, not one per file.
"""

from __future__ import annotations

import re
from pathlib import Path

from codecbench.evaluation.leaderboard import Leaderboard

PLOTLY_JS = "plotly.min.js"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def chart_file_name(testset: str) -> str:
    """A file name for the chart of ``testset``: its name with anything but letters, digits,
    ``.``, ``_`` and ``-`` percent-encoded (no ``/``, no leading dot), then ``.html``."""
    name = _UNSAFE.sub(lambda match: "".join(f"%{byte:02X}" for byte in match.group().encode()), testset)
    if name.startswith("."):
        name = "%2E" + name[1:]
    return f"{name}.html"


def write_plotly_js(folder: Path) -> Path:
    """``folder/plotly.min.js``: the plotly.js bundled with the installed plotly, written when
    missing or different."""
    from plotly.offline import get_plotlyjs

    path = folder / PLOTLY_JS
    script = get_plotlyjs()
    if not path.is_file() or path.stat().st_size != len(script.encode()):
        path.write_text(script, encoding="utf-8")
    return path


def write_charts(board: Leaderboard, folder: Path) -> list[Path]:
    """A quality-vs-bitrate chart per test set of ``board`` in ``folder`` (made if needed),
    loading :data:`PLOTLY_JS` from beside it; returns the chart files."""
    folder.mkdir(parents=True, exist_ok=True)
    write_plotly_js(folder)
    paths = []
    for testset in board.testsets:
        path = folder / chart_file_name(testset)
        board.chart(testset).write_html(path, include_plotlyjs=PLOTLY_JS, full_html=True)
        paths.append(path)
    return paths
