"""The Leaderboard page's event handlers called directly, against a real SQLite database filled
by the evaluation runner: what they return for normal input, for forged input (a table click
at a row or column that is not one, values of the wrong type, a cell whose run is gone), and
the messages they refuse with. The browser tests keep the flows."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest

from codecbench.app import AppSettings
from codecbench.app.admin_auth import AdminGate
from codecbench.app.leaderboard_handlers import (
    BOARD_OUTPUTS,
    CHOOSE_METRIC_MESSAGE,
    CHOOSE_SOMETHING_MESSAGE,
    MOST_WORST,
    NO_SCORES_MESSAGE,
    SHOWN_FAILURES,
    BoardView,
    CellChooser,
    CellView,
    PlayableUnit,
    board_status,
    choose_cell,
    failures_markdown,
    file_part,
    protocols_of,
    reload_choices,
    scores_markdown,
    show_board,
    show_once,
    stored_choices,
    utterance_details,
    utterance_heading,
)
from codecbench.app.leaderboard_page import (
    build_leaderboard_page,
    draw_board,
    draw_cell,
)
from codecbench.app.leaderboard_tables import codec_view, ranking_view
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.inspection import DEFAULT_WORST_COUNT, CellUnit
from codecbench.evaluation.leaderboard_views import MetricChoice
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.runner import (
    EvaluationRequest,
    plan_evaluation,
    run_evaluation,
)
from codecbench.paths import HOME_ENV
from codecbench.storage import Database, open_database
from tests.corpora import make_folder

SKIPPED = {"__type__": "update"}  # gr.skip(): the output keeps its value


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A database with SI-SNR and STOI of opus@6 and lowpass_3500 on two small test sets;
    ``mine`` has an unreadable file, which fails under every condition."""
    root = tmp_path_factory.mktemp("leaderboard-handlers")
    make_folder(root / "mine", 3)
    (root / "mine" / "broken.wav").write_bytes(b"no audio here")
    make_folder(root / "other", 2, first_seed=20)
    url = f"sqlite:///{root / 'results.sqlite3'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(root / "home"))
        database = open_database(url)
        request = EvaluationRequest(
            testsets=(parse_testset_spec(f"mine=folder:{root / 'mine'}"),
                      parse_testset_spec(f"other=folder:{root / 'other'}")),
            conditions=(Condition("opus", 6.0), Condition("lowpass_3500")),
            scoring=ScoringConfig(("sisnr", "stoi")),
        )
        with LocalExecutor() as executor:
            run_evaluation(database, plan_evaluation(request), executor)
        yield database, root
        database.close()


@pytest.fixture
def settings(tmp_path) -> AppSettings:
    return AppSettings(work_dir=tmp_path / "work")


def shown(settings: AppSettings, database: Database, metric: str = "sisnr") -> BoardView:
    return show_board(settings, database, metric, None, ["mine", "other"], ["opus", "lowpass_3500"])[1]


def select(index: object, row_value: object) -> gr.SelectData:
    """A table's select event as Gradio builds it from what the browser sent."""
    return gr.SelectData(None, {"index": index, "value": 1, "row_value": row_value})


# -- choices ---------------------------------------------------------------------------------


def test_the_choices_are_what_is_stored_and_without_visqol_the_default_says_what_it_shows(stored):
    database, _ = stored
    choices = stored_choices(database)
    assert choices.metrics == {"sisnr": ["aligned"], "stoi": ["aligned-10k"]}
    assert choices.testsets == ["mine", "other"] and choices.codecs == ["lowpass_3500", "opus"]
    assert (choices.default.metric, choices.default.protocol) == ("sisnr", "aligned")
    assert "No ViSQOL scores are stored" in choices.default.note


