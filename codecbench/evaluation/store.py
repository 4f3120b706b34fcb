"""Reading and writing evaluation results in the shared database.

Functions take a :class:`sqlalchemy.orm.Session` and never commit: the caller owns the
transaction (the runner commits once per finished unit). Writes that could race with another
run on the same database insert with ``ON CONFLICT`` clauses on the tables' unique
constraints, so a unit or score is never stored twice.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from codecbench.evaluation.conditions import EvalCondition
from codecbench.evaluation.datasets import SkippedUtterance, TestSet, Utterance
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.work import UnitOutcome
from codecbench.storage.base import utc_now
from codecbench.storage.evaluation_tables import (
    EvalConditionRow,
    EvalRunRow,
    EvalScoreRow,
    EvalTestSetRow,
    EvalTokenStreamRow,
    EvalUnitLeaseRow,
    EvalUnitRequestRow,
    EvalUnitRow,
    EvalUtteranceRow,
)
from codecbench.tokens.coder import CODER_VERSION
from codecbench.tokens.statistics import UnitTokens

ScoreKey = tuple[str, str]  # (metric, protocol)


# Databases whose INSERT knows ON CONFLICT, which resumable runs rely on.
EVALUATION_DIALECTS = ("sqlite", "postgresql")
#: How long a lease lasts unless its run renews it (each time it stores a unit): a run on another
#: host that was killed frees its units after this long.
UNIT_LEASE_S = 10 * 60.0


def check_evaluation_dialect(dialect: str) -> None:
    """Raise a ValueError naming the supported databases unless ``dialect`` is one of them.

    Checked when a database is opened for an evaluation, before any test set is indexed.
    """
    if dialect not in EVALUATION_DIALECTS:
        raise ValueError(
            f"the evaluation engine stores results in SQLite or PostgreSQL (--db sqlite:///FILE or "
            f"postgresql://...), not {dialect}."
        )


def insert_statement(session: Session, table):
    """An INSERT for ``table`` in the session's dialect, which knows ``ON CONFLICT``."""
    dialect = session.get_bind().dialect.name
    check_evaluation_dialect(dialect)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def create_run(session: Session, codecbench_version: str, settings: Mapping) -> int:
    run = EvalRunRow(codecbench_version=codecbench_version, settings_json=json.dumps(settings, sort_keys=True))
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int) -> None:
    session.execute(update(EvalRunRow).where(EvalRunRow.id == run_id).values(finished_at=utc_now()))


def claim_unit(session: Session, run_id: int, condition_id: int, utterance_row_id: int,
               lease_s: float = UNIT_LEASE_S) -> bool:
    """Take the lease of a unit for ``run_id``; ``False`` when another live run holds it.

    A lease held by a run that has finished, is past its expiry, or whose process on this host is
    gone (killed, say) is taken over. Each step is one statement that only writes when the lease
    is free, so two runs claiming at once cannot both win.
    """
    now = utc_now()
    expires_at = now + timedelta(seconds=lease_s)
    holder = {"run_id": run_id, "expires_at": expires_at, "host": socket.gethostname(), "pid": os.getpid()}
    finished_runs = select(EvalRunRow.id).where(EvalRunRow.finished_at.is_not(None))
    statement = insert_statement(session, EvalUnitLeaseRow).values(
        condition_id=condition_id, utterance_id=utterance_row_id, **holder)
    session.execute(statement.on_conflict_do_update(
        index_elements=[EvalUnitLeaseRow.condition_id, EvalUnitLeaseRow.utterance_id],
        set_=holder,
        where=(EvalUnitLeaseRow.run_id == run_id) | (EvalUnitLeaseRow.expires_at < now)
        | EvalUnitLeaseRow.run_id.in_(finished_runs),
    ))
    lease = session.execute(select(EvalUnitLeaseRow.run_id, EvalUnitLeaseRow.host, EvalUnitLeaseRow.pid).where(
        EvalUnitLeaseRow.condition_id == condition_id, EvalUnitLeaseRow.utterance_id == utterance_row_id)).one()
    if lease.run_id == run_id:
        return True
    if lease.host != holder["host"] or _process_alive(lease.pid):
        return False
    taken = session.execute(update(EvalUnitLeaseRow).where(
        EvalUnitLeaseRow.condition_id == condition_id, EvalUnitLeaseRow.utterance_id == utterance_row_id,
        EvalUnitLeaseRow.run_id == lease.run_id, EvalUnitLeaseRow.pid == lease.pid,
    ).values(**holder))
    return taken.rowcount == 1


