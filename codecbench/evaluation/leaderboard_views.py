"""Leaderboard views as the field's best boards read: which metric to open on, a ranking of
conditions with an average across test sets, measured bitrate and token rate (and, for token
codecs, the entropy-coded bitrate, codebook use and entropy per token), the best value of each
column, a warning where n differs, and several metrics side by side.

Every view here is a pandas frame of numbers (so a table can sort and highlight them) made from
:class:`~codecbench.evaluation.leaderboard.Leaderboard` cells; formatting for text, Markdown and
the page happens at the edge (:func:`ranking_text`, :func:`ranking_markdown`).

The average of a condition is the mean of its test-set means over the test sets where it has a
value (each test set weighs the same, whatever its size), as FunCodec's and Codec-SUPERB's
averages are; a row missing a test set says so, because its average is over fewer test sets and
is not comparable with the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from codecbench.evaluation.applicability import not_applicable_reason
from codecbench.evaluation.leaderboard import Leaderboard, LeaderboardError, format_cell
from codecbench.evaluation.leaderboard_token_columns import (
    ENTROPY,
    ENTROPY_CODED,
    UTILISATION,
    format_bits,
    format_percent,
    has_token_figures,
    token_figures,
)
from codecbench.evaluation.metrics.registry import lower_is_better

DEFAULT_METRIC = "visqol"
PREFERRED_VISQOL_PROTOCOL = "speech"  # the C++ default (lattice mapping); see metrics.visqol

CONDITION = "condition"
AVERAGE = "average"
COVERAGE = "test sets"
NOTE = "note"
#: The coverage of a condition the metric says nothing about (SI-SNR of a vocoder): its values
#: are kept in the codec's table but take no part in the ranking's averages and best values.
NOT_APPLICABLE = "n/a"
BITRATE_COLUMNS = ("kbps", "measured kbps", "tokens/s")


@dataclass(frozen=True)
class MetricChoice:
    """The metric and protocol a leaderboard opens on, and why (``note`` empty when it is ViSQOL
    under its only stored protocol)."""

    metric: str
    protocol: str
    note: str = ""


def default_metric_choice(with_values: Sequence[tuple[str, str]]) -> MetricChoice:
    """ViSQOL, as the field's tables show, under ``speech`` when it is stored (else the first
    stored protocol); without ViSQOL values the first (metric, protocol) that has values.

    Args:
        with_values: the (metric, protocol) pairs with at least one stored value.

    Raises:
        LeaderboardError: nothing has a value yet.
    """
    stored = sorted(set(with_values))
    if not stored:
        raise LeaderboardError("the database holds no scores with a value yet; run `codecbench evaluate` first.")
    visqol = [protocol for metric, protocol in stored if metric == DEFAULT_METRIC]
    if visqol:
        protocol = PREFERRED_VISQOL_PROTOCOL if PREFERRED_VISQOL_PROTOCOL in visqol else visqol[0]
        others = [p for p in visqol if p != protocol]
        note = (f"ViSQOL is also stored under {', '.join(others)}; this is protocol {protocol} "
                "(choose another with the protocol).") if others else ""
        return MetricChoice(DEFAULT_METRIC, protocol, note)
    metric, protocol = stored[0]
    return MetricChoice(metric, protocol,
                        f"No ViSQOL scores are stored: showing {metric} ({protocol}), the first metric with values.")


def direction_arrow(metric: str) -> str:
    """``↓`` for a metric where lower is better, else ``↑``."""
    return "↓" if lower_is_better(metric) else "↑"


def condition_label(cells: pd.DataFrame) -> pd.Series:
    """``codec column`` for each cell, as the cross-codec table names its rows."""
    return cells["codec"] + " " + cells["column"]


def bitrate_columns(board: Leaderboard) -> list[str]:
    """The ranking's rate columns: :data:`BITRATE_COLUMNS`, with the token columns when the board has token figures."""
    if not has_token_figures(board):
        return list(BITRATE_COLUMNS)
    return ["kbps", "measured kbps", ENTROPY_CODED, "tokens/s", UTILISATION, ENTROPY]