def test_reloading_keeps_a_stored_metric_and_ticks_every_test_set_and_codec(stored):
    database, _ = stored
    metric, protocol, testsets, codecs = reload_choices(database, "stoi")
    assert metric.value == "stoi" and [value for _, value in metric.choices] == ["sisnr", "stoi"]
    assert protocol.value == "aligned-10k" and [value for _, value in protocol.choices] == ["aligned-10k"]
    assert testsets.value == ["mine", "other"] and codecs.value == ["lowpass_3500", "opus"]


@pytest.mark.parametrize("metric", ["gone", None, "", ["stoi"], {"stoi": 1}, 3])
def test_reloading_with_a_metric_no_longer_stored_or_not_a_name_opens_on_the_default(stored, metric):
    database, _ = stored
    chosen, protocol, _, _ = reload_choices(database, metric)
    assert (chosen.value, protocol.value) == ("sisnr", "aligned")


def test_a_chosen_metric_offers_its_protocols_and_anything_else_none(stored):
    database, _ = stored
    dropdown = protocols_of(database, "stoi")
    assert dropdown.value == "aligned-10k" and [value for _, value in dropdown.choices] == ["aligned-10k"]
    for metric in ("gone", None, ["stoi"], 7):
        empty = protocols_of(database, metric)
        assert empty.value is None and empty.choices == []


def test_an_empty_database_offers_nothing_and_show_says_to_evaluate_first(tmp_path, settings):
    database = open_database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        metric, protocol, testsets, codecs = reload_choices(database, None)
        assert metric.value is None and protocol.value is None and testsets.value == [] and codecs.value == []
        assert show_once(settings, database, None, metric.value, protocol.value, [], []) == (SKIPPED,) * BOARD_OUTPUTS
        with pytest.raises(gr.Error, match="run `codecbench evaluate` first") as raised:
            show_board(settings, database, None, None, [], [])
        assert raised.value.message == NO_SCORES_MESSAGE and raised.value.print_exception is False
    finally:
        database.close()


# -- Show --------------------------------------------------------------------------------------


def test_show_returns_the_status_the_board_no_cell_and_both_csv_files(stored, settings):
    database, root = stored
    status, view, cell, board_csv, scores_csv = show_board(settings, database, "sisnr", "aligned", ["mine", "other"],
                                                          ["opus", "lowpass_3500"])
    assert status == ("**sisnr (aligned; higher is better): mean ± 95 % CI (n)** · 4 cell(s), 2 failed utterance(s)"
                      "\n\nNo ViSQOL scores are stored: showing sisnr (aligned), the first metric with values.")
    assert isinstance(view, BoardView) and view.board.metric == "sisnr" and cell is None
    assert sorted(view.board.cells["testset"].unique()) == ["mine", "other"]
    assert {board.metric for board in view.others} == {"sisnr", "stoi"}  # the several-metrics view
    written = {path.name: path for path in settings.work_dir.rglob("*.csv")}
    assert set(written) == {"leaderboard-sisnr-aligned.csv", "scores-sisnr.csv"}
    for button, name in ((board_csv, "leaderboard-sisnr-aligned.csv"), (scores_csv, "scores-sisnr.csv")):
        assert button.visible is True and Path(button.value["path"]).name == name
    rows = list(csv.DictReader(written["scores-sisnr.csv"].open(encoding="utf-8")))
    assert len(rows) == 2 * (4 + 2) and {row["metric"] for row in rows if row["utterance"] != "broken"} == {"sisnr"}
    errors = [row["error"] for row in rows if row["utterance"] == "broken"]
    assert len(errors) == 2 and all("broken.wav" in error and str(root) not in error for error in errors)


def test_the_default_boards_status_carries_the_defaults_note_and_another_board_does_not(stored, settings):
    database, _ = stored
    default = stored_choices(database).default
    assert show_board(settings, database, "sisnr", "aligned", ["mine"], ["opus"])[0].endswith(
        "\n\nNo ViSQOL scores are stored: showing sisnr (aligned), the first metric with values.")
    assert "\n\n" not in show_board(settings, database, "stoi", None, ["mine"], ["opus"])[0]
    board = shown(settings, database).board
    assert board_status(board, MetricChoice("sisnr", "aligned", "**a note**")).endswith("\n\n\\*\\*a note\\*\\*")
    assert "\n\n" not in board_status(board, None) and board_status(board, default).count("\n\n") == 1


