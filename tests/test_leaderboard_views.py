"""The leaderboard's views: the metric it opens on, the ranking with averages, bitrates, best
values and n warnings, several metrics at once, and their text, Markdown and CSV forms."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from codecbench.evaluation.leaderboard import CELL_COLUMNS, Leaderboard, LeaderboardError
from codecbench.evaluation.leaderboard_views import (
    AVERAGE,
    codec_row_notes,
    default_metric_choice,
    markdown_escape,
    metrics_best,
    metrics_table,
    ranking_best,
    ranking_markdown,
    ranking_table,
    ranking_text,
)


def cell(testset: str, codec: str, column: str, kbps: float | None, mean: float, n: int = 4, *,
         tokens: float | None = None, measured: float | None = None, condition_id: int = 1) -> dict:
    row = dict.fromkeys(CELL_COLUMNS)
    row.update(testset=testset, codec=codec, operating_point=column, column=column, nominal_kbps=kbps,
               tokens_per_second=tokens, measured_kbps=measured, n=n, failures=0, mean=mean,
               ci95_low=mean - 0.1, ci95_high=mean + 0.1, condition_id=condition_id, checkpoint="")
    return row


def board(metric: str, rows: list[dict], protocol: str = "p") -> Leaderboard:
    return Leaderboard(metric, protocol, pd.DataFrame(rows, columns=list(CELL_COLUMNS)))


def test_the_default_is_visqol_under_speech_and_otherwise_the_first_metric_with_values_with_a_note():
    assert default_metric_choice([("pesq_wb", "p"), ("visqol", "audio"), ("visqol", "speech")]).metric == "visqol"
    choice = default_metric_choice([("pesq_wb", "p"), ("visqol", "audio"), ("visqol", "speech")])
    assert choice.protocol == "speech" and "also stored under audio" in choice.note
    only = default_metric_choice([("stoi", "s"), ("visqol", "audio-native")])
    assert (only.metric, only.protocol, only.note) == ("visqol", "audio-native", "")
    fallback = default_metric_choice([("stoi", "s"), ("pesq_wb", "p")])
    assert (fallback.metric, fallback.protocol) == ("pesq_wb", "p")
    assert "No ViSQOL scores are stored: showing pesq_wb (p)" in fallback.note
    with pytest.raises(LeaderboardError, match="run `codecbench evaluate` first"):
        default_metric_choice([])


def test_the_ranking_averages_over_test_sets_present_marks_missing_ones_and_warns_where_n_is_short():
    rows = [
        cell("a", "opus", "6 kbps", 6.0, 3.0, measured=6.2, condition_id=1),
        cell("b", "opus", "6 kbps", 6.0, 4.0, n=3, measured=6.4, condition_id=1),
        cell("a", "funcodec", "1 kbps · 100 tok/s", 1.0, 3.5, tokens=100.0, measured=1.0, condition_id=2),
        cell("b", "funcodec", "1 kbps · 100 tok/s", 1.0, 0.0, n=0, tokens=100.0, condition_id=2),  # all failed
    ]
    table = ranking_table(board("visqol", rows)).set_index("condition")
    opus, funcodec = table.loc["opus 6 kbps"], table.loc["funcodec 1 kbps · 100 tok/s"]
    assert opus[AVERAGE] == pytest.approx(3.5) and opus["test sets"] == "2 of 2"
    assert opus["measured kbps"] == pytest.approx(6.3) and opus["kbps"] == 6.0 and math.isnan(opus["tokens/s"])
    assert "n differs, fewer utterances on b (n=3 of 4)" not in opus["note"]  # 3 is the most on b
    assert funcodec[AVERAGE] == pytest.approx(3.5) and funcodec["test sets"] == "1 of 2"
    assert funcodec["tokens/s"] == 100.0 and math.isnan(funcodec["b"])
    assert funcodec["note"].startswith("missing b: average over 1 of 2 test sets")

    rows.append(cell("b", "lowpass", "3.5 kHz", None, 2.0, n=5, condition_id=3))
    table = ranking_table(board("visqol", rows)).set_index("condition")
    assert "n differs, fewer utterances on b (n=3 of 5)" in table.loc["opus 6 kbps", "note"]


def test_best_in_column_follows_the_metric_direction():
    rows = [cell("a", "opus", "6 kbps", 6.0, 3.0), cell("a", "opus", "12 kbps", 12.0, 4.0, condition_id=2)]
    for metric, best_row in (("visqol", 1), ("mel", 0)):
        the_board = board(metric, rows)
        best = ranking_best(the_board, ranking_table(the_board))
        assert list(best["a"]) == [index == best_row for index in range(2)]
        assert list(best[AVERAGE]) == [index == best_row for index in range(2)]


def test_a_codec_table_row_warns_where_its_operating_points_have_different_n():
    rows = [cell("a", "opus", "6 kbps", 6.0, 3.0, n=4), cell("a", "opus", "12 kbps", 12.0, 4.0, n=3, condition_id=2),
            cell("b", "opus", "6 kbps", 6.0, 3.0, n=2), cell("b", "opus", "12 kbps", 12.0, 4.0, n=2, condition_id=2)]
    notes = codec_row_notes(board("visqol", rows), "opus")
    assert notes.to_dict() == {"a": "n differs: 3, 4", "b": ""}


def test_several_metrics_at_once_share_rows_and_each_column_has_its_own_best():
    visqol = board("visqol", [cell("a", "opus", "6 kbps", 6.0, 3.0), cell("a", "opus", "12 kbps", 12.0, 4.0, condition_id=2)],
                   "speech")
    mel = board("mel", [cell("a", "opus", "6 kbps", 6.0, 1.0), cell("a", "opus", "12 kbps", 12.0, 2.0, condition_id=2)], "m")
    table = metrics_table([visqol, mel])
    assert list(table["condition"]) == ["opus 6 kbps", "opus 12 kbps"]
    assert list(table.columns[-3:]) == ["visqol (speech) ↑", "mel (m) ↓", "note"]
    best = metrics_best([visqol, mel], table)
    assert list(best["visqol (speech) ↑"]) == [False, True] and list(best["mel (m) ↓"]) == [True, False]


def test_text_and_markdown_carry_the_ranking_columns_and_escape_names():
    rows = [cell("<b>x</b>|**y**", "opus", "6 kbps", 6.0, 3.0, measured=6.25),
            cell("<b>x</b>|**y**", "opus", "12 kbps", 12.0, 4.0, condition_id=2, measured=12.5)]
    the_board = board("visqol", rows)
    text = ranking_text(the_board)
    assert "average" in text and "measured kbps" in text and "tokens/s" in text and "[4.00]" in text
    markdown = ranking_markdown(the_board)
    assert "<b>" not in markdown and "&lt;b&gt;x&lt;/b&gt;\\|\\*\\*y\\*\\*" in markdown
    assert "**4.00 ± 0.10 (n=4)**" in markdown and "| 6.25 |" in markdown
    assert markdown_escape("a_b`c") == "a\\_b\\`c"


def test_si_snr_of_a_vocoder_is_not_applicable_takes_no_part_in_best_or_average_and_says_why():
    """Codec 2 makes its own phase: its SI-SNR (say -17 dB) would otherwise be ranked."""
    rows = [cell("a", "opus", "6 kbps", 6.0, -20.0), cell("a", "codec2", "3.2 kbps", 3.2, -17.0, condition_id=2)]
    the_board = board("sisnr", rows)
    table = ranking_table(the_board).set_index("condition")
    codec2 = table.loc["codec2 3.2 kbps"]
    assert math.isnan(codec2["a"]) and math.isnan(codec2[AVERAGE]) and codec2["test sets"] == "n/a"
    assert "not applicable: codec2 synthesises its own phase" in codec2["note"]
    best = ranking_best(the_board, ranking_table(the_board))
    assert list(best["a"]) == [True, False]  # opus is the best of the column, not the vocoder
    assert "not applicable: codec2" in codec_row_notes(the_board, "codec2")["a"]
    assert codec_row_notes(the_board, "opus")["a"] == ""
    shown = ranking_text(the_board)
    assert "n/a" in shown and "-17" not in shown
    assert "sisnr: not applicable (a vocoder)" in metrics_table([the_board]).set_index("condition").loc[
        "codec2 3.2 kbps", "note"]
    # a metric that does not compare waveforms applies to the vocoder as to any codec
    visqol = ranking_table(board("visqol", rows)).set_index("condition")
    assert visqol.loc["codec2 3.2 kbps", AVERAGE] == -17.0
