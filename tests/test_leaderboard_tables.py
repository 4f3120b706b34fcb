"""The Leaderboard page's table helpers and small handlers, without a browser: what a sorted
table's click means, what the tables display, the metric the page opens on, the limit field."""

from __future__ import annotations

import gradio as gr
import pytest

from codecbench.app.evaluate_panel import parse_limit
from codecbench.app.leaderboard_handlers import Choices, opening_metric
from codecbench.app.leaderboard_tables import (
    BEST_STYLE,
    codec_cell,
    codec_view,
    metrics_view,
    ranking_cell,
    ranking_view,
    selected_column,
    worst_count,
)
from codecbench.evaluation.leaderboard_views import MetricChoice
from tests.test_leaderboard_views import board, cell


def example():
    return board("visqol", [
        cell("a", "opus", "6 kbps", 6.0, 3.0, measured=6.25, condition_id=1),
        cell("b", "opus", "6 kbps", 6.0, 3.5, n=3, condition_id=1),
        cell("a", "opus", "12 kbps", 12.0, 4.0, condition_id=2),
    ])


def test_the_ranking_displays_cells_averages_and_rates_and_highlights_the_best():
    table, styled = ranking_view(example())
    shown = gr.Dataframe(styled, interactive=False).value
    assert shown["headers"] == ["condition", "kbps", "measured kbps", "tokens/s", "a", "b", "average", "test sets", "note"]
    first, second = shown["metadata"]["display_value"]
    assert first[:7] == ["opus 6 kbps", "6", "6.25", "-", "3.00 ± 0.10 (n=4)", "3.50 ± 0.10 (n=3)", "3.25"]
    assert second[6] == "4.00 *" and second[8].startswith("⚠ missing b")
    assert shown["data"][1][6] == 4.0  # the number sorts; the text is only shown
    styles = shown["metadata"]["styling"]
    assert styles[1][4] == BEST_STYLE and styles[0][5] == BEST_STYLE and styles[1][6] == BEST_STYLE and styles[0][4] == ""


def test_a_click_means_the_row_shown_whatever_the_sorting():
    the_board = example()
    table, _ = ranking_view(the_board)
    chosen = ranking_cell(the_board, table, ["opus 12 kbps", 12.0], 4)
    assert (chosen["testset"], chosen["column"]) == ("a", "12 kbps")
    assert ranking_cell(the_board, table, ["opus 12 kbps"], 5) is None  # no cell on b
    assert ranking_cell(the_board, table, ["opus 12 kbps"], 6) is None  # the average is no cell
    assert ranking_cell(the_board, table, None, 4) is None
    codec_table = codec_view(the_board, "opus")
    assert list(codec_table.columns) == ["test set", "6 kbps", "12 kbps", "note"]
    assert codec_cell(the_board, "opus", codec_table, ["b", "3.50"], 1)["mean"] == 3.5
    assert codec_cell(the_board, "opus", codec_table, ["b"], 3) is None and codec_cell(the_board, "opus", codec_table, ["b"], 0) is None


@pytest.mark.parametrize("index", [None, 4, "4", [0], [0, 1, 2], [0, "4"], [0, 4.0], [0, True], [0, None], {"0": 4}])
def test_a_select_index_of_the_wrong_shape_or_type_chooses_no_column(index):
    assert selected_column(index) is None
    assert selected_column([0, 4]) == 4 and selected_column((3, 1)) == 1


@pytest.mark.parametrize("row_value", [None, [], {"0": "opus 12 kbps"}, 7, [["opus 12 kbps"]], [{"a": 1}], [None], [True]])
@pytest.mark.parametrize("column", [None, -1, 10**30, 4.5, "4", True])
def test_a_forged_click_with_a_bad_row_or_column_means_no_cell(row_value, column):
    """A table's select event comes from the browser, and a forged one carries any JSON: the
    page answers it with no cell, not an exception (and its traceback in the server log)."""
    the_board = example()
    table, _ = ranking_view(the_board)
    codec_table = codec_view(the_board, "opus")
    assert ranking_cell(the_board, table, row_value, column) is None
    assert codec_cell(the_board, "opus", codec_table, row_value, column) is None
    assert ranking_cell(the_board, table, row_value, 4) is None
    assert codec_cell(the_board, "opus", codec_table, row_value, 1) is None
    assert ranking_cell(the_board, table, ["opus 12 kbps"], column) is None
    assert codec_cell(the_board, "opus", codec_table, ["b"], column) is None


def test_the_several_metrics_view_highlights_each_metric_by_its_direction():
    visqol = example()
    mel = board("mel", [cell("a", "opus", "6 kbps", 6.0, 1.0), cell("a", "opus", "12 kbps", 12.0, 2.0, condition_id=2)], "m")
    _, styled = metrics_view([visqol, mel])
    shown = gr.Dataframe(styled, interactive=False).value
    assert shown["headers"][-3:] == ["visqol (p) ↑", "mel (m) ↓", "note"]
    styles = shown["metadata"]["styling"]
    assert styles[1][4] == BEST_STYLE and styles[0][5] == BEST_STYLE and styles[0][4] == "" and styles[1][5] == ""


def test_the_page_opens_on_the_default_metric_and_keeps_a_chosen_one_on_reload():
    choices = Choices({"pesq_wb": ["p"], "visqol": ["audio", "speech"]}, [], [], MetricChoice("visqol", "speech"))
    assert opening_metric(choices) == ("visqol", "speech")
    assert opening_metric(choices, "pesq_wb") == ("pesq_wb", "p")
    assert opening_metric(choices, "gone") == ("visqol", "speech")
    assert opening_metric(Choices({"sisnr": ["aligned"]}, [], [], None)) == ("sisnr", "aligned")
    assert opening_metric(Choices({}, [], [], None)) == (None, None)


def test_the_limit_field_is_empty_for_all_or_a_whole_number():
    assert parse_limit("") is None and parse_limit(None) is None and parse_limit("  ") is None
    assert parse_limit("25") == 25 and parse_limit(3.0) == 3
    for bad in ("0", "-2", "2.5", "ten"):
        with pytest.raises(ValueError, match="whole number of at least 1, or empty for all"):
            parse_limit(bad)


def test_the_worst_count_of_a_forged_event_is_a_bounded_whole_number():
    assert worst_count(5.0, 5, 20) == 5 and worst_count(7, 5, 20) == 7
    assert worst_count(float("nan"), 5, 20) == 5 and worst_count(float("inf"), 5, 20) == 5
    assert worst_count("9", 5, 20) == 5 and worst_count(None, 5, 20) == 5 and worst_count(True, 5, 20) == 5
    assert worst_count(10**9, 5, 20) == 20 and worst_count(-3, 5, 20) == 1
