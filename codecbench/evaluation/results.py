"""Stored evaluation results as pandas tables: per unit, per score, and the per-utterance export.

The export has one row per utterance × condition × metric, with its provenance on every row
(:data:`EXPORT_COLUMNS`): codecbench version, codec and checkpoint, test set, its size and the
sample drawn from it (``--limit``/``--seed``), metric, protocol and implementation; a token
codec's unit also its token count and entropy-coded bitrate. A unit that failed before any
metric ran (unreadable audio, a codec error, an utterance its loader skipped) has one row with
an empty ``metric`` and its ``error``; a metric that failed has its row with an empty ``value``
and its ``error``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codecbench.evaluation.metrics.registry import results_of
from codecbench.storage.evaluation_tables import (
    EvalConditionRow,
    EvalRunRow,
    EvalScoreRow,
    EvalTestSetRow,
    EvalTokenStreamRow,
    EvalUnitRequestRow,
    EvalUnitRow,
    EvalUtteranceRow,
)
from codecbench.untrusted_text import spreadsheet_safe


class MetricNotStoredError(ValueError):
    """No scores of the metric a user named are stored; the message lists the stored ones."""


def resolve_metric_names(metric: str, stored: Sequence[str], listing: str | None = None) -> list[str]:
    """The stored metric names ``metric`` stands for: itself, or for an alias (``pesq``) each of
    its variants that is stored (``pesq_wb``, ``pesq_nb``).

    Raises:
        MetricNotStoredError: none is stored; the message suggests a close name and lists
            ``listing`` (default: the stored names).
    """
    names = [name for name in results_of(metric) if name in stored]
    if not names:
        close = difflib.get_close_matches(metric, sorted(set(stored)), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise MetricNotStoredError(
            f"no scores of metric {metric!r} are stored.{hint} Stored: {listing or ', '.join(sorted(set(stored))) or 'none'}."
        )
    return names


UNIT_COLUMNS = (
    "unit_id", "testset", "testset_kind", "testset_utterances", "utterance", "speaker", "language", "text",
    "duration_s", "condition_id", "codec", "operating_point", "nominal_kbps", "tokens_per_second", "checkpoint",
    "codec_implementation", "measured_kbps", "side_info_bits", "unit_error", "failure_stage", "audio_path",
    "source_json", "unit_codecbench_version", "sample",
)
SCORE_COLUMNS = (
    "unit_id", "metric", "protocol", "value", "error", "metric_implementation", "delay_samples", "gain_db",
    "codecbench_version", "scored_at",
)
EXPORT_COLUMNS = (
    "testset", "testset_kind", "testset_utterances", "sample", "utterance", "speaker", "language", "duration_s",
    "codec", "operating_point", "nominal_kbps", "tokens_per_second", "measured_kbps", "entropy_coded_kbps", "tokens",
    "checkpoint", "codec_implementation", "metric", "protocol", "value", "error", "metric_implementation",
    "delay_samples", "gain_db", "codecbench_version",
)


def load_units(
    session: Session,
    *,
    testsets: Sequence[str] | None = None,
    codecs: Sequence[str] | None = None,
    condition_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row per stored unit (:data:`UNIT_COLUMNS`), optionally for some test sets, codecs or
    conditions; ``sample`` says how the run that stored it drew its utterances (:func:`sample_description`)."""
    statement = (
        select(
            EvalUnitRow.id, EvalTestSetRow.name, EvalTestSetRow.kind, EvalTestSetRow.total_utterances,
            EvalUtteranceRow.name, EvalUtteranceRow.speaker, EvalUtteranceRow.language, EvalUtteranceRow.text,
            EvalUtteranceRow.duration_s, EvalConditionRow.id, EvalConditionRow.codec, EvalConditionRow.operating_point,
            EvalConditionRow.nominal_kbps, EvalConditionRow.tokens_per_second, EvalConditionRow.checkpoint,
            EvalConditionRow.implementation, EvalUnitRow.measured_kbps, EvalUnitRow.side_info_bits,
            EvalUnitRow.error, EvalUnitRow.failure_stage, EvalUnitRow.audio_path, EvalUtteranceRow.source_json,
            EvalRunRow.codecbench_version, EvalRunRow.settings_json,
        )
        .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        .join(EvalTestSetRow, EvalTestSetRow.id == EvalUtteranceRow.testset_id)
        .join(EvalConditionRow, EvalConditionRow.id == EvalUnitRow.condition_id)
        .join(EvalRunRow, EvalRunRow.id == EvalUnitRow.run_id)
        .order_by(EvalUnitRow.id)
    )
    if testsets is not None:
        statement = statement.where(EvalTestSetRow.name.in_(list(testsets)))
    if codecs is not None:
        statement = statement.where(EvalConditionRow.codec.in_(list(codecs)))
    if condition_ids is not None:
        statement = statement.where(EvalUnitRow.condition_id.in_(list(condition_ids)))
    frame = pd.DataFrame(session.execute(statement).all(), columns=[*UNIT_COLUMNS[:-1], "settings_json"])
    samples = {text: sample_description(text) for text in frame["settings_json"].unique()}
    frame["sample"] = frame["settings_json"].map(samples)
    return frame.drop(columns="settings_json")


