"""The Leaderboard page's event handlers, as plain functions of the database, the settings and
the values of the page's components.

:mod:`codecbench.app.leaderboard_page` lays the page out and wires these to its events (with
:func:`functools.partial` for the database and settings, or a :class:`CellChooser` where Gradio
must see the handler's own signature). Kept apart from the layout so that each is unit-tested
without a browser: every value they receive comes from the browser, and a forged event may
carry anything Gradio's own checks let through.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gradio as gr
import pandas as pd
from sqlalchemy.orm import Session

from codecbench.app.leaderboard_tables import codec_cell, ranking_cell, selected_column, worst_count
from codecbench.app.public_text import hide_server_paths, hide_server_paths_in
from codecbench.app.settings import AppSettings
from codecbench.audio import AudioError, write_audio
from codecbench.evaluation.inspection import (
    DEFAULT_WORST_COUNT,
    CellUnit,
    inspect_cell,
    reconstruction_audio,
    reference_audio,
)
from codecbench.evaluation.leaderboard import Leaderboard, LeaderboardError, format_cell
from codecbench.evaluation.leaderboard_views import (
    MetricChoice,
    boards_with_values,
    default_metric_choice,
    markdown_escape,
)
from codecbench.evaluation.results import (
    export_scores,
    metrics_with_values,
    stored_codecs,
    stored_metrics,
    stored_testsets,
    write_csv,
)
from codecbench.run_folders import new_run_dir
from codecbench.storage import Database

SHOWN_FAILURES = 20  # failed utterances listed under a cell at most
MOST_WORST = 20  # utterances listed per cell at most
BOARD_OUTPUTS = 5  # what Show updates: status, board, cell, leaderboard CSV, scores CSV

NO_SCORES_MESSAGE = "The database holds no scores yet: run `codecbench evaluate` first."
CHOOSE_SOMETHING_MESSAGE = "Choose at least one test set and one codec."
CHOOSE_METRIC_MESSAGE = "Choose a metric and its protocol from the lists."


@dataclass(frozen=True, eq=False)
class BoardView:
    """The leaderboard on screen (kept per browser session; a new object re-renders the tables),
    and the boards of every metric with values, for the several-metrics view."""

    board: Leaderboard
    others: tuple[Leaderboard, ...] = ()


@dataclass(frozen=True, eq=False)
class PlayableUnit:
    """An utterance of the chosen cell with its audio written for the browser (or why not)."""

    unit: CellUnit
    reference_path: str | None
    reconstruction_path: str | None
    note: str


@dataclass(frozen=True, eq=False)
class CellView:
    """The clicked cell: its title, its worst utterances ready to play, and its failures."""

    title: str
    worst: tuple[PlayableUnit, ...]
    failed: tuple[CellUnit, ...]
    metric: str


@dataclass(frozen=True)
class Choices:
    """What the database holds to choose from."""

    metrics: dict[str, list[str]]  # metric -> its protocols
    testsets: list[str]
    codecs: list[str]
    default: MetricChoice | None = None  # ViSQOL, or the first metric with values; None: no values yet
    with_values: tuple[tuple[str, str], ...] = ()


class ProgressLike(Protocol):
    """What :func:`choose_cell` needs of a ``gr.Progress``: wrapping an iterable."""

    def tqdm(self, iterable: Iterable[Any], desc: str | None = ...) -> Iterable[Any]: ...


def stored_choices(database: Database) -> Choices:
    """The metrics (with their protocols), test sets and codecs stored now, and the default metric."""
    with database.session(read_only=True) as session:
        metrics: dict[str, list[str]] = {}
        for metric, protocol in stored_metrics(session):
            metrics.setdefault(metric, []).append(protocol)
        with_values = metrics_with_values(session)
        default = default_metric_choice(with_values) if with_values else None
        return Choices(metrics, stored_testsets(session), stored_codecs(session), default, tuple(with_values))


def opening_metric(choices: Choices, current: str | None = None) -> tuple[str | None, str | None]:
    """The metric and protocol the dropdowns show: ``current`` when still stored (its first
    protocol, or the default's), else the default (ViSQOL with its protocol)."""
    default = choices.default
    if current in choices.metrics:
        protocols = choices.metrics[current]
        if default is not None and default.metric == current and default.protocol in protocols:
            return current, default.protocol
        return current, protocols[0]
    if default is not None:
        return default.metric, default.protocol
    metric = next(iter(choices.metrics), None)
    return metric, (choices.metrics.get(metric) or [None])[0]


def reload_choices(database: Database, metric: str | None) -> tuple[gr.Dropdown, gr.Dropdown, gr.CheckboxGroup,
                                                                     gr.CheckboxGroup]:
    """The metric, protocol, test-set and codec choices read again (after an evaluation run, or
    when the tab opens): ``metric`` stays chosen while it is stored; all test sets and codecs ticked."""
    fresh = stored_choices(database)
    metric, protocol = opening_metric(fresh, metric if isinstance(metric, str) else None)
    protocols = fresh.metrics.get(metric, [])
    return (
        gr.Dropdown(choices=list(fresh.metrics), value=metric),
        gr.Dropdown(choices=protocols, value=protocol),
        gr.CheckboxGroup(choices=fresh.testsets, value=fresh.testsets),
        gr.CheckboxGroup(choices=fresh.codecs, value=fresh.codecs),
    )


def protocols_of(database: Database, metric: str | None) -> gr.Dropdown:
    """The protocol dropdown for a newly chosen ``metric``: its stored protocols, the first chosen."""
    metrics = stored_choices(database).metrics
    protocols = metrics.get(metric, []) if isinstance(metric, str) else []
    return gr.Dropdown(choices=protocols, value=protocols[0] if protocols else None)


def show_board(settings: AppSettings, database: Database, metric: str | None, protocol: str | None,
               testsets: Sequence[str] | None, codecs: Sequence[str] | None) -> tuple:
    """Show the leaderboard of a metric and protocol over the chosen test sets and codecs.

    Args:
        settings: where the CSV files are written (under ``work_dir``).
        database: where the scores are read.
        metric, protocol: the chosen metric and protocol (None: nothing stored yet).
        testsets, codecs: the ticked test sets and codecs.

    Returns:
        The status line, the :class:`BoardView` (drawn by the page), no cell (the previous one
        is cleared) and the two CSV download buttons, made visible with their files.

    Raises:
        gr.Error: nothing stored yet, nothing chosen (test sets and codecs must be lists of
            names), or a metric or protocol not stored (or not a name).
    """
    if not metric:
        raise gr.Error(NO_SCORES_MESSAGE, print_exception=False)
    testsets, codecs = _names(testsets), _names(codecs)
    if not testsets or not codecs:
        raise gr.Error(CHOOSE_SOMETHING_MESSAGE, print_exception=False)
    if not isinstance(metric, str) or not isinstance(protocol, (str, type(None))):
        raise gr.Error(CHOOSE_METRIC_MESSAGE, print_exception=False)
    with database.session(read_only=True) as session:
        try:
            board = Leaderboard.from_database(session, metric, protocol, testsets=testsets, codecs=codecs)
        except LeaderboardError as error:
            raise gr.Error(str(error), print_exception=False) from None
        scores = hide_server_paths_in(export_scores(session, testsets=testsets, codecs=codecs, metrics=[board.metric]),
                                      ("error",))
        others = boards_with_values(session, metrics_with_values(session), testsets, codecs)
    folder = new_run_dir(settings.work_dir / "leaderboard")
    board_path = write_csv(board.csv_frame(),
                           folder / f"leaderboard-{file_part(board.metric)}-{file_part(board.protocol)}.csv")
    scores_path = write_csv(scores, folder / f"scores-{file_part(board.metric)}.csv")
    message = board_status(board, stored_choices(database).default)
    return (message, BoardView(board, others), None, gr.DownloadButton(value=str(board_path), visible=True),
            gr.DownloadButton(value=str(scores_path), visible=True))


def _names(values: object) -> list[str] | None:
    """Ticked names as a list, or None unless they are a list of strings (Gradio's checks keep
    anything else from the page's events; a direct caller may pass anything)."""
    if not isinstance(values, (list, tuple)) or not all(isinstance(value, str) for value in values):
        return None
    return list(values)


def show_once(settings: AppSettings, database: Database, shown: BoardView | None, metric: str | None,
              protocol: str | None, testsets: Sequence[str] | None, codecs: Sequence[str] | None) -> tuple:
    """Draw the default board when the tab first opens; nothing changes when a board is already
    shown or there is nothing to show (nothing stored: the choices say so)."""
    if shown is not None or not metric or not testsets or not codecs:
        return tuple(gr.skip() for _ in range(BOARD_OUTPUTS))
    return show_board(settings, database, metric, protocol, testsets, codecs)


def board_status(board: Leaderboard, default: MetricChoice | None) -> str:
    """The status line under Show: the board's title, its cells and failures, and the default
    metric's note (e.g. ViSQOL also stored under another protocol) when the board is the default."""
    failures = int(board.cells["failures"].sum())
    message = (f"**{markdown_escape(board.title)}** · {len(board.cells)} cell(s)"
               + (f", {failures} failed utterance(s)" if failures else ""))
    if default is not None and default.note and (board.metric, board.protocol) == (default.metric, default.protocol):
        message += f"\n\n{markdown_escape(default.note)}"
    return message


def choose_cell(settings: AppSettings, database: Database, board: Leaderboard, cell: pd.Series, count: object,
                progress: ProgressLike) -> CellView:
    """A clicked ``cell`` of ``board``: its worst utterances (``count`` of them, bounded; a forged
    event may send anything) with their audio written for the browser, and its failures."""
    with database.session(read_only=True) as session:
        inspection = inspect_cell(session, cell["testset"], int(cell["condition_id"]), board.metric, board.protocol,
                                  worst_count(count, DEFAULT_WORST_COUNT, MOST_WORST))
        folder = new_run_dir(settings.work_dir / "leaderboard")
        worst = [_playable(session, unit, folder, settings)
                 for unit in progress.tqdm(inspection.worst, desc="reading and reconstructing")]
    title = f"{cell['testset']} · {cell['codec']} {cell['column']}: {format_cell(cell)}"
    return CellView(title, tuple(worst), inspection.failed, board.metric)


@dataclass(frozen=True, eq=False)
class CellChooser:
    """Choose the clicked cell of a drawn table: list its worst utterances, ready to play.

    Args:
        settings: where the audio of the chosen cell is written.
        database: where its utterances are read.
        board: the board the table was drawn from.
        table: the table as drawn (its columns give the clicked column's meaning).
        codec: the codec of a codec table; None for the ranking.
    """

    # A callable object rather than a functools.partial: Gradio finds the event data and progress
    # arguments from the handler's own signature and type hints, and cannot see a partial's hints.
    settings: AppSettings
    database: Database
    board: Leaderboard
    table: pd.DataFrame
    codec: str | None = None

    def cell(self, row_value: object, index: object) -> pd.Series | None:
        """The board cell a click on ``row_value`` at ``index`` means, or None (a forged event included)."""
        column = selected_column(index)
        if self.codec is None:
            return ranking_cell(self.board, self.table, row_value, column)
        return codec_cell(self.board, self.codec, self.table, row_value, column)

    def __call__(self, count: float, event: gr.SelectData, progress: gr.Progress = gr.Progress()) -> Any:
        """The :class:`CellView` of the clicked cell, or ``gr.skip()`` for a click on no cell."""
        cell = self.cell(event.row_value, event.index)
        if cell is None:
            return gr.skip()
        return choose_cell(self.settings, self.database, self.board, cell, count, progress)


def file_part(name: str) -> str:
    """``name`` (a metric or protocol as stored: untrusted, e.g. ``../../x``) as part of a file
    name: letters, digits, ``_``, ``-`` and inner dots only, so it never leaves its folder."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).replace("..", "_").strip("._")[:60] or "unnamed"


def _playable(session: Session, unit: CellUnit, folder: Path, settings: AppSettings) -> PlayableUnit:
    """Write an utterance's reference and reconstruction as WAV files the browser may fetch."""
    stem = f"{len(list(folder.iterdir())):04d}"
    try:
        reference = reference_audio(unit)
    except (AudioError, OSError) as error:
        return PlayableUnit(unit, None, None, f"The reference cannot be read: {error}")
    reference_path = write_audio(folder / f"{stem}-reference.wav", reference.samples, reference.sample_rate_hz)
    try:
        reconstruction, note = reconstruction_audio(session, unit, reference, settings.load_options)
    except (AudioError, OSError) as error:
        return PlayableUnit(unit, str(reference_path), None, f"No reconstruction: {error}")
    path = write_audio(folder / f"{stem}-reconstruction.wav", reconstruction.samples, reconstruction.sample_rate_hz)
    return PlayableUnit(unit, str(reference_path), str(path), f"Reconstruction {note}.")


def utterance_heading(rank: int, unit: CellUnit, metric: str) -> str:
    """The heading of one listed utterance: rank, name, value and transcript (names are untrusted)."""
    text = f" · “{markdown_escape(unit.text)}”" if unit.text else ""
    return f"**{rank}. {markdown_escape(unit.utterance)}** · {metric} = {unit.value:.3f}{text}"


def utterance_details(playable: PlayableUnit) -> str:
    """Below an utterance's players: where its reconstruction came from, and every score stored for it."""
    return f"{markdown_escape(hide_server_paths(playable.note))}\n\n{scores_markdown(playable.unit.scores)}"


def failures_markdown(failed: Sequence[CellUnit]) -> str:
    """The failed utterances of a cell with their errors (server paths hidden), the first
    :data:`SHOWN_FAILURES` of them."""
    lines = [f"- {markdown_escape(unit.utterance)}: {markdown_escape(hide_server_paths(unit.error or ''))}"
             for unit in failed[:SHOWN_FAILURES]]
    if len(failed) > SHOWN_FAILURES:
        lines.append(f"- ... and {len(failed) - SHOWN_FAILURES} more (see the scores CSV)")
    return f"**{len(failed)} failed:**\n" + "\n".join(lines)


def scores_markdown(scores: pd.DataFrame) -> str:
    """Every score stored for an utterance, as a Markdown table."""
    rows = ["| metric | protocol | value |", "|---|---|---|"]
    for score in scores.itertuples():
        value = hide_server_paths(score.error or "") if score.value is None or (
            isinstance(score.value, float) and math.isnan(score.value)) else f"{score.value:.3f}"
        cells = (markdown_escape(score.metric), markdown_escape(score.protocol), markdown_escape(value))
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)
