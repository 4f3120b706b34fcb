"""The ranking's token columns: entropy-coded bitrate, codebook use and entropy per token.

A token codec's leaderboard cells carry its token figures per test set
(:func:`codecbench.evaluation.token_summary.token_cells`); the ranking shows, per condition, the
mean over the test sets that have them, with a note where they rest on few tokens or a test set
lacks them. Classical codecs and anchors send no tokens: their columns stay empty.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from codecbench.evaluation.leaderboard import Leaderboard

ENTROPY_CODED = "entropy-coded kbps"
UTILISATION = "codebook use (%)"
ENTROPY = "entropy (bits/token)"
#: The ranking's token columns, there when a condition on the board has token records: the
#: entropy-coded bitrate (beside the measured one), mean codebook utilisation and mean entropy
#: per token, each the mean over the test sets with token records; empty for classical codecs.
TOKEN_COLUMNS = (ENTROPY_CODED, UTILISATION, ENTROPY)


def present(value) -> bool:
    """Whether a token figure is there: not ``None``, NaN, or the empty text of a CSV."""
    return not (value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value)))


def has_token_figures(board: Leaderboard) -> bool:
    """Whether a condition on ``board`` has token records (a token codec evaluated since they are stored)."""
    return "entropy_coded_kbps" in board.cells and board.cells["entropy_coded_kbps"].map(present).any()


def token_figures(group: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """A condition's token columns (means over its test sets with token records; NaN without
    any) and its notes about them, from its cells ``group``."""
    if "entropy_coded_kbps" not in group:
        return dict.fromkeys(TOKEN_COLUMNS, math.nan), []
    with_tokens = group[group["entropy_coded_kbps"].map(present)]
    missing = group[~group["entropy_coded_kbps"].map(present) & group["token_warnings"].map(_text)]
    missing_notes = [f"{row.testset}: {row.token_warnings}" for row in missing.itertuples()]
    if with_tokens.empty:
        return dict.fromkeys(TOKEN_COLUMNS, math.nan), missing_notes

    def mean(column: str, scale: float = 1.0) -> float:
        values = [float(value) for value in with_tokens[column] if present(value)]
        return float(np.mean(values)) * scale if values else math.nan

    figures = {ENTROPY_CODED: mean("entropy_coded_kbps"), UTILISATION: mean("codebook_utilisation", 100.0),
               ENTROPY: mean("entropy_bits_per_token")}
    notes = list(missing_notes)
    explained = set(with_tokens["testset"]) | set(missing["testset"])
    lacking = [name for name in group["testset"] if name not in explained]
    if lacking:
        notes.append(f"no token records on {', '.join(lacking)}: token figures over {len(with_tokens)} of "
                     f"{len(group)} test sets")
    warned = [row.testset for row in with_tokens.itertuples() if _text(row.token_warnings)]
    if warned:
        notes.append(f"token figures on {', '.join(warned)} come with warnings (few tokens, or other utterances "
                     "than the metric's), read with care (`codecbench export tokens` gives them)")
    return figures, notes


def _text(value) -> bool:
    return isinstance(value, str) and bool(value)


def format_percent(value: float) -> str:
    """A share in per cent as the ranking shows it (``43.5``); empty for none."""
    return "" if value is None or math.isnan(value) else f"{value:.1f}"


def format_bits(value: float) -> str:
    """Bits per token as the ranking shows them (``7.85``); empty for none."""
    return "" if value is None or math.isnan(value) else f"{value:.2f}"
