"""Token statistics of stored evaluations, per test set and condition.

Each successful unit of a token codec stores its codes per stream, entropy-coded
(``eval_token_streams``: the bytes are the measured coded size, and decode to the codes). A test
set's figures under a condition are those of the sum of its units' counts
(:func:`codecbench.tokens.statistics.token_report`), so they are the same whether one run or
many stored the units. Decoding and counting a large test set takes a while (LibriSpeech
test-clean at 6 kbps: about 12 million tokens), so the figures are kept per test set and
condition (``eval_token_summaries``, written by the run that stored the units:
:func:`refresh_token_summaries`), with the row count, row ids and latest write of the token rows
they sum; a summary that no longer matches what is stored (a run still going, or one that was
interrupted) is made again in memory instead of being shown.

The figures reach the leaderboard's cells (:func:`token_cells`) and a table of every figure per
stream and codebook (:func:`export_tokens`, ``codecbench export tokens``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from codecbench.evaluation.store import insert_statement
from codecbench.storage import Database
from codecbench.storage.base import utc_now
from codecbench.storage.evaluation_tables import (
    EvalConditionRow,
    EvalRunRow,
    EvalTestSetRow,
    EvalTokenStreamRow,
    EvalTokenSummaryRow,
    EvalUnitRow,
    EvalUtteranceRow,
)
from codecbench.tokens.coder import CODER_VERSION
from codecbench.tokens.estimators import ESTIMATOR, EntropyEstimate
from codecbench.tokens.statistics import (
    CODER,
    SINGLE_STREAM,
    CodebookFigures,
    StreamTokens,
    TokenReport,
    UnitTokens,
    report_from_record,
    report_record,
    token_report,
)

STREAM_ORDER = (SINGLE_STREAM, "prosody", "content", "residual")
CACHE_SIZE = 512
#: A report whose rows changed is made again at most this often per process (see token_reports).
REMAKE_INTERVAL_S = 60.0
#: The stored summaries' format: a summary of another format (or coder) is made again.
SUMMARY_FORMAT = f"token-report-1/coder-{CODER_VERSION}"

NOT_MEASURED = ("tokens not measured yet: its units were stored before codecbench measured tokens; "
                "`codecbench evaluate` with the same test set and codec measures them (without scoring again)")
TOKEN_CELL_COLUMNS = (
    "token_utterances", "entropy_coded_kbps", "entropy_kbps", "codebook_utilisation", "entropy_bits_per_token",
    "token_warnings",
)


@dataclass(frozen=True)
class _Fingerprint:
    """Which token rows a report sums: their count, the sum of their ids and the latest write."""

    rows: int
    id_sum: int
    latest: datetime

    @classmethod
    def of(cls, rows: int, id_sum: int, latest: datetime) -> _Fingerprint:
        # SQLite gives back naive datetimes (in UTC); PostgreSQL aware ones.
        aware = latest if latest.tzinfo is not None else latest.replace(tzinfo=UTC)
        return cls(int(rows), int(id_sum), aware)


@dataclass(frozen=True)
class _Cached:
    fingerprint: _Fingerprint
    report: TokenReport
    made_at: float


class _ReportCache:
    """Reports made in this process, by (test set, condition id); the least recently stored go first."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[str, int], _Cached] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> _Cached | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple[str, int], item: _Cached) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _ReportCache(CACHE_SIZE)
_making_locks: dict[tuple[str, int], threading.Lock] = {}
_making_locks_lock = threading.Lock()


def _making_lock(key: tuple[str, int]) -> threading.Lock:
    """The lock a thread holds while it makes ``key``'s report (one at a time per key)."""
    with _making_locks_lock:
        return _making_locks.setdefault(key, threading.Lock())


def _scope(statement, testsets: Sequence[str] | None, condition_ids: Sequence[int] | None):
    statement = (
        statement.join(EvalUnitRow, EvalUnitRow.id == EvalTokenStreamRow.unit_id)
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .join(EvalTestSetRow, EvalTestSetRow.id == EvalUtteranceRow.testset_id)
        .where(EvalUnitRow.error.is_(None), EvalTokenStreamRow.coder_version == CODER_VERSION)
    )
    if testsets is not None:
        statement = statement.where(EvalTestSetRow.name.in_(list(testsets)))
    if condition_ids is not None:
        statement = statement.where(EvalUnitRow.condition_id.in_(list(condition_ids)))
    return statement