def ranking_table(board: Leaderboard) -> pd.DataFrame:
    """One row per condition: ``condition``, ``codec``, ``operating point``, nominal ``kbps``,
    ``measured kbps`` (mean over the cell's utterances, over test sets), ``tokens/s``, the mean of
    each test set (NaN where none), ``average`` over the test sets present, ``test sets``
    (``2 of 3``) and a ``note`` (missing test sets; cells with fewer utterances than the most
    any condition has on that test set).

    When a condition on the board has token records, the token columns too
    (:mod:`~codecbench.evaluation.leaderboard_token_columns`; see
    :func:`bitrate_columns`): each the mean of the test sets' figures (NaN for codecs without
    tokens), and a note where they rest on few tokens or lack a test set."""
    cells = board.cells.assign(condition=condition_label(board.cells))
    testsets = board.testsets
    present = cells[cells["n"] > 0]
    most_n = present.groupby("testset")["n"].max().to_dict()
    rows = []
    for condition, group in cells.groupby("condition", sort=False):
        first = group.iloc[0]
        valued = group[group["n"] > 0]
        means = dict(zip(valued["testset"], valued["mean"]))
        missing = [name for name in testsets if name not in means]
        short = [f"{row.testset} (n={row.n} of {most_n[row.testset]})" for row in valued.itertuples()
                 if row.n < most_n[row.testset]]
        notes = []
        if missing:
            notes.append(f"missing {', '.join(missing)}: average over {len(means)} of {len(testsets)} test sets")
        if short:
            notes.append(f"n differs, fewer utterances on {', '.join(short)}")
        measured = valued["measured_kbps"].dropna()
        coverage = f"{len(means)} of {len(testsets)}"
        token_columns, token_notes = token_figures(group)
        if reason := not_applicable_reason(first["codec"], board.metric):
            means, coverage, notes = {}, NOT_APPLICABLE, [reason]
        rows.append({
            CONDITION: condition,
            "codec": first["codec"],
            "operating point": first["column"],
            "kbps": _number(first["nominal_kbps"]),
            "measured kbps": float(measured.mean()) if len(measured) else math.nan,
            "tokens/s": _number(first["tokens_per_second"]),
            **token_columns,
            **{name: means.get(name, math.nan) for name in testsets},
            AVERAGE: float(np.mean(list(means.values()))) if means else math.nan,
            COVERAGE: coverage,
            NOTE: "; ".join([*notes, *token_notes]),
        })
    columns = [CONDITION, "codec", "operating point", *bitrate_columns(board), *testsets, AVERAGE, COVERAGE, NOTE]
    return pd.DataFrame(rows, columns=columns)


def codec_row_notes(board: Leaderboard, codec: str) -> pd.Series:
    """Per test set (the rows of :meth:`Leaderboard.codec_table`): a warning where the codec's
    operating points were scored on different numbers of utterances, else empty."""
    cells = board.cells[board.cells["codec"] == codec]
    notes = {}
    for testset, group in cells.groupby("testset", sort=False):
        counts = sorted(set(int(n) for n in group["n"]))
        notes[testset] = f"n differs: {', '.join(map(str, counts))}" if len(counts) > 1 else ""
        if reason := not_applicable_reason(codec, board.metric):
            notes[testset] = "; ".join(filter(None, [reason, notes[testset]]))
    return pd.Series(notes, name=NOTE)