def renew_leases(session: Session, run_id: int, lease_s: float = UNIT_LEASE_S) -> None:
    """Move the expiry of every lease the run holds ``lease_s`` ahead: it is still working."""
    session.execute(update(EvalUnitLeaseRow).where(EvalUnitLeaseRow.run_id == run_id)
                    .values(expires_at=utc_now() + timedelta(seconds=lease_s)))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def release_leases(session: Session, run_id: int, condition_id: int | None = None,
                   utterance_row_id: int | None = None) -> None:
    """End the run's lease of one unit, or (without a unit) all its leases."""
    statement = delete(EvalUnitLeaseRow).where(EvalUnitLeaseRow.run_id == run_id)
    if condition_id is not None:
        statement = statement.where(EvalUnitLeaseRow.condition_id == condition_id,
                                    EvalUnitLeaseRow.utterance_id == utterance_row_id)
    session.execute(statement)


def stored_unit(session: Session, condition_id: int, utterance_row_id: int) -> StoredUnit | None:
    """What is stored now for one unit (another run may have stored it since this one planned)."""
    row = session.execute(
        select(EvalUnitRow.id, EvalUnitRow.error, EvalUnitRow.failure_stage)
        .where(EvalUnitRow.condition_id == condition_id, EvalUnitRow.utterance_id == utterance_row_id)
    ).first()
    if row is None:
        return None
    unit = StoredUnit(row.id, row.error, row.failure_stage)
    unit.has_tokens = session.scalar(select(EvalTokenStreamRow.id).where(
        EvalTokenStreamRow.unit_id == row.id, EvalTokenStreamRow.coder_version == CODER_VERSION).limit(1)) is not None
    for metric, protocol, value in session.execute(
        select(EvalScoreRow.metric, EvalScoreRow.protocol, EvalScoreRow.value).where(EvalScoreRow.unit_id == row.id)
    ):
        unit.scores[(metric, protocol)] = value is not None
    return unit


def utterance_sample_rate(session: Session, utterance_row_id: int) -> int | None:
    """The rate of an utterance's audio, or ``None`` while no run has read it."""
    return session.scalar(select(EvalUtteranceRow.sample_rate_hz).where(EvalUtteranceRow.id == utterance_row_id))


def utterance_sample_rates(session: Session, testset_id: int) -> dict[int, int | None]:
    """The rate of each utterance's audio in a test set (``None`` while unread), by utterance row id."""
    rows = session.execute(
        select(EvalUtteranceRow.id, EvalUtteranceRow.sample_rate_hz).where(EvalUtteranceRow.testset_id == testset_id)
    )
    return {row_id: rate for row_id, rate in rows}


def failed_score_errors(
    session: Session, testset_id: int, condition_ids: Iterable[int]
) -> dict[int, dict[ScoreKey, str]]:
    """The error of every failed score of a test set under the conditions, by unit id."""
    errors: dict[int, dict[ScoreKey, str]] = {}
    rows = session.execute(
        select(EvalScoreRow.unit_id, EvalScoreRow.metric, EvalScoreRow.protocol, EvalScoreRow.error)
        .join(EvalUnitRow, EvalUnitRow.id == EvalScoreRow.unit_id)
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .where(EvalUtteranceRow.testset_id == testset_id, EvalUnitRow.condition_id.in_(list(condition_ids)),
               EvalScoreRow.error.is_not(None))
    )
    for unit_id, metric, protocol, error in rows:
        errors.setdefault(unit_id, {})[(metric, protocol)] = error
    return errors