WHOLE_TESTSET = "all"


def sample_description(settings_json: str | None) -> str:
    """How a run drew its utterances, from its stored settings: ``--limit 200 --seed 0``, or
    ``all`` for whole test sets."""
    settings = json.loads(settings_json) if settings_json else {}
    if settings.get("limit") is None:
        return WHOLE_TESTSET
    return f"--limit {settings['limit']} --seed {settings.get('seed', 0)}"


def load_scores(
    session: Session,
    *,
    metric: str | None = None,
    protocol: str | None = None,
    testsets: Sequence[str] | None = None,
    codecs: Sequence[str] | None = None,
    condition_ids: Sequence[int] | None = None,
) -> pd.DataFrame:
    """One row per stored score (:data:`SCORE_COLUMNS`), optionally of one metric and protocol,
    and of some test sets, codecs or conditions."""
    statement = (
        select(
            EvalScoreRow.unit_id, EvalScoreRow.metric, EvalScoreRow.protocol, EvalScoreRow.value, EvalScoreRow.error,
            EvalScoreRow.implementation, EvalScoreRow.delay_samples, EvalScoreRow.gain_db,
            EvalRunRow.codecbench_version, EvalScoreRow.created_at,
        )
        .join(EvalRunRow, EvalRunRow.id == EvalScoreRow.run_id)
        .join(EvalUnitRow, EvalUnitRow.id == EvalScoreRow.unit_id)
        .order_by(EvalScoreRow.id)
    )
    if metric is not None:
        statement = statement.where(EvalScoreRow.metric == metric)
    if protocol is not None:
        statement = statement.where(EvalScoreRow.protocol == protocol)
    if condition_ids is not None:
        statement = statement.where(EvalUnitRow.condition_id.in_(list(condition_ids)))
    if testsets is not None or codecs is not None:
        statement = statement.join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
        statement = statement.join(EvalConditionRow, EvalConditionRow.id == EvalUnitRow.condition_id)
        if testsets is not None:
            statement = statement.join(EvalTestSetRow, EvalTestSetRow.id == EvalUtteranceRow.testset_id)
            statement = statement.where(EvalTestSetRow.name.in_(list(testsets)))
        if codecs is not None:
            statement = statement.where(EvalConditionRow.codec.in_(list(codecs)))
    frame = pd.DataFrame(session.execute(statement).all(), columns=list(SCORE_COLUMNS))
    frame["value"] = frame["value"].astype(float)
    return frame


def load_unit_tokens(session: Session, unit_ids: Sequence[int]) -> pd.DataFrame:
    """Each of these units' token totals over its code streams (``unit_id``, ``tokens``,
    ``entropy_coded_kbps``: the entropy-coded bits over the encoded duration); units without
    token records (classical codecs, anchors, failed units) have no row."""
    ids = [int(unit_id) for unit_id in unit_ids]
    rows = []
    for start in range(0, len(ids), 10_000):  # bounded IN lists
        rows += session.execute(
            select(EvalTokenStreamRow.unit_id, func.sum(EvalTokenStreamRow.num_codebooks * EvalTokenStreamRow.num_frames),
                   func.sum(EvalTokenStreamRow.coded_bits), func.max(EvalTokenStreamRow.duration_s))
            .where(EvalTokenStreamRow.unit_id.in_(ids[start : start + 10_000]))
            .group_by(EvalTokenStreamRow.unit_id)
        ).all()
    frame = pd.DataFrame(rows, columns=["unit_id", "tokens", "coded_bits", "duration_s"])
    frame["tokens"] = frame["tokens"].astype("Int64")
    frame["entropy_coded_kbps"] = frame["coded_bits"].astype(float) / frame["duration_s"].astype(float) / 1000
    return frame[["unit_id", "tokens", "entropy_coded_kbps"]]