def _fingerprints(
    session: Session, testsets: Sequence[str] | None, condition_ids: Sequence[int] | None
) -> dict[tuple[str, int], tuple[int, _Fingerprint]]:
    """For each (test set, condition id) with token rows: the test set's id and the rows' fingerprint."""
    rows = session.execute(_scope(
        select(EvalTestSetRow.name, EvalTestSetRow.id, EvalUnitRow.condition_id, func.count(EvalTokenStreamRow.id),
               func.sum(EvalTokenStreamRow.id), func.max(EvalTokenStreamRow.created_at)),
        testsets, condition_ids,
    ).group_by(EvalTestSetRow.name, EvalTestSetRow.id, EvalUnitRow.condition_id))
    return {(name, condition_id): (testset_id, _Fingerprint.of(count, id_sum, latest))
            for name, testset_id, condition_id, count, id_sum, latest in rows}


def _stored_summaries(session: Session, testset_ids: Sequence[int]) -> dict[tuple[int, int], EvalTokenSummaryRow]:
    rows = session.scalars(select(EvalTokenSummaryRow).where(EvalTokenSummaryRow.testset_id.in_(list(testset_ids))))
    return {(row.testset_id, row.condition_id): row for row in rows}


def _summary_report(summary: EvalTokenSummaryRow | None, fingerprint: _Fingerprint) -> TokenReport | None:
    """A stored summary's report if it sums exactly the rows stored now and was written by this
    coder and report format; else ``None`` (it is made again)."""
    if summary is None or _Fingerprint.of(summary.rows, summary.id_sum, summary.latest) != fingerprint:
        return None
    try:
        record = json.loads(summary.report_json)
        if record.get("format") != SUMMARY_FORMAT:
            return None
        return report_from_record(record["report"])
    except (ValueError, TypeError, KeyError):  # written by another codecbench: made again
        return None


def token_reports(
    session: Session, *, testsets: Sequence[str] | None = None, condition_ids: Sequence[int] | None = None
) -> dict[tuple[str, int], TokenReport]:
    """The token figures of every (test set, condition id) with stored token records, optionally
    for some test sets and conditions: the stored summary where it matches the stored rows, else
    made from the rows and kept in memory.

    Rows change while a run stores units, and leaderboards are public: a (test set, condition)
    whose rows changed is made again at most once per :data:`REMAKE_INTERVAL_S` per process
    (one thread at a time; meanwhile the figures last made are shown), so requests cannot keep
    the server decoding test sets.
    """
    fingerprints = _fingerprints(session, testsets, condition_ids)
    summaries = _stored_summaries(session, sorted({testset_id for testset_id, _ in fingerprints.values()}))
    reports: dict[tuple[str, int], TokenReport] = {}
    for key, (testset_id, fingerprint) in fingerprints.items():
        cached = _cache.get(key)
        if cached is not None and cached.fingerprint == fingerprint:
            reports[key] = cached.report
            continue
        report = _summary_report(summaries.get((testset_id, key[1])), fingerprint)
        if report is None and cached is not None and time.monotonic() - cached.made_at < REMAKE_INTERVAL_S:
            reports[key] = cached.report  # made a moment ago; the rows are still changing
            continue
        if report is None:
            with _making_lock(key):
                cached = _cache.get(key)  # another thread may have made it meanwhile
                if cached is not None and (cached.fingerprint == fingerprint
                                           or time.monotonic() - cached.made_at < REMAKE_INTERVAL_S):
                    reports[key] = cached.report
                    continue
                report = token_report(stored_unit_tokens(session, *key))
        reports[key] = report
        _cache.put(key, _Cached(fingerprint, report, time.monotonic()))
    return reports


