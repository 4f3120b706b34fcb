"""Layering: the engine never imports the app or the Listen page, and the app's settings import no page.

Each import runs in a fresh interpreter, so what it pulls in shows in ``sys.modules`` unmasked
by what other tests have imported.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "codecbench"


def modules_loaded_by(module: str) -> set[str]:
    """The modules a fresh interpreter holds after ``import module``."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def _within(loaded: set[str], *packages: str) -> set[str]:
    return {name for name in loaded for package in packages if name == package or name.startswith(f"{package}.")}


@pytest.mark.parametrize(
    "engine_module",
    [
        "codecbench.codecs.condition",
        "codecbench.evaluation.conditions",
        "codecbench.evaluation.runner",
        "codecbench.evaluation.reproduce",
        "codecbench.evaluation.store",
    ],
)
def test_the_engine_imports_neither_the_app_nor_the_listen_comparison(engine_module):
    loaded = modules_loaded_by(engine_module)
    assert not _within(loaded, "codecbench.app", "codecbench.comparison", "codecbench.comparison_record", "gradio")


def test_a_condition_needs_only_the_codecs():
    loaded = modules_loaded_by("codecbench.codecs.condition")
    assert not _within(loaded, "codecbench.evaluation", "codecbench.listening_test", "codecbench.storage")


@pytest.mark.parametrize("module", ["codecbench.app", "codecbench.app.settings"])
def test_the_app_settings_import_no_page_no_server_and_no_gradio(module):
    loaded = modules_loaded_by(module)
    assert _within(loaded, "codecbench.app") == {"codecbench.app", "codecbench.app.settings"}
    assert not _within(loaded, "gradio", "fastapi", "codecbench.comparison")


def test_the_audio_package_stands_on_its_own():
    loaded = modules_loaded_by("codecbench.audio")
    codecbench_modules = _within(loaded, "codecbench")
    assert codecbench_modules <= {"codecbench", "codecbench.audio"} | _within(loaded, "codecbench.audio")
    assert "av" not in loaded, "FFmpeg (PyAV) is imported only when a file needs it"


def _imported_modules(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    return imported


def test_the_runner_leaves_sql_to_the_store():
    imported = _imported_modules(PACKAGE / "evaluation" / "runner.py")
    assert not {name for name in imported if name.split(".")[0] == "sqlalchemy"}
    assert "codecbench.storage.evaluation_tables" not in imported