@dataclass(frozen=True)
class StoredUtterance:
    """An utterance's row id, and its audio's rate once a run has read it."""

    row_id: int
    sample_rate_hz: int | None


def sync_testset(
    session: Session, testset: TestSet, skipped: Iterable[SkippedUtterance] = ()
) -> tuple[int, dict[str, StoredUtterance]]:
    """Make sure the test set and its utterances (``skipped`` ones too) have rows; returns the
    test set's id and each utterance's row, by utterance id.

    An utterance's stored source, speaker and text are updated when the loader now says
    otherwise (a corpus that moved to another disk keeps its results).
    """
    skipped = list(skipped)
    row = session.scalars(select(EvalTestSetRow).where(EvalTestSetRow.name == testset.name)).one_or_none()
    if row is None:
        row = EvalTestSetRow(name=testset.name, kind=testset.kind, root=str(testset.root),
                             total_utterances=testset.total_utterances, skipped_utterances=len(testset.skipped))
        session.add(row)
        session.flush()
    else:
        row.kind, row.root = testset.kind, str(testset.root)
        row.total_utterances, row.skipped_utterances = testset.total_utterances, len(testset.skipped)
        row.updated_at = utc_now()
    wanted = {utterance.id: _utterance_values(utterance) for utterance in testset.utterances}
    for record in skipped:
        wanted.setdefault(record.id, {"source_json": None, "location": record.location, "speaker": None,
                                      "language": None, "text": None})
    existing = {
        stored.name: stored
        for stored in session.scalars(select(EvalUtteranceRow).where(EvalUtteranceRow.testset_id == row.id))
    }
    new = [{"testset_id": row.id, "name": name, **values} for name, values in wanted.items() if name not in existing]
    if new:
        session.execute(insert_statement(session, EvalUtteranceRow).on_conflict_do_nothing(), new)
    for name, values in wanted.items():
        stored = existing.get(name)
        if stored is not None and values["source_json"] is not None:
            for column, value in values.items():
                if getattr(stored, column) != value:
                    setattr(stored, column, value)
    session.flush()
    rows = session.execute(
        select(EvalUtteranceRow.name, EvalUtteranceRow.id, EvalUtteranceRow.sample_rate_hz)
        .where(EvalUtteranceRow.testset_id == row.id)
    )
    return row.id, {name: StoredUtterance(row_id, rate) for name, row_id, rate in rows}


def _utterance_values(utterance: Utterance) -> dict:
    return {
        "source_json": json.dumps(utterance.source.to_dict(), sort_keys=True),
        "location": utterance.source.describe(),
        "speaker": utterance.speaker,
        "language": utterance.language,
        "text": utterance.text,
    }


def sync_condition(session: Session, condition: EvalCondition) -> int:
    """The row id of ``condition`` (made if it is new)."""
    point = condition.operating_point
    session.execute(
        insert_statement(session, EvalConditionRow).on_conflict_do_nothing().values(
            codec=condition.codec, operating_point=point.label, nominal_kbps=point.nominal_kbps,
            tokens_per_second=point.tokens_per_second, checkpoint=condition.checkpoint,
            implementation=condition.implementation, created_at=utc_now(),
        )
    )
    return session.scalars(
        select(EvalConditionRow.id).where(
            EvalConditionRow.codec == condition.codec,
            EvalConditionRow.operating_point == point.label,
            EvalConditionRow.checkpoint == condition.checkpoint,
        )
    ).one()


@dataclass
class StoredUnit:
    """What the database holds for one (condition, utterance): the unit's error if it failed,
    for each stored score whether it has a value, and whether its token record is stored."""

    unit_id: int
    error: str | None
    failure_stage: str | None
    scores: dict[ScoreKey, bool] = field(default_factory=dict)
    has_tokens: bool = False


