"""The Leaderboard page: stored evaluation results as tables and charts, down to single utterances.

Layout and events only; the numbers come from :mod:`codecbench.evaluation.leaderboard` and the
utterances from :mod:`codecbench.evaluation.inspection`. Choose a metric, its protocol, test
sets and codecs, press Show: a table per codec (rows: test sets; columns: operating points),
a cross-codec table and a quality-vs-bitrate chart per test set appear, with CSV downloads.
Clicking a cell lists its worst utterances with players for the reference and the
reconstruction, and every score stored for them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from codecbench.app import AppSettings
from codecbench.app.admin_auth import AdminGate
from codecbench.app.evaluate_panel import build_evaluate_panel
from codecbench.app.public_text import hide_server_paths, hide_server_paths_in
from codecbench.audio import AudioError, write_audio
from codecbench.comparison import new_run_dir
from codecbench.evaluation.inspection import (
    DEFAULT_WORST_COUNT,
    CellUnit,
    inspect_cell,
    reconstruction_audio,
    reference_audio,
)
from codecbench.app.leaderboard_tables import (
    codec_cell,
    codec_view,
    metrics_view,
    ranking_cell,
    ranking_view,
    selected_column,
    worst_count,
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
from codecbench.storage import Database

SHOWN_FAILURES = 20
MOST_WORST = 20  # utterances listed per cell at most


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


def stored_choices(database: Database) -> Choices:
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


def build_leaderboard_page(settings: AppSettings, database: Database, gate: AdminGate,
                           tab: gr.Tab | None = None) -> None:
    """Lay out the Leaderboard page inside the current Blocks context (``tab``: its tab, whose
    selection reloads the choices; ``gate``: the admin password of its evaluation panel)."""
    choices = stored_choices(database)
    first_metric, first_protocol = opening_metric(choices)
    gr.Markdown(
        "Scores stored by `codecbench evaluate`. Each cell: mean ± 95 % confidence interval (n utterances), "
        "and how many failed. Opens on ViSQOL, as the field's tables do. The **average** of a condition is the mean "
        "of its test-set means over the test sets it has values on (\\* and a note where some are missing); the best "
        "value of each column is highlighted (by the metric's direction); ⚠ marks cells scored on fewer utterances "
        "than other conditions. Click a column header to sort, a cell to hear its worst utterances.",
    )
    evaluation_run = build_evaluate_panel(settings, database, gate)
    with gr.Row(equal_height=True):
        metric_input = gr.Dropdown(list(choices.metrics), value=first_metric, label="Metric", elem_id="leaderboard-metric")
        protocol_input = gr.Dropdown(choices.metrics.get(first_metric, []),
                                     value=first_protocol,
                                     label="Protocol", elem_id="leaderboard-protocol")
        worst_count_input = gr.Slider(1, MOST_WORST, value=DEFAULT_WORST_COUNT, step=1,
                                      label="Utterances listed per cell", elem_id="leaderboard-worst-count")
    testset_input = gr.CheckboxGroup(choices.testsets, value=choices.testsets, label="Test sets", elem_id="leaderboard-testsets")
    codec_input = gr.CheckboxGroup(choices.codecs, value=choices.codecs, label="Codecs", elem_id="leaderboard-codecs")
    with gr.Row():
        show_button = gr.Button("Show", variant="primary", elem_id="leaderboard-show")
        reload_button = gr.Button("Reload the choices from the database", elem_id="leaderboard-reload")
        board_csv = gr.DownloadButton("Leaderboard CSV", visible=False, elem_id="leaderboard-csv")
        scores_csv = gr.DownloadButton("Scores CSV (per utterance)", visible=False, elem_id="leaderboard-scores-csv")
    status = gr.Markdown(elem_id="leaderboard-status")
    board_state = gr.State(None)
    cell_state = gr.State(None)

    def reload_choices(metric: str | None) -> tuple:
        fresh = stored_choices(database)
        metric, protocol = opening_metric(fresh, metric)
        protocols = fresh.metrics.get(metric, [])
        return (
            gr.Dropdown(choices=list(fresh.metrics), value=metric),
            gr.Dropdown(choices=protocols, value=protocol),
            gr.CheckboxGroup(choices=fresh.testsets, value=fresh.testsets),
            gr.CheckboxGroup(choices=fresh.codecs, value=fresh.codecs),
        )

    def protocols_of(metric: str | None):
        protocols = stored_choices(database).metrics.get(metric, [])
        return gr.Dropdown(choices=protocols, value=protocols[0] if protocols else None)

    def show(metric: str | None, protocol: str | None, testsets: list[str], codecs: list[str]) -> tuple:
        if not metric:
            raise gr.Error("The database holds no scores yet: run `codecbench evaluate` first.", print_exception=False)
        if not testsets or not codecs:
            raise gr.Error("Choose at least one test set and one codec.", print_exception=False)
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
        failures = int(board.cells["failures"].sum())
        message = (f"**{markdown_escape(board.title)}** · {len(board.cells)} cell(s)"
                   + (f", {failures} failed utterance(s)" if failures else ""))
        default = stored_choices(database).default
        if default is not None and default.note and (board.metric, board.protocol) == (default.metric, default.protocol):
            message += f"\n\n{markdown_escape(default.note)}"
        return (message, BoardView(board, others), None, gr.DownloadButton(value=str(board_path), visible=True),
                gr.DownloadButton(value=str(scores_path), visible=True))

    @gr.render(inputs=board_state)
    def show_tables(view: BoardView | None) -> None:
        if view is None:
            return
        board = view.board
        if board.cells.empty:
            gr.Markdown("No scores for the chosen test sets and codecs.")
            return
        ranking, styled = ranking_view(board)
        gr.Markdown("### Ranking: every condition across test sets", elem_id="leaderboard-ranking-heading")
        frame = gr.Dataframe(styled, interactive=False, elem_classes=["leaderboard-table"],
                             elem_id="leaderboard-table-ranking", wrap=True, pinned_columns=1)
        frame.select(_ranking_chooser(board, ranking), inputs=[worst_count_input], outputs=[cell_state])
        if view.others:
            _, styled_metrics = metrics_view(view.others)
            gr.Markdown("### Several metrics: each condition's average over the test sets",
                        elem_id="leaderboard-metrics-heading")
            gr.Dataframe(styled_metrics, interactive=False, elem_classes=["leaderboard-table"],
                         elem_id="leaderboard-table-metrics", wrap=True, pinned_columns=1)
        for codec in board.codecs:
            table = codec_view(board, codec)
            gr.Markdown(f"### {markdown_escape(codec)}")
            frame = gr.Dataframe(table, interactive=False, elem_classes=["leaderboard-table"],
                                 elem_id=f"leaderboard-table-{codec}", wrap=True)
            frame.select(_codec_cell_chooser(board, codec, table), inputs=[worst_count_input], outputs=[cell_state])
        for testset in board.testsets:
            gr.Plot(board.chart(testset), elem_classes=["leaderboard-chart"])

    def choose_cell(board: Leaderboard, cell: pd.Series, count: float, progress: gr.Progress) -> CellView:
        with database.session(read_only=True) as session:
            inspection = inspect_cell(session, cell["testset"], int(cell["condition_id"]), board.metric, board.protocol,
                                      worst_count(count, DEFAULT_WORST_COUNT, MOST_WORST))
            folder = new_run_dir(settings.work_dir / "leaderboard")
            worst = []
            for unit in progress.tqdm(inspection.worst, desc="reading and reconstructing"):
                worst.append(_playable(session, unit, folder, settings))
        title = f"{cell['testset']} · {cell['codec']} {cell['column']}: {format_cell(cell)}"
        return CellView(title, tuple(worst), inspection.failed, board.metric)

    def _codec_cell_chooser(board: Leaderboard, codec: str, table: pd.DataFrame):
        def chosen(count: float, event: gr.SelectData, progress=gr.Progress()):
            cell = codec_cell(board, codec, table, event.row_value, selected_column(event.index))
            return gr.skip() if cell is None else choose_cell(board, cell, count, progress)

        return chosen

    def _ranking_chooser(board: Leaderboard, table: pd.DataFrame):
        def chosen(count: float, event: gr.SelectData, progress=gr.Progress()):
            cell = ranking_cell(board, table, event.row_value, selected_column(event.index))
            return gr.skip() if cell is None else choose_cell(board, cell, count, progress)

        return chosen

    gr.Markdown("## Utterances of the chosen cell", elem_id="leaderboard-cell-heading")

    @gr.render(inputs=cell_state)
    def show_cell(view: CellView | None) -> None:
        if view is None:
            gr.Markdown("Click a cell of a table above.")
            return
        gr.Markdown(f"### {markdown_escape(view.title)}", elem_id="leaderboard-cell-title")
        if not view.worst:
            gr.Markdown("No utterance of this cell has a value.")
        for rank, playable in enumerate(view.worst, 1):
            unit = playable.unit
            with gr.Column(elem_classes=["leaderboard-utterance"]):
                text = f" · “{markdown_escape(unit.text)}”" if unit.text else ""
                gr.Markdown(f"**{rank}. {markdown_escape(unit.utterance)}** · {view.metric} = {unit.value:.3f}{text}",
                            elem_classes=["leaderboard-utterance-title"])
                with gr.Row():
                    if playable.reference_path:
                        gr.Audio(playable.reference_path, label="reference", interactive=False)
                    if playable.reconstruction_path:
                        gr.Audio(playable.reconstruction_path, label="reconstruction", interactive=False)
                gr.Markdown(f"{markdown_escape(hide_server_paths(playable.note))}\n\n{_scores_markdown(unit.scores)}")
        if view.failed:
            lines = [f"- {markdown_escape(unit.utterance)}: {markdown_escape(hide_server_paths(unit.error or ''))}"
                     for unit in view.failed[:SHOWN_FAILURES]]
            if len(view.failed) > SHOWN_FAILURES:
                lines.append(f"- ... and {len(view.failed) - SHOWN_FAILURES} more (see the scores CSV)")
            gr.Markdown(f"**{len(view.failed)} failed:**\n" + "\n".join(lines), elem_id="leaderboard-cell-failures")

    choice_inputs = [metric_input]
    choice_outputs = [metric_input, protocol_input, testset_input, codec_input]
    reload_button.click(reload_choices, inputs=choice_inputs, outputs=choice_outputs)
    evaluation_run.success(reload_choices, inputs=choice_inputs, outputs=choice_outputs)
    board_inputs = [metric_input, protocol_input, testset_input, codec_input]
    board_outputs = [status, board_state, cell_state, board_csv, scores_csv]

    def show_once(shown: BoardView | None, metric: str | None, protocol: str | None, testsets: list[str],
                  codecs: list[str]) -> tuple:
        """Draw the default board when the tab first opens (nothing stored: the choices say so)."""
        if shown is not None or not metric or not testsets or not codecs:
            return tuple(gr.skip() for _ in board_outputs)
        return show(metric, protocol, testsets, codecs)

    if tab is not None:
        tab.select(reload_choices, inputs=choice_inputs, outputs=choice_outputs).then(
            show_once, inputs=[board_state, *board_inputs], outputs=board_outputs)
    metric_input.input(protocols_of, inputs=[metric_input], outputs=[protocol_input])
    show_button.click(show, inputs=board_inputs, outputs=board_outputs)


def file_part(name: str) -> str:
    """``name`` (a metric or protocol as stored: untrusted, e.g. ``../../x``) as part of a file
    name: letters, digits, ``_``, ``-`` and inner dots only, so it never leaves its folder."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).replace("..", "_").strip("._")[:60] or "unnamed"


def _playable(session, unit: CellUnit, folder, settings: AppSettings) -> PlayableUnit:
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


def _scores_markdown(scores: pd.DataFrame) -> str:
    """Every score stored for an utterance, as a Markdown table."""
    rows = ["| metric | protocol | value |", "|---|---|---|"]
    for score in scores.itertuples():
        value = hide_server_paths(score.error or "") if score.value is None or (
            isinstance(score.value, float) and math.isnan(score.value)) else f"{score.value:.3f}"
        rows.append(f"| {markdown_escape(score.metric)} | {markdown_escape(score.protocol)} | {markdown_escape(value)} |")
    return "\n".join(rows)
