"""Text shown to anyone who reaches the public pages carries no server paths.

Stored errors and notes name files where the server keeps them (a corpus under ``/data/...``, a
``--keep-audio`` folder); the public pages show only the file's own name.
"""

from __future__ import annotations

import re

import pandas as pd

# An absolute POSIX path of two components or more, not part of a URL or a longer word.
_SERVER_PATH = re.compile(r"(?<![\w/.~:-])/(?:[^\s/'\"`()\[\]{},;]+/)+([^\s/'\"`()\[\]{},;]*)")


def hide_server_paths(text: str) -> str:
    """``text`` with each absolute path replaced by ``…/`` and its last component."""
    return _SERVER_PATH.sub(lambda match: f"…/{match.group(1)}", text)


def hide_server_paths_in(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """A copy of ``frame`` whose text ``columns`` (those present) carry no server paths."""
    frame = frame.copy()
    for column in columns:
        if column in frame.columns:
            frame[column] = frame[column].map(lambda value: hide_server_paths(value) if isinstance(value, str) else value)
    return frame