def load_unit_requests(session: Session, unit_ids: Sequence[int]) -> pd.DataFrame:
    """The (metric, protocol) asked of each of these units that failed (``unit_id``, ``metric``, ``protocol``)."""
    ids = [int(unit_id) for unit_id in unit_ids]
    rows = []
    for start in range(0, len(ids), 10_000):  # bounded IN lists
        rows += session.execute(
            select(EvalUnitRequestRow.unit_id, EvalUnitRequestRow.metric, EvalUnitRequestRow.protocol)
            .where(EvalUnitRequestRow.unit_id.in_(ids[start : start + 10_000]))
        ).all()
    return pd.DataFrame(rows, columns=["unit_id", "metric", "protocol"])


def unit_failed_under(
    units: pd.DataFrame, requests: pd.DataFrame | None, metrics: Sequence[str], protocol: str | None = None
) -> pd.Series:
    """Per row of ``units``: whether the unit failed before scoring and one of ``metrics`` (under
    ``protocol``, or any) was asked of it (:func:`load_unit_requests`). A failed unit with no
    request recorded (stored by an older codecbench), or ``requests=None``, counts under every metric."""
    failed = units["unit_error"].notna()
    if requests is None:
        return failed
    wanted = requests[requests["metric"].isin(list(metrics))]
    if protocol is not None:
        wanted = wanted[wanted["protocol"] == protocol]
    asked = units["unit_id"].isin(wanted["unit_id"]) | ~units["unit_id"].isin(requests["unit_id"])
    return failed & asked


def stored_metrics(session: Session) -> list[tuple[str, str]]:
    """Every (metric, protocol) with at least one stored score, sorted."""
    rows = session.execute(select(EvalScoreRow.metric, EvalScoreRow.protocol).distinct())
    return sorted((metric, protocol) for metric, protocol in rows)


def metrics_with_values(session: Session) -> list[tuple[str, str]]:
    """Every (metric, protocol) with at least one stored value (not only failures), sorted."""
    rows = session.execute(
        select(EvalScoreRow.metric, EvalScoreRow.protocol).where(EvalScoreRow.value.is_not(None)).distinct()
    )
    return sorted((metric, protocol) for metric, protocol in rows)


def stored_testsets(session: Session) -> list[str]:
    return sorted(session.scalars(select(EvalTestSetRow.name)))


def stored_codecs(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(EvalConditionRow.codec).join(EvalUnitRow))))