def best_mask(frame: pd.DataFrame, columns: Sequence[str], lower_better: bool | Sequence[bool]) -> pd.DataFrame:
    """``True`` where a cell holds the best value of its column (ties: all of them), by each
    column's direction (``lower_better`` one flag for all columns, or one per column)."""
    flags = [lower_better] * len(columns) if isinstance(lower_better, bool) else list(lower_better)
    mask = pd.DataFrame(False, index=frame.index, columns=list(frame.columns))
    for column, lower in zip(columns, flags):
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().any():
            best = values.min() if lower else values.max()
            mask[column] = np.isclose(values, best, rtol=0, atol=1e-12) & values.notna()
    return mask


def ranking_best(board: Leaderboard, table: pd.DataFrame) -> pd.DataFrame:
    """:func:`best_mask` of the test-set columns and the average of :func:`ranking_table`."""
    return best_mask(table, [*board.testsets, AVERAGE], lower_is_better(board.metric))


def metric_column(board: Leaderboard) -> str:
    return f"{board.metric} ({board.protocol}) {direction_arrow(board.metric)}"


def metrics_table(boards: Sequence[Leaderboard]) -> pd.DataFrame:
    """Several metrics at once: one row per condition (in the order the boards meet them), its
    bitrate columns, then per board the condition's average over the test sets present
    (:func:`ranking_table`), and a ``note`` naming test sets missing under a metric."""
    frame: pd.DataFrame | None = None
    notes: dict[str, list[str]] = {}
    order: dict[str, None] = {}
    for board in boards:
        ranking = ranking_table(board)
        order.update(dict.fromkeys(ranking[CONDITION]))
        column = metric_column(board)
        part = ranking[[CONDITION, "codec", "operating point", *BITRATE_COLUMNS, AVERAGE]].rename(columns={AVERAGE: column})
        for condition, coverage in zip(ranking[CONDITION], ranking[COVERAGE]):
            if coverage == NOT_APPLICABLE:
                notes.setdefault(condition, []).append(f"{board.metric}: not applicable (a vocoder)")
            elif _incomplete(coverage):
                notes.setdefault(condition, []).append(f"{board.metric}: {coverage} test sets")
        if frame is None:
            frame = part
        else:
            keys = [CONDITION, "codec", "operating point"]
            frame = frame.merge(part, on=keys, how="outer", sort=False, suffixes=("", " (other)"))
            for bitrate in BITRATE_COLUMNS:
                frame[bitrate] = frame[bitrate].fillna(frame.pop(f"{bitrate} (other)"))
    if frame is None:
        return pd.DataFrame(columns=[CONDITION, "codec", "operating point", *BITRATE_COLUMNS, NOTE])
    frame[NOTE] = frame[CONDITION].map(lambda condition: "; ".join(notes.get(condition, [])))
    rank = {condition: index for index, condition in enumerate(order)}
    return frame.sort_values(CONDITION, key=lambda column: column.map(rank), kind="stable").reset_index(drop=True)


def metrics_best(boards: Sequence[Leaderboard], table: pd.DataFrame) -> pd.DataFrame:
    """:func:`best_mask` of :func:`metrics_table`'s metric columns, each by its own direction."""
    return best_mask(table, [metric_column(board) for board in boards], [lower_is_better(b.metric) for b in boards])


def _number(value) -> float:
    return math.nan if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


# ----------------------------------------------------------------------------- text at the edge


