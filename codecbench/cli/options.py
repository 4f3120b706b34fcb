"""Options and helpers that several commands share, declared once.

``--device``, ``--db``, ``--max-duration``, ``--subtype`` and ``--model-dir`` mean the same in
every command that has them. ``--model-dir`` has one grammar, ``[CODEC=]DIR``, read by
:func:`parse_model_dir`: a command that runs one codec takes ``DIR`` alone (or ``CODEC=DIR``
naming that codec), a command that runs several takes ``CODEC=DIR``, repeatable.

This module imports only click and the standard library, so that ``codecbench --help`` stays
fast; what a helper needs beyond that is imported when it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from codecbench.cli.checks import SECONDS

if TYPE_CHECKING:
    from codecbench.storage import Database

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
#: The longest input the commands and the app take unless told otherwise (--max-duration): an
#: hour-long pair took 57 s and 6.9 GB to score.
DEFAULT_MAX_DURATION_S = 600.0

DEVICE_HELP = "Where neural codecs run: cpu, cuda or cuda:N."


def device_option(help: str = DEVICE_HELP) -> Callable[[F], F]:
    """``--device`` (default ``cpu``); checked when the codec is loaded."""
    return click.option("--device", default="cpu", show_default=True, help=help)


def database_option(command: F) -> F:
    """``--db URL`` (default: ``$CODECBENCH_DB``, else a SQLite file in the codecbench home)."""
    return click.option(
        "--db", "database_url", default=None, metavar="URL",
        help="SQLAlchemy database URL (default: $CODECBENCH_DB, else codecbench.sqlite3 in the codecbench home).",
    )(command)


def max_duration_option(help: str) -> Callable[[F], F]:
    """``--max-duration SECONDS`` (default :data:`DEFAULT_MAX_DURATION_S`); ``help`` says what
    the command does with longer input."""
    return click.option("--max-duration", type=SECONDS, default=DEFAULT_MAX_DURATION_S, show_default=True, help=help)


subtype_option = click.option(
    "--subtype", type=click.Choice(["PCM_16", "PCM_24", "FLOAT"], case_sensitive=False), default=None,
    help="Sample format of a .wav or .flac output: PCM_16 (the default), PCM_24, or FLOAT (.wav only; the "
    "codec's output exactly as computed).",
)


class LazyHelpOption(click.Option):
    """An option whose help text is written only when help is shown.

    The metric names in ``--metrics`` help come from the metric registry; writing them when the
    command is declared would import the registry on every ``codecbench`` call, ``--help``
    included. ``help_from`` is called once, the first time the help is shown.
    """

    def __init__(self, *args: Any, help_from: Callable[[], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._help_from = help_from

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        if self.help is None:
            self.help = self._help_from()
        return super().get_help_record(ctx)


# ------------------------------------------------------------------------------ --model-dir

MODEL_DIR_METAVAR = "[CODEC=]DIR"
#: What may stand before ``=`` as a codec name; anything else (``./a=b``) is a directory.
_CODEC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ModelDir(NamedTuple):
    """One ``--model-dir`` value: the codec it names (``None`` for ``DIR`` alone) and the directory."""

    codec: str | None
    path: Path


def parse_model_dir(text: str) -> ModelDir:
    """Read ``[CODEC=]DIR``: ``funcodec=./m`` names a codec, ``./m`` or ``./a=b`` does not.

    Text before the first ``=`` counts as a codec name when it looks like one (letters, digits,
    ``_``, ``.``, ``-``); write a directory holding ``=`` as ``./NAME=...``.

    Raises:
        ValueError: an empty directory, an unknown codec (the message lists the close ones),
            or a path that is a file.
    """
    name, separator, directory = text.partition("=")
    codec: str | None = None
    if separator and not name:
        raise ValueError(f"--model-dir {text!r}: the codec name before '=' is empty; write CODEC=DIR or DIR")
    if separator and _CODEC_NAME.fullmatch(name):
        codec = name
    else:
        directory = text
    if not directory.strip():
        raise ValueError(f"--model-dir {text!r}: give a directory, as DIR or CODEC=DIR (e.g. funcodec=./my_model)")
    if codec is not None:
        from codecbench.codecs import get_entry

        get_entry(codec)  # ValueError naming the known codecs
    path = Path(directory)
    if path.is_file():
        raise ValueError(f"--model-dir {text!r}: {directory} is a file; give the directory holding the model's files")
    return ModelDir(codec, path)


def model_dir_for(codec: str, text: str | None) -> Path | None:
    """The ``--model-dir`` of a command that runs one codec, ``codec``.

    Raises:
        click.ClickException: a value :func:`parse_model_dir` refuses, or one naming another codec.
    """
    if text is None:
        return None
    try:
        model_dir = parse_model_dir(text)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if model_dir.codec is not None and model_dir.codec != codec:
        raise click.ClickException(
            f"--model-dir {text!r}: names {model_dir.codec}, but this command runs {codec}; write DIR or {codec}=DIR"
        )
    return model_dir.path


def model_dirs_by_codec(texts: Sequence[str]) -> dict[str, Path]:
    """The ``--model-dir`` values of a command that runs several codecs, as codec -> directory.

    Raises:
        click.ClickException: a value :func:`parse_model_dir` refuses, ``DIR`` alone (which
            codec would it be for?), or two directories for one codec.
    """
    model_dirs: dict[str, Path] = {}
    for text in texts:
        try:
            model_dir = parse_model_dir(text)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        if model_dir.codec is None:
            raise click.ClickException(
                f"--model-dir {text!r}: write CODEC=DIR, e.g. funcodec=./my_model (this command runs several codecs)"
            )
        if model_dir.codec in model_dirs and model_dirs[model_dir.codec] != model_dir.path:
            raise click.ClickException(
                f"--model-dir {text!r}: {model_dir.codec} already has --model-dir {model_dirs[model_dir.codec]}; "
                "give one directory per codec"
            )
        model_dirs[model_dir.codec] = model_dir.path
    return model_dirs


def model_dir_option(*, several_codecs: bool, help: str | None = None) -> Callable[[F], F]:
    """``--model-dir [CODEC=]DIR``: one value (parameter ``model_dir``) for a command that runs one
    codec, repeatable ``CODEC=DIR`` (parameter ``model_dirs``) for one that runs several.

    Commands read the values with :func:`model_dir_for` or :func:`model_dirs_by_codec`.
    """
    if several_codecs:
        return click.option(
            "--model-dir", "model_dirs", multiple=True, metavar="CODEC=DIR",
            help=help or "Load CODEC's weights from DIR (repeatable), e.g. funcodec=./my_model.",
        )
    return click.option(
        "--model-dir", "model_dir", default=None, metavar=MODEL_DIR_METAVAR,
        help=help or "Load the codec's weights from DIR instead of codecbench's Hub cache (CODEC=DIR: the same, "
        "naming the codec).",
    )


# ------------------------------------------------------------------------------ database


def open_database_or_exit(database_url: str | None) -> Database:
    """Open the database, or exit with the reason (a malformed URL, an unreachable server, ...)."""
    from codecbench.storage import DatabaseError, open_database

    try:
        return open_database(database_url)
    except (ValueError, DatabaseError) as error:
        raise click.ClickException(str(error)) from None


@contextmanager
def opened_database(database_url: str | None) -> Iterator[Database]:
    """The database for the length of a ``with`` block, closed after it, errors or not."""
    database = open_database_or_exit(database_url)
    try:
        yield database
    finally:
        database.close()


# ------------------------------------------------------------------------------ metrics


def metrics_option(
    *, default_from: Callable[[], Sequence[str]], flags: Sequence[str] = ("-m", "--metrics")
) -> Callable[[F], F]:
    """``--metrics NAME,NAME``, its help (names and default) written from the metric registry
    when shown. The value is ``None`` when the option is not given: the command then uses
    ``default_from()``."""

    def help_text() -> str:
        from codecbench.evaluation.metrics.registry import metric_help_text

        return metric_help_text(default=default_from())

    return click.option(*flags, "metrics", default=None, cls=LazyHelpOption, help_from=help_text)


def _visqol_protocol_help() -> str:
    from codecbench.evaluation.metrics.registry import DEFAULT_VISQOL_PROTOCOL, VISQOL_PROTOCOL_NAMES

    return (f"ViSQOL protocol: {', '.join(VISQOL_PROTOCOL_NAMES)}; repeat for several.  "
            f"[default: {DEFAULT_VISQOL_PROTOCOL}]")


#: An unknown protocol is refused with the list by ``ScoringConfig``.
visqol_protocol_option = click.option(
    "--visqol-protocol", "visqol_protocols", multiple=True, cls=LazyHelpOption, help_from=_visqol_protocol_help,
)