def stored_units(session: Session, testset_id: int, condition_ids: Iterable[int]) -> dict[tuple[int, int], StoredUnit]:
    """Every stored unit of a test set under the given conditions, by (condition id, utterance row id)."""
    condition_ids = list(condition_ids)
    if not condition_ids:
        return {}
    units: dict[tuple[int, int], StoredUnit] = {}
    by_id: dict[int, StoredUnit] = {}
    rows = session.execute(
        select(EvalUnitRow.id, EvalUnitRow.condition_id, EvalUnitRow.utterance_id, EvalUnitRow.error,
               EvalUnitRow.failure_stage)
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .where(EvalUtteranceRow.testset_id == testset_id, EvalUnitRow.condition_id.in_(condition_ids))
    )
    for unit_id, condition_id, utterance_id, error, stage in rows:
        units[(condition_id, utterance_id)] = by_id[unit_id] = StoredUnit(unit_id, error, stage)
    scores = session.execute(
        select(EvalScoreRow.unit_id, EvalScoreRow.metric, EvalScoreRow.protocol, EvalScoreRow.value)
        .join(EvalUnitRow, EvalUnitRow.id == EvalScoreRow.unit_id)
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .where(EvalUtteranceRow.testset_id == testset_id, EvalUnitRow.condition_id.in_(condition_ids))
    )
    for unit_id, metric, protocol, value in scores:
        by_id[unit_id].scores[(metric, protocol)] = value is not None
    with_tokens = session.scalars(
        select(EvalTokenStreamRow.unit_id).distinct()
        .join(EvalUnitRow, EvalUnitRow.id == EvalTokenStreamRow.unit_id)
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .where(EvalUtteranceRow.testset_id == testset_id, EvalUnitRow.condition_id.in_(condition_ids),
               EvalTokenStreamRow.coder_version == CODER_VERSION)
    )
    for unit_id in with_tokens:
        by_id[unit_id].has_tokens = True
    return units


def _unit_id(session: Session, condition_id: int, utterance_row_id: int, run_id: int) -> int:
    session.execute(
        insert_statement(session, EvalUnitRow).on_conflict_do_nothing().values(
            condition_id=condition_id, utterance_id=utterance_row_id, run_id=run_id, created_at=utc_now()
        )
    )
    return session.scalars(
        select(EvalUnitRow.id).where(EvalUnitRow.condition_id == condition_id, EvalUnitRow.utterance_id == utterance_row_id)
    ).one()


# The rates a failed unit's audio may have had when it was never read (PESQ's variant depends on it).
_UNKNOWN_RATE_CANDIDATES_HZ = (8000, 16000)


def requested_keys(config: ScoringConfig, sample_rate_hz: int | None) -> set[ScoreKey]:
    """The (metric, protocol) pairs ``config`` asks for on audio at ``sample_rate_hz``; for an
    unknown rate, those it asks for at any rate (``pesq``: both ``pesq_wb`` and ``pesq_nb``)."""
    rates = (sample_rate_hz,) if sample_rate_hz else _UNKNOWN_RATE_CANDIDATES_HZ
    return {(metric.name, metric.protocol or "") for rate in rates for metric in config.metrics_for(rate)}


def record_requests(session: Session, unit_id: int, config: ScoringConfig, sample_rate_hz: int | None) -> None:
    """Note that ``config``'s metrics were asked of a failed unit (its failure counts under them)."""
    rows = [{"unit_id": unit_id, "metric": metric, "protocol": protocol}
            for metric, protocol in sorted(requested_keys(config, sample_rate_hz))]
    if rows:
        session.execute(insert_statement(session, EvalUnitRequestRow).on_conflict_do_nothing(), rows)


def store_skipped(
    session: Session, run_id: int, condition_id: int, utterance_row_id: int, reason: str, config: ScoringConfig
) -> None:
    """Record that the loader skipped an utterance, as a failed unit asked for ``config``'s
    metrics, unless the unit already holds anything (results made while the file was still
    there are kept)."""
    session.execute(
        insert_statement(session, EvalUnitRow).on_conflict_do_nothing().values(
            condition_id=condition_id, utterance_id=utterance_row_id, run_id=run_id,
            error=f"skipped by the test-set loader: {reason}", failure_stage="index", created_at=utc_now(),
        )
    )
    unit_id, error = session.execute(
        select(EvalUnitRow.id, EvalUnitRow.error)
        .where(EvalUnitRow.condition_id == condition_id, EvalUnitRow.utterance_id == utterance_row_id)
    ).one()
    if error is not None:
        record_requests(session, unit_id, config, None)


