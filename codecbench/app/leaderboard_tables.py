"""The Leaderboard page's tables: numbers for sorting, text for reading, the best of each column
highlighted, and the leaderboard cell a click on a (possibly sorted) table means.

Plain functions of :mod:`codecbench.evaluation.leaderboard_views` frames, so the page's event
handlers stay thin and these are unit-tested without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from codecbench.evaluation.leaderboard import Leaderboard, format_cell
from codecbench.evaluation.leaderboard_views import (
    AVERAGE,
    BITRATE_COLUMNS,
    CONDITION,
    COVERAGE,
    NOT_APPLICABLE,
    NOTE,
    TOKEN_FORMATS,
    codec_row_notes,
    condition_label,
    format_rate,
    format_value,
    metric_column,
    metrics_best,
    metrics_table,
    ranking_best,
    ranking_table,
)

BEST_STYLE = "font-weight: bold; background-color: rgba(34, 197, 94, 0.25)"
WARNING_MARK = "⚠ "


def _styled(table: pd.DataFrame, best: pd.DataFrame, formats: dict, texts: dict | None = None) -> Styler:
    """``table`` styled: columns formatted by ``formats``, single cells shown as ``texts``
    ({(index, column): text}), best cells highlighted."""
    styles = best.reindex(columns=table.columns, fill_value=False).map(lambda flag: BEST_STYLE if flag else "")
    styler = table.style.format(formats, na_rep="-").apply(lambda _: styles, axis=None)
    for (index, column), text in (texts or {}).items():
        styler = styler.format(lambda _value, text=text: text, subset=pd.IndexSlice[[index], [column]])
    return styler


def ranking_view(board: Leaderboard) -> tuple[pd.DataFrame, Styler]:
    """The ranking (:func:`ranking_table`) without its codec and operating-point columns (the
    condition names both), and its styled form: test-set cells read as ``mean ± ci (n=..)``,
    averages over fewer test sets marked ``*``, the best of each column highlighted, notes
    marked with ⚠; with token codecs on the board, their entropy-coded kbps, codebook use and
    entropy per token (``-`` for codecs without tokens)."""
    table = ranking_table(board).drop(columns=["codec", "operating point"])
    table[NOTE] = table[NOTE].map(lambda note: WARNING_MARK + note if note else "")
    best = ranking_best(board, table)
    cells = board.cells.assign(condition=condition_label(board.cells)).set_index([CONDITION, "testset"])
    texts = {}
    for index, row in table.iterrows():
        not_applicable = row[COVERAGE] == NOT_APPLICABLE  # the note says why
        for testset in board.testsets:
            if (row[CONDITION], testset) in cells.index:
                texts[(index, testset)] = (NOT_APPLICABLE if not_applicable
                                           else format_cell(cells.loc[(row[CONDITION], testset)]))
        if not_applicable:
            texts[(index, AVERAGE)] = NOT_APPLICABLE
            continue
        have, _, of = row[COVERAGE].partition(" of ")
        if have != of and not _missing(row[AVERAGE]):
            texts[(index, AVERAGE)] = format_value(row[AVERAGE]) + " *"
    formats: dict = {column: format_rate for column in BITRATE_COLUMNS}
    formats.update({column: formatter for column, formatter in TOKEN_FORMATS.items() if column in table})
    formats[AVERAGE] = format_value
    return table, _styled(table, best, formats, texts)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def metrics_view(boards: Sequence[Leaderboard]) -> tuple[pd.DataFrame, Styler]:
    """Several metrics at once (:func:`metrics_table`): each condition's average per metric,
    the best of each metric's column highlighted by its direction."""
    table = metrics_table(boards).drop(columns=["codec", "operating point"])
    table[NOTE] = table[NOTE].map(lambda note: WARNING_MARK + note if note else "")
    best = metrics_best(boards, table)
    formats: dict = {column: format_rate for column in BITRATE_COLUMNS}
    formats.update({metric_column(board): format_value for board in boards})
    return table, _styled(table, best, formats)


def codec_view(board: Leaderboard, codec: str) -> pd.DataFrame:
    """:meth:`Leaderboard.codec_table` of ``codec`` with a ``note`` column (⚠ where its
    operating points have different n on a test set), the test set as first column."""
    table = board.codec_table(codec)
    notes = codec_row_notes(board, codec).reindex(table.index).fillna("")
    table[NOTE] = notes.map(lambda note: WARNING_MARK + note if note else "")
    return table.reset_index()


def worst_count(value: object, default: int, most: int) -> int:
    """How many utterances to list for a clicked cell: the slider's value, which a forged event
    may send as NaN (JSON allows it here) or any type Gradio's bounds check lets through."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return max(1, min(most, int(value)))


def selected_column(index: object) -> int | None:
    """The column of a table's select event's ``index`` (``[row, column]``), or ``None`` when it
    is anything else: events come from the browser, and a forged one may carry any JSON."""
    if not isinstance(index, (list, tuple)) or len(index) != 2:
        return None
    column = index[1]
    return column if isinstance(column, int) and not isinstance(column, bool) else None


def _first_value(row_value: object) -> str | None:
    """The first value of a clicked row (its key), or ``None`` for anything but a list of plain values."""
    if not isinstance(row_value, (list, tuple)) or not row_value:
        return None
    first = row_value[0]
    if isinstance(first, bool) or not isinstance(first, (str, int, float)):
        return None
    return str(first)


def _column_label(table: pd.DataFrame, column: object, first: int) -> object | None:
    if isinstance(column, bool) or not isinstance(column, int) or not first <= column < len(table.columns):
        return None
    return table.columns[column]


def ranking_cell(board: Leaderboard, table: pd.DataFrame, row_value: Sequence | None,
                 column: int | None) -> pd.Series | None:
    """The cell a click on the ranking means: the row's condition (its first value, so sorting
    does not matter) under the clicked test-set column; ``None`` for any other column, and for
    a row or column that is not one (a forged event)."""
    key, testset = _first_value(row_value), _column_label(table, column, 0)
    if key is None or testset is None or testset not in board.testsets:
        return None
    cells = board.cells
    match = cells[(cells["testset"] == testset) & (condition_label(cells) == key)]
    return None if match.empty else match.iloc[0]


def codec_cell(board: Leaderboard, codec: str, table: pd.DataFrame, row_value: Sequence | None,
               column: int | None) -> pd.Series | None:
    """The cell a click on a codec's table means: the row's test set (its first value) under the
    clicked operating-point column; ``None`` for the test-set and note columns."""
    key, label = _first_value(row_value), _column_label(table, column, 1)
    if key is None or label is None:
        return None
    cells = board.cells
    match = cells[(cells["testset"] == key) & (cells["codec"] == codec) & (cells["column"] == label)]
    return None if match.empty else match.iloc[0]