@pytest.mark.parametrize(("testsets", "codecs"), [([], ["opus"]), (["mine"], []), (None, ["opus"]), (["mine"], None)])
def test_show_with_nothing_ticked_asks_to_choose(stored, settings, testsets, codecs):
    database, _ = stored
    with pytest.raises(gr.Error) as raised:
        show_board(settings, database, "sisnr", "aligned", testsets, codecs)
    assert raised.value.message == CHOOSE_SOMETHING_MESSAGE
    assert not settings.work_dir.exists()  # nothing written


@pytest.mark.parametrize(("testsets", "codecs"), [("mine", ["opus"]), (["mine"], "opus"), ([["mine"]], ["opus"]),
                                               ({"mine": 1}, ["opus"]), (["mine"], [3]), (["mine", None], ["opus"])])
def test_show_with_test_sets_or_codecs_that_are_not_lists_of_names_asks_to_choose(stored, settings, testsets, codecs):
    """Gradio's own checks keep these from the page's events; called directly, the handler
    refuses them the same way rather than with a TypeError or a database error."""
    database, _ = stored
    with pytest.raises(gr.Error) as raised:
        show_board(settings, database, "sisnr", "aligned", testsets, codecs)
    assert raised.value.message == CHOOSE_SOMETHING_MESSAGE


@pytest.mark.parametrize(("metric", "protocol"), [(3, None), (["sisnr"], None), ({"sisnr": 1}, "aligned"),
                                                  ("sisnr", ["aligned"]), ("sisnr", 5)])
def test_show_with_a_metric_or_protocol_that_is_not_a_name_asks_to_choose(stored, settings, metric, protocol):
    database, _ = stored
    with pytest.raises(gr.Error) as raised:
        show_board(settings, database, metric, protocol, ["mine"], ["opus"])
    assert raised.value.message == CHOOSE_METRIC_MESSAGE and not settings.work_dir.exists()


@pytest.mark.parametrize(("metric", "protocol", "message"), [
    ("pesq_wb", None, "pesq_wb"),
    ("sisnr", "speech", "speech"),
    ("<b>x</b>", None, "<b>x</b>"),
])
def test_show_of_a_metric_or_protocol_not_stored_says_so_without_a_traceback(stored, settings, metric, protocol,
                                                                              message):
    database, _ = stored
    with pytest.raises(gr.Error) as raised:
        show_board(settings, database, metric, protocol, ["mine"], ["opus"])
    assert message in raised.value.message and raised.value.print_exception is False


def test_show_of_test_sets_or_codecs_not_stored_shows_an_empty_board(stored, settings):
    database, _ = stored
    status, view, *_ = show_board(settings, database, "sisnr", None, ["gone"], ["nothing"])
    assert view.board.cells.empty and "0 cell(s)" in status


def test_a_protocol_stored_as_a_path_writes_its_csv_inside_the_work_folder(stored, tmp_path):
    """Names in the database are untrusted (a shared results database)."""
    _, root = stored
    with sqlite3.connect(root / "results.sqlite3") as source, sqlite3.connect(tmp_path / "evil.sqlite3") as copy:
        source.backup(copy)  # the fixture's database is open: a file copy could miss its journal
    evil = "/../../../../../../../../tmp/pwned"
    with sqlite3.connect(tmp_path / "evil.sqlite3") as connection:
        for table in ("eval_scores", "eval_unit_requests"):
            connection.execute(f"UPDATE {table} SET protocol = ? WHERE metric = 'stoi'", (evil,))
    database = open_database(f"sqlite:///{tmp_path / 'evil.sqlite3'}")
    settings = AppSettings(work_dir=tmp_path / "work")
    try:
        _, protocol, testsets, codecs = reload_choices(database, "stoi")
        assert protocol.value == evil
        _, view, _, board_csv, _ = show_board(settings, database, "stoi", evil, testsets.value, codecs.value)
        assert Path(board_csv.value["path"]).name == "leaderboard-stoi-tmp_pwned.csv"
        assert [path.relative_to(settings.work_dir).parts[0] for path in tmp_path.rglob("*pwned*")] == ["leaderboard"]
    finally:
        database.close()
    assert file_part("../../x") == "x" and file_part("..") == "unnamed" and file_part("a b/c") == "a_b_c"