def refresh_token_summaries(
    database: Database, *, testsets: Sequence[str] | None = None, condition_ids: Sequence[int] | None = None
) -> int:
    """Write the summary of every (test set, condition) whose stored summary is missing or no
    longer matches its token rows, and drop summaries left without rows; returns how many were
    written. Called by an evaluation run for what it stored.

    The rows are decoded and summed in a read-only session; each summary is then written in a
    short transaction of its own, only if the rows are still the ones summed (so a long decode
    never holds the database's write lock, and another run's newer rows are not overwritten by an
    older sum)."""
    with database.session(read_only=True) as session:
        fingerprints = _fingerprints(session, testsets, condition_ids)
        summaries = _stored_summaries(session, sorted({testset_id for testset_id, _ in fingerprints.values()}))
        made = {}
        for key, (testset_id, fingerprint) in fingerprints.items():
            if _summary_report(summaries.pop((testset_id, key[1]), None), fingerprint) is None:
                made[key] = (testset_id, fingerprint, token_report(stored_unit_tokens(session, *key)))
        orphans = [summary.id for (_, condition_id), summary in summaries.items()
                   if condition_ids is None or condition_id in condition_ids]
    written = 0
    for key, (testset_id, fingerprint, report) in made.items():
        with database.session() as session:
            if _fingerprints(session, [key[0]], [key[1]]).get(key, (None, None))[1] != fingerprint:
                continue  # rows changed meanwhile: the run that changed them writes its summary
            values = {"rows": fingerprint.rows, "id_sum": fingerprint.id_sum, "latest": fingerprint.latest,
                      "report_json": json.dumps({"format": SUMMARY_FORMAT, "report": report_record(report)}),
                      "updated_at": utc_now()}
            statement = insert_statement(session, EvalTokenSummaryRow).values(
                testset_id=testset_id, condition_id=key[1], **values)
            session.execute(statement.on_conflict_do_update(index_elements=["testset_id", "condition_id"], set_=values))
            written += 1
    if orphans:
        with database.session() as session:
            session.execute(delete(EvalTokenSummaryRow).where(EvalTokenSummaryRow.id.in_(orphans)))
    return written


def stored_unit_tokens(session: Session, testset: str, condition_id: int) -> list[UnitTokens]:
    """The token records of a test set's successful units under a condition, one per unit (their
    coded streams decoded and counted again)."""
    rows = session.execute(_scope(
        select(EvalTokenStreamRow.unit_id, EvalTokenStreamRow.stream, EvalTokenStreamRow.num_codebooks,
               EvalTokenStreamRow.num_frames, EvalTokenStreamRow.codebook_size, EvalTokenStreamRow.bits_per_token,
               EvalTokenStreamRow.frame_rate_hz, EvalTokenStreamRow.duration_s, EvalTokenStreamRow.model_bits,
               EvalTokenStreamRow.coded, EvalTokenStreamRow.codes_crc32),
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
            streams=tuple(StreamTokens.from_coded(row.stream, bytes(row.coded), row.num_codebooks, row.num_frames,
                                                  row.codebook_size, row.model_bits, row.codes_crc32)
                          for row in streams),
            duration_s=first.duration_s, bits_per_token=first.bits_per_token, frame_rate_hz=first.frame_rate_hz,
        ))
    return units


def token_cells(session: Session, cells: pd.DataFrame) -> pd.DataFrame:
    """Leaderboard cells (one row per test set and ``condition_id``) with :data:`TOKEN_CELL_COLUMNS`
    added: empty for conditions without token records (classical codecs and anchors send no
    tokens); ``token_warnings`` says when a token codec's figures are missing (units stored
    before codecbench measured tokens, or figures that could not be read: the scores are shown
    all the same) or cover other utterances than the metric's ``n``."""
    cells = cells.copy()
    for column in TOKEN_CELL_COLUMNS:
        cells[column] = pd.Series([None] * len(cells), index=cells.index, dtype=object)
    if cells.empty:
        return cells
    try:
        reports = token_reports(session, testsets=sorted(set(cells["testset"])),
                                condition_ids=sorted({int(c) for c in cells["condition_id"]}))
        unreadable = None
    except Exception as error:  # the figures beside the scores must not take the scores down
        reports, unreadable = {}, f"token figures could not be read ({type(error).__name__}: {error})"
    for index, row in cells.iterrows():
        report = reports.get((row["testset"], int(row["condition_id"])))
        if report is None:
            if pd.notna(row["tokens_per_second"]):  # a token codec without figures
                cells.at[index, "token_warnings"] = unreadable or NOT_MEASURED
            continue
        warnings = list(report.warnings)
        if "n" in row and int(row["n"]) and report.utterances != int(row["n"]):
            warnings.append(f"token figures over {report.utterances} utterances, the metric over {int(row['n'])}")
        cells.at[index, "token_utterances"] = report.utterances
        cells.at[index, "entropy_coded_kbps"] = report.entropy_coded_kbps
        cells.at[index, "entropy_kbps"] = report.entropy_kbps
        cells.at[index, "codebook_utilisation"] = report.mean_utilisation
        cells.at[index, "entropy_bits_per_token"] = report.mean_entropy_bits
        cells.at[index, "token_warnings"] = " | ".join(warnings)
    return cells