def format_value(value: float) -> str:
    """A mean as the tables print it (2 decimals from 1, 3 below, 1 from 100); ``-`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    decimals = 1 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    return f"{value:.{decimals}f}"


def format_rate(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


#: How the ranking writes its token columns (empty where a codec has none).
TOKEN_FORMATS = {ENTROPY_CODED: format_rate, UTILISATION: format_percent, ENTROPY: format_bits}


def ranking_display(board: Leaderboard, table: pd.DataFrame | None = None, *, mark_best: str = "") -> pd.DataFrame:
    """:func:`ranking_table` as text: test-set cells as :func:`format_cell` writes them, the
    average with ``*`` where test sets are missing, rates without noise; ``mark_best``
    (e.g. ``**``) around the best value of each column."""
    table = ranking_table(board) if table is None else table
    best = ranking_best(board, table)
    shown = table.copy().astype(object)
    for column in ("kbps", "measured kbps", "tokens/s"):
        shown[column] = table[column].map(format_rate)
    for column, formatter in TOKEN_FORMATS.items():
        if column in table:
            shown[column] = table[column].map(formatter)
    cells = board.cells.assign(condition=condition_label(board.cells)).set_index(["condition", "testset"])
    for index, row in table.iterrows():
        for testset in board.testsets:
            key = (row[CONDITION], testset)
            text = format_cell(cells.loc[key]) if key in cells.index else ""
            if row[COVERAGE] == NOT_APPLICABLE and text:
                text = NOT_APPLICABLE
            shown.at[index, testset] = _marked(text, best.at[index, testset], mark_best)
        if row[COVERAGE] == NOT_APPLICABLE:
            shown.at[index, AVERAGE] = NOT_APPLICABLE
            continue
        average = format_value(row[AVERAGE]) + ("*" if _incomplete(row[COVERAGE]) else "")
        shown.at[index, AVERAGE] = _marked(average, best.at[index, AVERAGE], mark_best)
    return shown


def _incomplete(coverage: str) -> bool:
    have, _, of = coverage.partition(" of ")
    return have != of


def _marked(text: str, is_best: bool, mark: str) -> str:
    return f"{mark}{text}{mark}" if is_best and mark and text else text


def ranking_text(board: Leaderboard) -> str:
    """The ranking as plain text, best values marked ``[...]``."""
    shown = ranking_display(board).drop(columns=["codec", "operating point"]).set_index(CONDITION)
    best = ranking_best(board, ranking_table(board)).set_index(ranking_table(board)[CONDITION])
    for column in [*board.testsets, AVERAGE]:
        shown[column] = [f"[{text}]" if flag and text else text for text, flag in zip(shown[column], best[column])]
    return (f"ranking: {board.metric} ({board.protocol}), {direction_arrow(board.metric)}; [best]; average = mean over "
            f"the test sets present (* some missing)\n{shown.to_string()}")


def markdown_escape(text: str) -> str:
    """``text`` safe inside a Markdown table cell: Markdown and HTML characters escaped."""
    out = []
    for character in str(text):
        if character in "\\`*_[]|<>&~":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;", "|": "\\|"}.get(character, "\\" + character))
        elif character in "\r\n":
            out.append(" ")
        else:
            out.append(character)
    return "".join(out)


def markdown_table(frame: pd.DataFrame) -> str:
    """A Markdown table of ``frame``'s text (index dropped), every cell escaped."""
    header = "| " + " | ".join(markdown_escape(column) for column in frame.columns) + " |"
    rows = [header, "|" + "---|" * len(frame.columns)]
    for row in frame.itertuples(index=False):
        rows.append("| " + " | ".join(markdown_escape("" if value is None else value) for value in row) + " |")
    return "\n".join(rows)


def ranking_markdown(board: Leaderboard) -> str:
    """The ranking as a Markdown table (untrusted names escaped), best values in bold."""
    shown = ranking_display(board).drop(columns=["codec", "operating point"])
    best = ranking_best(board, ranking_table(board))
    body = shown.copy()
    table = markdown_table(body)
    # Bold the best cells after escaping, so the markers are the only Markdown in a cell.
    lines = table.splitlines()
    columns = list(body.columns)
    for row_index, line in enumerate(lines[2:]):
        parts = line[2:-2].split(" | ")
        if len(parts) != len(columns):  # an escaped "|" inside a cell: leave the row unmarked
            continue
        for column in [*board.testsets, AVERAGE]:
            position = columns.index(column)
            if best.iloc[row_index][column] and parts[position]:
                parts[position] = f"**{parts[position]}**"
        lines[2 + row_index] = "| " + " | ".join(parts) + " |"
    return (f"**{markdown_escape(board.metric)} ({markdown_escape(board.protocol)})**, "
            f"{'lower' if lower_is_better(board.metric) else 'higher'} is better; best in bold; average: mean over "
            f"the test sets present (\\* where some are missing)\n\n" + "\n".join(lines))