def test_show_once_draws_the_default_board_once_and_only_with_something_chosen(stored, settings):
    database, _ = stored
    outputs = show_once(settings, database, None, "sisnr", "aligned", ["mine"], ["opus"])
    assert len(outputs) == BOARD_OUTPUTS and isinstance(outputs[1], BoardView) and outputs[2] is None
    already = outputs[1]
    assert show_once(settings, database, already, "sisnr", "aligned", ["mine"], ["opus"]) == (SKIPPED,) * BOARD_OUTPUTS
    for metric, testsets, codecs in ((None, ["mine"], ["opus"]), ("sisnr", [], ["opus"]), ("sisnr", ["mine"], [])):
        assert show_once(settings, database, None, metric, None, testsets, codecs) == (SKIPPED,) * BOARD_OUTPUTS


# -- a click on a cell -------------------------------------------------------------------------


def test_a_click_on_a_ranking_cell_lists_its_worst_utterances_playable_and_its_failures(stored, settings):
    database, root = stored
    board = shown(settings, database).board
    ranking, _ = ranking_view(board)
    column = list(ranking.columns).index("mine")
    row = ranking.set_index("condition").loc["opus 6 kbps"]
    view = CellChooser(settings, database, board, ranking)(7, select([0, column], ["opus 6 kbps", *row.tolist()]))
    assert isinstance(view, CellView) and view.metric == "sisnr"
    assert view.title.startswith("mine · opus 6 kbps: ") and "(n=3, 1 failed)" in view.title
    assert len(view.worst) == 3 and [unit.utterance for unit in view.failed] == ["broken"]
    values = [playable.unit.value for playable in view.worst]
    assert values == sorted(values)  # worst first
    for playable in view.worst:
        assert Path(playable.reference_path).is_file() and Path(playable.reconstruction_path).is_file()
        assert settings.work_dir in Path(playable.reference_path).parents
        assert playable.note.startswith("Reconstruction ") and "made again now" in playable.note
    assert str(root) not in failures_markdown(view.failed)


def test_a_click_on_a_codec_tables_cell_means_that_test_set_and_operating_point(stored, settings):
    database, _ = stored
    board = shown(settings, database).board
    table = codec_view(board, "opus")
    chooser = CellChooser(settings, database, board, table, "opus")
    view = chooser(1, select([1, 1], ["other", "whatever is shown"]))
    assert view.title.startswith("other · opus 6 kbps: ") and len(view.worst) == 1 and view.failed == ()
    assert chooser.cell(["mine"], [0, 1])["testset"] == "mine"


@pytest.mark.parametrize("index", [[0, 99], [0, -1], [0, 10**30], [0, 0], None, 4, "0,4", [0, "4"], [0, 4.5],
                                   [0, True], [0], {"0": 4}])
def test_a_click_at_a_column_that_is_no_cell_or_a_forged_index_chooses_nothing(stored, settings, index):
    database, _ = stored
    board = shown(settings, database).board
    ranking, _ = ranking_view(board)
    ranking_chooser = CellChooser(settings, database, board, ranking)
    codec_chooser = CellChooser(settings, database, board, codec_view(board, "opus"), "opus")
    assert ranking_chooser(5, select(index, ["opus 6 kbps"])) == SKIPPED
    assert codec_chooser(5, select(index, ["mine"])) == SKIPPED
    assert not list(settings.work_dir.rglob("*.wav"))  # nothing read or written for no cell


