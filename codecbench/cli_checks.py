"""Checks the commands make of their arguments before any work: outputs that could not be
written, and durations that are not durations. Errors exit with status 1, one line each, like
every other input error."""

from __future__ import annotations

import math
from pathlib import Path

import click


def check_writable(path: Path | None, option: str) -> None:
    """Refuse, before any work, an output that could not be written afterwards: a folder, a
    file or folder this user cannot create there (``/proc/x``, a read-only file system), or a
    place under a file. Missing folders are made when writing; nothing is left behind here."""
    if path is None:
        return
    if path.is_dir():
        raise click.ClickException(f"{option} {path}: is a folder; give a file name.")
    missing = [parent for parent in path.parents if not parent.exists()]
    nearest = path.parents[len(missing)] if len(missing) < len(path.parents) else Path(".")
    if not nearest.is_dir():
        raise click.ClickException(f"{option} {path}: cannot be made: {nearest} is a file, not a folder.")
    try:
        if missing:  # try the top-most missing folder
            missing[-1].mkdir()
            missing[-1].rmdir()
        elif path.exists():
            with open(path, "ab"):
                pass
        else:
            with open(path, "xb"):
                pass
            path.unlink()
    except OSError as error:
        raise click.ClickException(f"{option} {path}: cannot be written ({error.strerror or error}).") from None


class Seconds(click.ParamType):
    """A duration in seconds: a finite number above 0 (``nan``, ``inf``, 0 and negatives refused)."""

    name = "SECONDS"

    def convert(self, value, param, ctx):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a duration: give a number of seconds above 0.", param, ctx)
        return seconds


SECONDS = Seconds()