def csv_with_ranking(board: Leaderboard) -> pd.DataFrame:
    """:meth:`Leaderboard.csv_frame` (one row per cell, with provenance) plus, per row, its
    condition's ``condition_average`` over the test sets present, ``condition_testsets``
    (``2 of 3``) and ``condition_note`` (missing test sets, n warnings), as the ranking has them."""
    frame = board.csv_frame()
    ranking = ranking_table(board).set_index(CONDITION)
    conditions = condition_label(board.cells)
    frame["condition_average"] = conditions.map(ranking[AVERAGE]).to_numpy()
    frame["condition_testsets"] = conditions.map(ranking[COVERAGE]).to_numpy()
    frame["condition_note"] = conditions.map(ranking[NOTE]).to_numpy()
    return frame


def leaderboard_markdown(board: Leaderboard) -> str:
    """The ranking, then one table per codec (rows: test sets; with an n warning column), as
    Markdown with every name escaped."""
    if board.cells.empty:
        return f"## {markdown_escape(board.title)}\n\nNo scores for the chosen test sets and codecs."
    blocks = [f"## {markdown_escape(board.title)}", ranking_markdown(board)]
    for codec in board.codecs:
        table = board.codec_table(codec)
        table[NOTE] = codec_row_notes(board, codec).reindex(table.index).fillna("")
        blocks.append(f"### {markdown_escape(codec)}\n\n{markdown_table(table.reset_index())}")
    return "\n\n".join(blocks)


def leaderboard_text(board: Leaderboard) -> str:
    """:meth:`Leaderboard.text`, each codec's n warnings, then the ranking."""
    if board.cells.empty:
        return board.text()
    warnings = [f"  {codec} on {testset}: {note}" for codec in board.codecs
                for testset, note in codec_row_notes(board, codec).items() if note]
    blocks = [board.text()]
    if warnings:
        blocks.append("n warnings (operating points of a codec scored on different numbers of utterances):\n"
                      + "\n".join(warnings))
    blocks.append(ranking_text(board))
    return "\n\n".join(blocks)


def boards_with_values(session, with_values: Sequence[tuple[str, str]], testsets: Sequence[str] | None = None,
                       codecs: Sequence[str] | None = None) -> tuple[Leaderboard, ...]:
    """The leaderboard of every (metric, protocol) in ``with_values`` over the chosen test sets
    and codecs (default all), leaving out those with no value there."""
    boards = (Leaderboard.stored(session, metric, protocol, testsets=testsets, codecs=codecs)
              for metric, protocol in with_values)
    return tuple(board for board in boards if not board.cells.empty and (board.cells["n"] > 0).any())


def metrics_display(boards: Sequence[Leaderboard]) -> pd.DataFrame:
    """:func:`metrics_table` as text, best of each metric column in ``[...]``."""
    table = metrics_table(boards)
    best = metrics_best(boards, table)
    shown = table.drop(columns=["codec", "operating point"]).astype(object)
    for column in BITRATE_COLUMNS:
        shown[column] = table[column].map(format_rate)
    for board in boards:
        column = metric_column(board)
        shown[column] = [f"[{format_value(v)}]" if flag else format_value(v) for v, flag in zip(table[column], best[column])]
    return shown


def metrics_text(boards: Sequence[Leaderboard]) -> str:
    return ("several metrics: each condition's average over the test sets present; [best]\n"
            + metrics_display(boards).set_index(CONDITION).to_string())


def metrics_markdown(boards: Sequence[Leaderboard]) -> str:
    return ("### Several metrics\n\nEach condition's average over the test sets present; best in [brackets].\n\n"
            + markdown_table(metrics_display(boards)))
