"""Token statistics of stored evaluations, per test set and condition.

Each successful unit of a token codec stores its counts and entropy-coded size per stream
(``eval_token_streams``); a test set's figures under a condition are those of the sum of its
units (:func:`codecbench.tokens.statistics.token_report`), so they are the same whether one run
or many stored the units. Summing a large test set's counts takes a while (LibriSpeech
test-clean: 2,620 units), so reports are kept in memory, keyed by what is stored (row count,
row ids, latest write) and made again as soon as that changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.storage.evaluation_tables import (
    EvalConditionRow,
    EvalTestSetRow,
    EvalTokenStreamRow,
    EvalUnitRow,
    EvalUtteranceRow,
)
from codecbench.tokens.counts import StreamCounts
from codecbench.tokens.statistics import StreamTokens, TokenReport, UnitTokens, token_report

STREAM_ORDER = ("codes", "prosody", "content", "residual")
CACHE_SIZE = 512

TOKEN_CELL_COLUMNS = (
    "token_utterances", "entropy_coded_kbps", "entropy_kbps", "codebook_utilisation", "entropy_bits_per_token",
    "token_warnings",
)


@dataclass(frozen=True)
class _Fingerprint:
    rows: int
    id_sum: int
    latest: object


_cache: OrderedDict[tuple[str, int], tuple[_Fingerprint, TokenReport]] = OrderedDict()
_cache_lock = threading.Lock()


def _scope(statement, testsets: Sequence[str] | None, condition_ids: Sequence[int] | None):
    statement = (
        statement.join(EvalUnitRow, EvalUnitRow.id == EvalTokenStreamRow.unit_id)
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .join(EvalTestSetRow, EvalTestSetRow.id == EvalUtteranceRow.testset_id)
        .where(EvalUnitRow.error.is_(None))
    )
    if testsets is not None:
        statement = statement.where(EvalTestSetRow.name.in_(list(testsets)))
    if condition_ids is not None:
        statement = statement.where(EvalUnitRow.condition_id.in_(list(condition_ids)))
    return statement


def token_reports(
    session: Session, *, testsets: Sequence[str] | None = None, condition_ids: Sequence[int] | None = None
) -> dict[tuple[str, int], TokenReport]:
    """The token figures of every (test set, condition id) with stored token records, optionally
    for some test sets and conditions."""
    fingerprints = {
        (testset, condition_id): _Fingerprint(int(rows), int(id_sum), latest)
        for testset, condition_id, rows, id_sum, latest in session.execute(_scope(
            select(EvalTestSetRow.name, EvalUnitRow.condition_id, func.count(EvalTokenStreamRow.id),
                   func.sum(EvalTokenStreamRow.id), func.max(EvalTokenStreamRow.created_at)),
            testsets, condition_ids,
        ).group_by(EvalTestSetRow.name, EvalUnitRow.condition_id))
    }
    reports: dict[tuple[str, int], TokenReport] = {}
    for key, fingerprint in fingerprints.items():
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None and cached[0] == fingerprint:
            reports[key] = cached[1]
            continue
        report = _report(session, *key)
        reports[key] = report
        with _cache_lock:
            _cache[key] = (fingerprint, report)
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return reports


def stored_unit_tokens(session: Session, testset: str, condition_id: int) -> list[UnitTokens]:
    """The token records of a test set's successful units under a condition, one per unit."""
    rows = session.execute(_scope(
        select(EvalTokenStreamRow.unit_id, EvalTokenStreamRow.stream, EvalTokenStreamRow.bits_per_token,
               EvalTokenStreamRow.frame_rate_hz, EvalTokenStreamRow.duration_s, EvalTokenStreamRow.coded_bits,
               EvalTokenStreamRow.model_bits, EvalTokenStreamRow.counts),
        [testset], [condition_id],
    ).order_by(EvalTokenStreamRow.unit_id)).all()
    by_unit: dict[int, list] = {}
    for row in rows:
        by_unit.setdefault(row.unit_id, []).append(row)
    units = []
    for streams in by_unit.values():
        streams.sort(key=lambda row: (STREAM_ORDER.index(row.stream) if row.stream in STREAM_ORDER else len(STREAM_ORDER),
                                      row.stream))
        first = streams[0]
        units.append(UnitTokens(
            streams=tuple(StreamTokens(StreamCounts.from_bytes(row.stream, row.counts), row.coded_bits, row.model_bits)
                          for row in streams),
            duration_s=first.duration_s, bits_per_token=first.bits_per_token, frame_rate_hz=first.frame_rate_hz,
        ))
    return units


def _report(session: Session, testset: str, condition_id: int) -> TokenReport:
    return token_report(stored_unit_tokens(session, testset, condition_id))


def token_cells(session: Session, cells: pd.DataFrame) -> pd.DataFrame:
    """Leaderboard cells (one row per test set and ``condition_id``) with :data:`TOKEN_CELL_COLUMNS`
    added: empty for conditions without token records (classical codecs and anchors send no tokens)."""
    cells = cells.copy()
    for column in TOKEN_CELL_COLUMNS:
        cells[column] = pd.Series([None] * len(cells), index=cells.index, dtype=object)
    if cells.empty:
        return cells
    reports = token_reports(session, testsets=sorted(set(cells["testset"])),
                            condition_ids=sorted({int(c) for c in cells["condition_id"]}))
    for index, row in cells.iterrows():
        report = reports.get((row["testset"], int(row["condition_id"])))
        if report is None:
            continue
        cells.at[index, "token_utterances"] = report.utterances
        cells.at[index, "entropy_coded_kbps"] = report.entropy_coded_kbps
        cells.at[index, "entropy_kbps"] = report.entropy_kbps
        cells.at[index, "codebook_utilisation"] = report.mean_utilisation
        cells.at[index, "entropy_bits_per_token"] = report.mean_entropy_bits
        cells.at[index, "token_warnings"] = " | ".join(report.warnings)
    return cells


def condition_names(session: Session, condition_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """(codec, operating point, checkpoint) of each condition id."""
    rows = session.execute(select(EvalConditionRow.id, EvalConditionRow.codec, EvalConditionRow.operating_point,
                                  EvalConditionRow.checkpoint).where(EvalConditionRow.id.in_(list(condition_ids))))
    return {row.id: (row.codec, row.operating_point, row.checkpoint) for row in rows}
