"""The one way tests run the ``codecbench`` command as a user does: a subprocess of the installed script.

Tests that need no subprocess (parsing, messages) use click's ``CliRunner`` on
:data:`codecbench.cli.main` instead; this helper is for what only a real process shows (exit
codes after signals, the environment, imports at start-up).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: The ``codecbench`` script installed beside this Python.
CODECBENCH = str(Path(sys.executable).with_name("codecbench"))
#: Long enough for an evaluation of a small corpus on a loaded machine; a hang still ends.
DEFAULT_TIMEOUT_S = 600.0


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, home: Path | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run ``codecbench ARGS`` and capture its output as text.

    Args:
        args: the command line after ``codecbench``.
        env: variables set on top of this process's environment.
        home: the codecbench home (``$CODECBENCH_HOME``) to run with.
        timeout: seconds before the run is killed and the test fails.
    """
    environment = {**os.environ, **(env or {})}
    if home is not None:
        environment["CODECBENCH_HOME"] = str(home)
    return subprocess.run([CODECBENCH, *args], capture_output=True, text=True, timeout=timeout, env=environment)
