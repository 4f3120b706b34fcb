"""Checks the commands make of their arguments before any work: outputs that could not be
written, and durations that are not durations. Errors exit with status 1, one line each, like
every other input error."""

from __future__ import annotations

import math
from pathlib import Path

import click


def check_writable(path: Path | None, option: str, *, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse, before any work, an output that could not be written afterwards: a folder, a
    file or folder this user cannot create there (``/proc/x``, a read-only file system), a
    place under a file, or one of the command's ``inputs`` (it would be overwritten). Missing
    folders are made when writing; nothing is left behind here."""
    if path is None:
        return
    for input_path in inputs:
        if path.exists() and input_path.exists() and path.resolve() == input_path.resolve():
            raise click.ClickException(
                f"{option} {path}: is the input {input_path}; writing there would overwrite it. Give another file name.")
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


#: Shorter than a codec's frame, far below any limit someone means (10 ms).
MIN_SECONDS = 0.01


class Seconds(click.ParamType):
    """A duration in seconds: a finite number of at least :data:`MIN_SECONDS` (``nan``, ``inf``, 0,
    negatives and ``1e-300`` refused)."""

    name = "SECONDS"

    def convert(self, value, param, ctx):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a duration: give a number of seconds above 0.", param, ctx)
        if seconds < MIN_SECONDS:
            self.fail(f"{value!r} seconds is shorter than any clip can be: give at least {MIN_SECONDS:g}.", param, ctx)
        return seconds


SECONDS = Seconds()