# ------------------------------------------------------------------------------------ the export

TOKEN_EXPORT_COLUMNS = (
    "testset", "testset_kind", "testset_utterances", "token_utterances", "duration_s", "codec", "operating_point",
    "nominal_kbps", "tokens_per_second", "measured_kbps", "entropy_coded_kbps", "entropy_kbps", "bits_per_token",
    "frame_rate_hz", "stream", "stream_codebooks", "codebook_size", "stream_frames", "stream_tokens",
    "stream_coded_bits", "stream_entropy_coded_kbps", "stream_entropy_kbps", "coder_overhead_bits", "codebook",
    "entries_used", "utilisation", "top_1pct_share", "entropy_bits", "plug_in_entropy_bits", "perplexity",
    "entropy_tokens", "entropy_cells", "entropy_given_prev_frame_bits", "plug_in_entropy_given_prev_frame_bits",
    "prev_frame_tokens", "prev_frame_contexts", "entropy_given_prev_codebook_bits",
    "plug_in_entropy_given_prev_codebook_bits", "prev_codebook_tokens", "prev_codebook_contexts", "checkpoint",
    "codec_implementation", "codecbench_version", "estimator", "coder", "warnings",
)


class NoTokenRecordsError(LookupError):
    """No token records are stored for the chosen test sets and codecs; the message says which are."""


