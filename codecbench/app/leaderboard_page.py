"""The Leaderboard page: stored evaluation results as tables and charts, down to single utterances.

Layout and wiring only; the events are handled by :mod:`codecbench.app.leaderboard_handlers`,
the numbers come from :mod:`codecbench.evaluation.leaderboard` and the utterances from
:mod:`codecbench.evaluation.inspection`. Choose a metric, its protocol, test sets and codecs,
press Show: a table per codec (rows: test sets; columns: operating points), a cross-codec
table and a quality-vs-bitrate chart per test set appear (token codecs also at their
entropy-coded bitrate), with CSV downloads. Clicking a cell lists its worst utterances with
players for the reference and the reconstruction, and every score stored for them.
"""

from __future__ import annotations

import gradio as gr

from codecbench.app.admin_auth import AdminGate
from codecbench.app.bound import bound
from codecbench.app.evaluate_panel import build_evaluate_panel
from codecbench.app.leaderboard_handlers import (
    MOST_WORST,
    BoardView,
    CellChooser,
    CellView,
    failures_markdown,
    opening_metric,
    protocols_of,
    reload_choices,
    show_board,
    show_once,
    stored_choices,
    utterance_details,
    utterance_heading,
)
from codecbench.app.leaderboard_tables import codec_view, metrics_view, ranking_view
from codecbench.app.settings import AppSettings
from codecbench.evaluation.inspection import DEFAULT_WORST_COUNT
from codecbench.evaluation.leaderboard_views import markdown_escape
from codecbench.storage import Database

INTRODUCTION = (
    "Scores stored by `codecbench evaluate`. Each cell: mean ± 95 % confidence interval (n utterances), "
    "and how many failed. Opens on ViSQOL, as the field's tables do. The **average** of a condition is the mean "
    "of its test-set means over the test sets it has values on (\\* and a note where some are missing); the best "
    "value of each column is highlighted (by the metric's direction); ⚠ marks cells scored on fewer utterances "
    "than other conditions. Token (neural) codecs also show their entropy-coded kbps, codebook use and entropy per "
    "token (`-` for codecs that send no tokens, and, with a note, for units stored before codecbench measured "
    "tokens), and each chart draws them again, dotted, at the entropy-coded rate. "
    "Click a column header to sort, a cell to hear its worst utterances."
)


def build_leaderboard_page(settings: AppSettings, database: Database, gate: AdminGate,
                           tab: gr.Tab | None = None) -> None:
    """Lay out the Leaderboard page inside the current Blocks context (``tab``: its tab, whose
    selection reloads the choices; ``gate``: the admin password of its evaluation panel).

    The order the events are registered in is their ``fn_index``; keep it when adding one.
    """
    choices = stored_choices(database)
    first_metric, first_protocol = opening_metric(choices)
    gr.Markdown(INTRODUCTION)
    evaluation_run = build_evaluate_panel(settings, database, gate)
    with gr.Row(equal_height=True):
        metric_input = gr.Dropdown(list(choices.metrics), value=first_metric, label="Metric",
                                   elem_id="leaderboard-metric")
        protocol_input = gr.Dropdown(choices.metrics.get(first_metric, []), value=first_protocol,
                                     label="Protocol", elem_id="leaderboard-protocol")
        worst_count_input = gr.Slider(1, MOST_WORST, value=DEFAULT_WORST_COUNT, step=1,
                                      label="Utterances listed per cell", elem_id="leaderboard-worst-count")
    testset_input = gr.CheckboxGroup(choices.testsets, value=choices.testsets, label="Test sets",
                                     elem_id="leaderboard-testsets")
    codec_input = gr.CheckboxGroup(choices.codecs, value=choices.codecs, label="Codecs", elem_id="leaderboard-codecs")
    with gr.Row():
        show_button = gr.Button("Show", variant="primary", elem_id="leaderboard-show")
        reload_button = gr.Button("Reload the choices from the database", elem_id="leaderboard-reload")
        board_csv = gr.DownloadButton("Leaderboard CSV", visible=False, elem_id="leaderboard-csv")
        scores_csv = gr.DownloadButton("Scores CSV (per utterance)", visible=False, elem_id="leaderboard-scores-csv")
    status = gr.Markdown(elem_id="leaderboard-status")
    board_state = gr.State(None)
    cell_state = gr.State(None)

    gr.render(inputs=board_state)(bound(draw_board, settings, database, worst_count_input, cell_state))
    gr.Markdown("## Utterances of the chosen cell", elem_id="leaderboard-cell-heading")
    gr.render(inputs=cell_state)(draw_cell)

    # The API names are those of the closures these handlers once were (part of the page's API).
    reload = bound(reload_choices, database)
    choice_inputs = [metric_input]
    choice_outputs = [metric_input, protocol_input, testset_input, codec_input]
    reload_button.click(reload, inputs=choice_inputs, outputs=choice_outputs, api_name="reload_choices")
    evaluation_run.success(reload, inputs=choice_inputs, outputs=choice_outputs, api_name="reload_choices")
    board_inputs = [metric_input, protocol_input, testset_input, codec_input]
    board_outputs = [status, board_state, cell_state, board_csv, scores_csv]
    if tab is not None:
        tab.select(reload, inputs=choice_inputs, outputs=choice_outputs, api_name="reload_choices").then(
            bound(show_once, settings, database), inputs=[board_state, *board_inputs], outputs=board_outputs,
            api_name="show_once")
    metric_input.input(bound(protocols_of, database), inputs=[metric_input], outputs=[protocol_input],
                       api_name="protocols_of")
    show_button.click(bound(show_board, settings, database), inputs=board_inputs, outputs=board_outputs,
                      api_name="show")


def draw_board(settings: AppSettings, database: Database, worst_count_input: gr.Slider, cell_state: gr.State,
               view: BoardView | None) -> None:
    """Draw the shown board (inside ``gr.render``): the ranking, the several-metrics table, a
    table per codec and a chart per test set; a click on a table's cell chooses that cell."""
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
    frame.select(CellChooser(settings, database, board, ranking), inputs=[worst_count_input], outputs=[cell_state],
                 api_name="chosen")
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
        frame.select(CellChooser(settings, database, board, table, codec), inputs=[worst_count_input],
                     outputs=[cell_state], api_name="chosen")
    for testset in board.testsets:
        gr.Plot(board.chart(testset), elem_classes=["leaderboard-chart"])


def draw_cell(view: CellView | None) -> None:
    """Draw the chosen cell (inside ``gr.render``): its worst utterances with players, then its failures."""
    if view is None:
        gr.Markdown("Click a cell of a table above.")
        return
    gr.Markdown(f"### {markdown_escape(view.title)}", elem_id="leaderboard-cell-title")
    if not view.worst:
        gr.Markdown("No utterance of this cell has a value.")
    for rank, playable in enumerate(view.worst, 1):
        with gr.Column(elem_classes=["leaderboard-utterance"]):
            gr.Markdown(utterance_heading(rank, playable.unit, view.metric),
                        elem_classes=["leaderboard-utterance-title"])
            with gr.Row():
                if playable.reference_path:
                    gr.Audio(playable.reference_path, label="reference", interactive=False)
                if playable.reconstruction_path:
                    gr.Audio(playable.reconstruction_path, label="reconstruction", interactive=False)
            gr.Markdown(utterance_details(playable))
    if view.failed:
        gr.Markdown(failures_markdown(view.failed), elem_id="leaderboard-cell-failures")