def store_outcome(session: Session, run_id: int, condition_id: int, utterance_row_id: int, outcome: UnitOutcome) -> None:
    """Store a unit's outcome: the unit's record, one score row per metric result and a token
    codec's token record.

    The outcome of a unit that only needed its tokens (``unit.scoring is None``) stores its token
    record alone: the unit's row and scores stay as the run that scored it left them.
    """
    if outcome.unit.scoring is None:
        if outcome.error is not None:
            raise ValueError("a unit that only needed its tokens failed; its stored results stay as they are")
        if outcome.tokens is not None:
            store_tokens(session, run_id, _unit_id(session, condition_id, utterance_row_id, run_id), outcome.tokens)
        return
    unit_id = _unit_id(session, condition_id, utterance_row_id, run_id)
    values: dict = {"run_id": run_id, "error": outcome.error, "failure_stage": outcome.failure_stage}
    if outcome.error is None:
        values.update(measured_kbps=outcome.measured_kbps, side_info_bits=outcome.side_info_bits,
                      delay_samples=outcome.delay_samples, processing_s=outcome.processing_s)
    if outcome.audio_path is not None:
        values["audio_path"] = str(outcome.audio_path)
    session.execute(update(EvalUnitRow).where(EvalUnitRow.id == unit_id).values(**values))
    if outcome.error is not None:
        record_requests(session, unit_id, outcome.unit.scoring, outcome.sample_rate_hz)
    if outcome.tokens is not None:
        store_tokens(session, run_id, unit_id, outcome.tokens)
    if outcome.sample_rate_hz is not None:
        session.execute(
            update(EvalUtteranceRow).where(EvalUtteranceRow.id == utterance_row_id)
            .values(sample_rate_hz=outcome.sample_rate_hz, duration_s=outcome.duration_s)
        )
    if outcome.results:
        now = utc_now()
        rows = [
            {
                "unit_id": unit_id, "run_id": run_id, "metric": result.metric, "protocol": result.protocol or "",
                "value": result.value, "error": result.error, "implementation": result.implementation,
                "delay_samples": result.delay_samples, "gain_db": result.gain_db, "created_at": now,
            }
            for result in outcome.results
        ]
        statement = insert_statement(session, EvalScoreRow)
        excluded = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["unit_id", "metric", "protocol"],
                set_={column: excluded[column] for column in
                      ("run_id", "value", "error", "implementation", "delay_samples", "gain_db", "created_at")},
            ),
            rows,
        )


def store_tokens(session: Session, run_id: int, unit_id: int, tokens: UnitTokens) -> None:
    """Store a unit's token record, one row per stream, in place of what the unit held before (a
    unit computed again is counted once; its rows get new ids, which summaries notice)."""
    now = utc_now()
    rows = [
        {
            "unit_id": unit_id, "run_id": run_id, "stream": stream.counts.name,
            "num_codebooks": stream.counts.num_codebooks, "codebook_size": stream.counts.codebook_size,
            "num_frames": stream.counts.num_frames, "bits_per_token": tokens.bits_per_token,
            "frame_rate_hz": tokens.frame_rate_hz, "duration_s": tokens.duration_s,
            "coded_bits": stream.coded_bits, "model_bits": stream.model_bits, "coded": stream.coded,
            "coder_version": CODER_VERSION, "codes_crc32": stream.codes_crc32, "created_at": now,
        }
        for stream in tokens.streams
    ]
    session.execute(delete(EvalTokenStreamRow).where(EvalTokenStreamRow.unit_id == unit_id))
    # Two runs storing the same unit at once: one set of rows stands.
    session.execute(insert_statement(session, EvalTokenStreamRow).on_conflict_do_nothing(), rows)