def export_scores(
    session: Session,
    *,
    testsets: Sequence[str] | None = None,
    codecs: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The per-utterance export (:data:`EXPORT_COLUMNS`): one row per utterance × condition × metric,
    plus one row with an empty metric per unit that failed before scoring (with ``metrics``,
    per unit that failed when one of them was asked of it). ``metrics`` are names as stored or
    their aliases (``pesq``: whichever of ``pesq_wb``/``pesq_nb`` is stored). A token codec's
    unit carries its ``tokens`` and ``entropy_coded_kbps`` (:func:`load_unit_tokens`); other
    units leave them empty.

    Raises:
        MetricNotStoredError: one of ``metrics`` has no stored scores.
    """
    if metrics is not None:
        stored = sorted({metric for metric, _ in stored_metrics(session)})
        metrics = list(dict.fromkeys(name for metric in metrics for name in resolve_metric_names(metric, stored)))
    units = load_units(session, testsets=testsets, codecs=codecs)
    scores = load_scores(session, testsets=testsets, codecs=codecs)
    failed_units = units["unit_error"].notna()
    if metrics is not None:
        scores = scores[scores["metric"].isin(list(metrics))]
        requests = load_unit_requests(session, units.loc[failed_units, "unit_id"])
        failed_units = unit_failed_under(units, requests, metrics)
    scored = units.merge(scores, on="unit_id", how="inner")
    failed = units[failed_units].assign(
        metric="", protocol="", value=float("nan"), error=lambda frame: frame["unit_error"],
        metric_implementation="", delay_samples=None, gain_db=None,
        codecbench_version=lambda frame: frame["unit_codecbench_version"],
    )
    frame = pd.concat([scored, failed], ignore_index=True) if len(failed) else scored
    frame = frame.merge(load_unit_tokens(session, units.loc[units["unit_error"].isna(), "unit_id"]),
                        on="unit_id", how="left")
    frame = frame.sort_values(["testset", "codec", "nominal_kbps", "operating_point", "utterance", "metric", "protocol"],
                              na_position="first", kind="stable")
    return frame.reindex(columns=list(EXPORT_COLUMNS)).reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV (UTF-8, no index), making the folder if needed; text a spreadsheet
    would run as a formula gets a leading ``'``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    spreadsheet_safe(frame).to_csv(path, index=False)
    return path


class NotStoredError(LookupError):
    """The database holds no such test set, utterance or condition; the message says what it holds."""


def stored_utterance(session: Session, testset: str, utterance_id: str):
    """An utterance of a stored test set, as an :class:`~codecbench.evaluation.datasets.Utterance`
    that reads its audio from where the last run found it.

    Raises:
        NotStoredError: unknown test set or utterance, or one its loader skipped.
    """
    from codecbench.evaluation.datasets import Utterance, source_from_dict

    testset_row = session.scalars(select(EvalTestSetRow).where(EvalTestSetRow.name == testset)).one_or_none()
    if testset_row is None:
        known = ", ".join(stored_testsets(session)) or "none"
        raise NotStoredError(
            f"test set {testset!r} is not in the database (it holds: {known}); run "
            f"`codecbench evaluate --testset {testset}=ROOT ...` on this database first."
        )
    row = session.scalars(
        select(EvalUtteranceRow).where(EvalUtteranceRow.testset_id == testset_row.id, EvalUtteranceRow.name == utterance_id)
    ).one_or_none()
    if row is None:
        raise NotStoredError(f"test set {testset!r} has no utterance {utterance_id!r} in the database.")
    if row.source_json is None:
        raise NotStoredError(f"utterance {utterance_id!r} of {testset!r} was skipped by its loader ({row.location}).")
    return Utterance(row.name, source_from_dict(json.loads(row.source_json)), row.speaker, row.language, row.text)


def condition_means(
    session: Session, testset: str, utterance_ids: Sequence[str], codec: str, kbps: float | None
) -> dict[tuple[str, str], float]:
    """Mean stored score per (metric, protocol) of ``codec`` at ``kbps`` over exactly these
    utterances of ``testset``: a metric counts only if every utterance has a value for it.

    ``kbps=None`` means the codec's only operating point (anchors). If the codec ran with
    several checkpoints, the condition stored last is used.
    """
    from codecbench.codecs.base import KBPS_MATCH_TOLERANCE

    statement = select(EvalConditionRow).where(EvalConditionRow.codec == codec).order_by(EvalConditionRow.id.desc())
    conditions = [
        row for row in session.scalars(statement)
        if (kbps is None) or (row.nominal_kbps is not None and abs(row.nominal_kbps - kbps) <= KBPS_MATCH_TOLERANCE)
    ]
    wanted = set(utterance_ids)
    for condition in conditions:
        rows = session.execute(
            select(EvalUtteranceRow.name, EvalScoreRow.metric, EvalScoreRow.protocol, EvalScoreRow.value)
            .join(EvalUnitRow, EvalUnitRow.id == EvalScoreRow.unit_id)
            .join(EvalUtteranceRow, EvalUtteranceRow.id == EvalUnitRow.utterance_id)
            .join(EvalTestSetRow, EvalTestSetRow.id == EvalUtteranceRow.testset_id)
            .where(EvalUnitRow.condition_id == condition.id, EvalTestSetRow.name == testset,
                   EvalUtteranceRow.name.in_(list(wanted)), EvalScoreRow.value.is_not(None))
        ).all()
        values: dict[tuple[str, str], dict[str, float]] = {}
        for name, metric, protocol, value in rows:
            values.setdefault((metric, protocol), {})[name] = value
        means = {key: sum(by_name.values()) / len(by_name) for key, by_name in values.items() if set(by_name) == wanted}
        if means:
            return means
    return {}


def stored_testset_specs(session: Session) -> list:
    """The ``--testset`` spec of every stored test set, as its last run read it."""
    from codecbench.evaluation.datasets import TestSetSpec

    return [TestSetSpec(row.name, row.kind, Path(row.root))
            for row in session.scalars(select(EvalTestSetRow).order_by(EvalTestSetRow.name))]