@pytest.mark.parametrize("row_value", [None, [], 7, "mine", {"0": "mine"}, [["mine"]], [{"a": 1}], [None], [True],
                                       ["not a test set"], ["opus 99 kbps"]])
def test_a_click_on_a_forged_row_chooses_nothing(stored, settings, row_value):
    database, _ = stored
    board = shown(settings, database).board
    ranking, _ = ranking_view(board)
    column = list(ranking.columns).index("mine")
    assert CellChooser(settings, database, board, ranking)(5, select([0, column], row_value)) == SKIPPED
    assert CellChooser(settings, database, board, codec_view(board, "opus"), "opus")(
        5, select([0, 1], row_value)) == SKIPPED


@pytest.mark.parametrize(("count", "listed"), [(1, 1), (2.0, 2), (float("nan"), 3), (float("inf"), 3), ("2", 3),
                                               (None, 3), (True, 3), (-5, 1), (10**9, 3)])
def test_the_number_listed_is_the_sliders_bounded_whatever_a_forged_event_sends(stored, settings, count, listed):
    """The slider's value may come as NaN, a string or a huge number: the default (5, of which
    3 have values here) or the bounds (1 to 20) apply."""
    database, _ = stored
    board = shown(settings, database).board
    table = codec_view(board, "opus")
    view = CellChooser(settings, database, board, table, "opus")(count, select([1, 1], ["mine"]))
    assert len(view.worst) == listed
    assert DEFAULT_WORST_COUNT >= 3 and MOST_WORST == 20


class CountingProgress:
    def __init__(self) -> None:
        self.descriptions: list[str | None] = []

    def tqdm(self, iterable, desc=None):
        self.descriptions.append(desc)
        return iterable


def test_a_cell_whose_evaluation_is_gone_lists_nothing(stored, settings):
    """The board is kept per browser session; the run behind a cell may be deleted meanwhile."""
    database, _ = stored
    board = shown(settings, database).board
    cell = board.cells.iloc[0].copy()
    cell["condition_id"] = 10**6
    progress = CountingProgress()
    view = choose_cell(settings, database, board, cell, 5, progress)
    assert view.worst == () and view.failed == () and progress.descriptions == ["reading and reconstructing"]
    assert view.title.startswith(f"{cell['testset']} · {cell['codec']} {cell['column']}: ")


def test_an_utterance_whose_reference_file_is_gone_says_so_and_has_no_players(stored, settings):
    database, root = stored
    board = shown(settings, database).board
    cell = board.cells[(board.cells["testset"] == "other") & (board.cells["codec"] == "lowpass_3500")].iloc[0]
    wav = next((root / "other").glob("*.wav"))
    moved = wav.rename(wav.with_suffix(".moved"))
    try:
        view = choose_cell(settings, database, board, cell, 5, gr.Progress())
    finally:
        moved.rename(wav)
    gone = [playable for playable in view.worst if playable.reference_path is None]
    assert len(gone) == 1 and gone[0].reconstruction_path is None
    assert gone[0].note.startswith("The reference cannot be read: ")
    assert str(root) not in utterance_details(gone[0])  # the page shows the note with server paths hidden


# -- what the chosen cell reads as -----------------------------------------------------------


def unit(utterance: str, value: float | None = 1.5, error: str | None = None, text: str | None = None) -> CellUnit:
    scores = pd.DataFrame([{"metric": "sisnr", "protocol": "aligned", "value": value, "error": error},
                           {"metric": "stoi", "protocol": "<p>", "value": float("nan"),
                            "error": "cannot read /srv/secret/clip.wav"}])
    return CellUnit("mine", utterance, text, value, error, scores, None, None, 1)