def export_tokens(
    session: Session, *, testsets: Sequence[str] | None = None, codecs: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every token figure (:data:`TOKEN_EXPORT_COLUMNS`): one row per test set × condition ×
    stream × codebook, with the condition's rates and its provenance on every row, optionally for
    some test sets and codecs (default all).

    Raises:
        NoTokenRecordsError: none are stored for them (only token codecs have token records).
    """
    condition_ids = None
    if codecs is not None:
        condition_ids = list(session.scalars(select(EvalConditionRow.id).where(EvalConditionRow.codec.in_(list(codecs)))))
    reports = token_reports(session, testsets=testsets, condition_ids=condition_ids) if condition_ids != [] else {}
    if not reports:
        raise NoTokenRecordsError(_no_records_message(session, testsets, codecs))
    conditions = {row.id: row for row in session.scalars(
        select(EvalConditionRow).where(EvalConditionRow.id.in_(sorted({key[1] for key in reports}))))}
    testset_rows = {row.name: row for row in session.scalars(
        select(EvalTestSetRow).where(EvalTestSetRow.name.in_(sorted({key[0] for key in reports}))))}
    versions = _stored_versions(session, testsets, sorted(conditions))
    records = []
    for key in sorted(reports, key=lambda key: _export_order(key, conditions)):
        testset, condition_id = key
        report, condition, testset_row = reports[key], conditions[condition_id], testset_rows[testset]
        common = {
            "testset": testset, "testset_kind": testset_row.kind, "testset_utterances": testset_row.total_utterances,
            "token_utterances": report.utterances, "duration_s": report.duration_s, "codec": condition.codec,
            "operating_point": condition.operating_point, "nominal_kbps": condition.nominal_kbps,
            "tokens_per_second": condition.tokens_per_second, "measured_kbps": report.measured_kbps,
            "entropy_coded_kbps": report.entropy_coded_kbps, "entropy_kbps": report.entropy_kbps,
            "bits_per_token": report.bits_per_token, "frame_rate_hz": report.frame_rate_hz,
            "checkpoint": condition.checkpoint, "codec_implementation": condition.implementation,
            "codecbench_version": "; ".join(versions.get(key, ())), "estimator": ESTIMATOR, "coder": CODER,
            "warnings": " | ".join(report.warnings),
        }
        for stream in report.streams:
            stream_figures = {
                "stream": stream.name, "stream_codebooks": len(stream.codebooks), "codebook_size": stream.codebook_size,
                "stream_frames": stream.frames, "stream_tokens": stream.tokens, "stream_coded_bits": stream.coded_bits,
                "stream_entropy_coded_kbps": stream.coded_bits / report.duration_s / 1000,
                "stream_entropy_kbps": stream.entropy_bits_per_frame * stream.frames / report.duration_s / 1000,
                "coder_overhead_bits": stream.coded_bits - stream.model_bits,
            }
            for book in stream.codebooks:
                records.append({**common, **stream_figures, **_codebook_figures(book)})
    frame = pd.DataFrame(records, columns=list(TOKEN_EXPORT_COLUMNS))
    return frame.astype(dict.fromkeys(_COUNT_COLUMNS, "Int64"))  # counts stay whole numbers beside empty cells


_COUNT_COLUMNS = (
    "testset_utterances", "token_utterances", "bits_per_token", "stream_codebooks", "codebook_size", "stream_frames",
    "stream_tokens", "stream_coded_bits", "codebook", "entries_used", "entropy_tokens", "entropy_cells",
    "prev_frame_tokens", "prev_frame_contexts", "prev_codebook_tokens", "prev_codebook_contexts",
)


def _codebook_figures(book: CodebookFigures) -> dict[str, object]:
    unigram, frame, previous = book.entropy, book.entropy_given_prev_frame, book.entropy_given_prev_codebook
    return {
        "codebook": book.index, "entries_used": book.entries_used, "utilisation": book.utilisation,
        "top_1pct_share": book.top_1pct_share, "perplexity": book.perplexity,
        "entropy_bits": _field(unigram, "bits"), "plug_in_entropy_bits": _field(unigram, "plug_in_bits"),
        "entropy_tokens": _field(unigram, "tokens"), "entropy_cells": _field(unigram, "cells"),
        "entropy_given_prev_frame_bits": _field(frame, "bits"),
        "plug_in_entropy_given_prev_frame_bits": _field(frame, "plug_in_bits"),
        "prev_frame_tokens": _field(frame, "tokens"), "prev_frame_contexts": _field(frame, "contexts"),
        "entropy_given_prev_codebook_bits": _field(previous, "bits"),
        "plug_in_entropy_given_prev_codebook_bits": _field(previous, "plug_in_bits"),
        "prev_codebook_tokens": _field(previous, "tokens"), "prev_codebook_contexts": _field(previous, "contexts"),
    }


def _field(estimate: EntropyEstimate | None, name: str) -> object:
    if estimate is None:
        return None
    value = getattr(estimate, name)
    return value + 0.0 if isinstance(value, float) else value  # -0.0 (a plug-in entropy of one entry) as 0.0


def _export_order(key: tuple[str, int], conditions: dict[int, EvalConditionRow]) -> tuple:
    condition = conditions[key[1]]
    kbps = -1.0 if condition.nominal_kbps is None else condition.nominal_kbps
    return key[0], condition.codec, kbps, condition.operating_point, condition.checkpoint, key[1]


def _stored_versions(session: Session, testsets: Sequence[str] | None,
                     condition_ids: Sequence[int]) -> dict[tuple[str, int], list[str]]:
    """The codecbench versions of the runs that stored each (test set, condition)'s token records."""
    rows = session.execute(_scope(
        select(EvalTestSetRow.name, EvalUnitRow.condition_id, EvalRunRow.codecbench_version)
        .select_from(EvalTokenStreamRow), testsets, condition_ids,
    ).join(EvalRunRow, EvalRunRow.id == EvalTokenStreamRow.run_id).distinct())
    versions: dict[tuple[str, int], list[str]] = {}
    for testset, condition_id, version in rows:
        versions.setdefault((testset, condition_id), []).append(version)
    return {key: sorted(set(found)) for key, found in versions.items()}


def _no_records_message(session: Session, testsets: Sequence[str] | None, codecs: Sequence[str] | None) -> str:
    stored = session.execute(_scope(
        select(EvalTestSetRow.name, EvalConditionRow.codec).select_from(EvalTokenStreamRow), None, None,
    ).join(EvalConditionRow, EvalConditionRow.id == EvalUnitRow.condition_id).distinct()).all()
    why = ("only token (neural) codecs have token records (EnCodec, FunCodec, FreqCodec, DAC, FACodec); classical "
           "codecs and anchors send no tokens")
    if not stored:
        return (f"the database holds no token records: {why}. Evaluate a token codec first, e.g. "
                "`codecbench evaluate --testset NAME=ROOT --codec encodec_24khz@1.5,6`.")
    chosen = " and ".join(part for part in (
        f"test set(s) {', '.join(testsets)}" if testsets else "", f"codec(s) {', '.join(codecs)}" if codecs else "",
    ) if part) or "the chosen test sets and codecs"
    return (f"no token records are stored for {chosen}: {why}. Stored with token records: test sets "
            f"{', '.join(sorted({name for name, _ in stored}))}; codecs {', '.join(sorted({codec for _, codec in stored}))}.")
