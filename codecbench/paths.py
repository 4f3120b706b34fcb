"""Where codecbench keeps its files: one home directory, movable with ``CODECBENCH_HOME``."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "CODECBENCH_HOME"


def codecbench_home() -> Path:
    """The codecbench home directory (``$CODECBENCH_HOME``, else ``~/.cache/codecbench``), created on use."""
    home = Path(os.environ.get(HOME_ENV) or Path.home() / ".cache" / "codecbench").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home