def test_an_utterances_heading_and_scores_escape_names_and_hide_server_paths():
    heading = utterance_heading(2, unit("**u**", 1.23456, text="said <b>this</b>"), "sisnr")
    assert heading.startswith("**2. \\*\\*u\\*\\*** · sisnr = 1.235 · “said")
    assert "<b>" not in heading
    table = scores_markdown(unit("u").scores)
    assert table.splitlines()[:3] == ["| metric | protocol | value |", "|---|---|---|", "| sisnr | aligned | 1.500 |"]
    assert "/srv/secret" not in table and "<p>" not in table.splitlines()[3]
    details = utterance_details(PlayableUnit(unit("u"), None, None, "No reconstruction: /srv/secret/x.wav missing"))
    assert "/srv/secret" not in details and details.startswith("No reconstruction: ")


def test_the_failures_list_names_the_first_twenty_and_counts_the_rest():
    failed = [unit(f"u{n}", None, error=f"failed reading /srv/data/u{n}.wav") for n in range(SHOWN_FAILURES + 3)]
    text = failures_markdown(failed)
    lines = text.splitlines()
    assert lines[0] == f"**{SHOWN_FAILURES + 3} failed:**" and len(lines) == SHOWN_FAILURES + 2
    assert lines[-1] == "- ... and 3 more (see the scores CSV)" and "/srv/data" not in text
    assert failures_markdown(failed[:1]).splitlines()[1].startswith("- u0: failed reading ")


# -- the render functions (layout; drawn here without a browser) -----------------------------


def test_drawing_a_board_wires_each_tables_click_to_a_cell_chooser(stored, settings):
    database, _ = stored
    view = shown(settings, database)
    with gr.Blocks() as demo:
        slider, state = gr.Slider(1, 20), gr.State(None)
        draw_board(settings, database, slider, state, view)
    choosers = [fn.fn for fn in demo.fns.values()]
    assert all(isinstance(chooser, CellChooser) for chooser in choosers)
    assert [chooser.codec for chooser in choosers] == [None, *view.board.codecs]
    assert all(fn.api_name.startswith("chosen") and fn.collects_event_data for fn in demo.fns.values())
    assert all(fn.inputs == [slider] and fn.outputs == [state] for fn in demo.fns.values())


def test_drawing_nothing_or_an_empty_cell_says_what_to_do():
    with gr.Blocks() as demo:
        draw_cell(None)
        draw_cell(CellView("mine · opus 6 kbps", (), (), "sisnr"))
    texts = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown)]
    assert texts == ["Click a cell of a table above.", "### mine · opus 6 kbps",
                     "No utterance of this cell has a value."]


def test_the_page_registers_its_events_in_the_order_and_with_the_names_of_its_api(stored, settings):
    """``fn_index`` is the order of registration; clients (and the attack tests) use both. The
    evaluation panel's two events come first, then the two drawings (board, cell)."""
    database, _ = stored
    with gr.Blocks() as demo, gr.Tab("Leaderboard") as tab:
        build_leaderboard_page(settings, database, AdminGate("secret"), tab)
    fns = list(demo.fns.values())
    assert [fn.api_name for fn in fns[4:]] == ["reload_choices", "reload_choices_1", "reload_choices_2", "show_once",
                                               "protocols_of", "show"]
    reload, _, on_tab, once, protocols, show = fns[4:]
    assert reload.fn.func is reload_choices and reload.fn.args == (database,) and on_tab.targets[0][1] == "select"
    assert once.fn.func is show_once and once.trigger_after == 6
    assert protocols.fn.func is protocols_of and show.fn.func is show_board and show.fn.args == (settings, database)
    assert [component.elem_id for component in show.inputs] == ["leaderboard-metric", "leaderboard-protocol",
                                                                "leaderboard-testsets", "leaderboard-codecs"]
