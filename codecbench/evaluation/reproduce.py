"""Reproducing a published table: run its evaluation, then set published and measured side by side.

    plan = plan_reproduction(ReproductionRequest(get_table("funcodec-en-libritts-nq32ds640"),
                                                 testsets=(parse_testset_spec("librispeech-test-clean=/data/LibriSpeech"),)))
    with LocalExecutor(workers=2) as executor:
        reproduction = run_reproduction(open_database(), plan, executor)
    print(reproduction.markdown())

The evaluation is the one ``codecbench evaluate`` runs (same engine, same database, resumable):
the table's codec at each of its operating points, its metric under its protocol, on the test
sets given. Measured values are the leaderboard's cells (:meth:`Leaderboard.stored`), so they
equal what ``codecbench leaderboard`` shows for the same test set and condition. Rows of the
table whose test set was not given, or whose root does not hold it, are "not run", with why;
no number is ever put in their place. Rendering (markdown, CSV, chart) is in
:mod:`codecbench.evaluation.reproduce_report`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from codecbench.codecs.condition import Condition
from codecbench.evaluation.conditions import (
    EvalCondition,
    model_dir_options,
    operating_point_label,
    resolve_conditions,
)
from codecbench.evaluation.datasets import TestSet, TestSetError, TestSetSpec, load_testset, sampled_skipped
from codecbench.evaluation.executor import Executor
from codecbench.evaluation.leaderboard import Leaderboard
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.progress import ProgressReporter
from codecbench.evaluation.published import PublishedPoint, PublishedTable
from codecbench.evaluation.runner import EvaluationPlan, EvaluationRequest, RunSummary, run_evaluation
from codecbench.storage import Database

MEASURED, FAILED, NOT_RUN = "measured", "failed", "not run"


@dataclass(frozen=True)
class ReproductionRequest:
    """What ``codecbench reproduce`` asks for.

    Args:
        table: the published table.
        testsets: where the table's test sets are (``--testset NAME=ROOT``); each must be a row
            of the table; rows not given are reported as not run.
        model_dir: a local copy of the model's files, instead of codecbench's Hub cache.
        limit, seed: a reproducible sample of at most ``limit`` utterances per test set.
        device: where the codec runs.
    """

    table: PublishedTable
    testsets: tuple[TestSetSpec, ...]
    model_dir: Path | None = None
    limit: int | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.testsets:
            raise ValueError(f"no test set given; give at least one of the rows of {self.table.name} as "
                             f"--testset NAME=ROOT: {', '.join(self.table.testsets)}")
        for spec in self.testsets:
            if spec.name not in self.table.testsets:
                raise ValueError(f"--testset {spec.name}: not a row of {self.table.name}; its rows are "
                                 f"{', '.join(self.table.testsets)} (`codecbench reproduce --list` shows "
                                 "which published row each one is)")
        names = [spec.name for spec in self.testsets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"test set {', '.join(duplicates)} given more than once")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")

    @property
    def scoring(self) -> ScoringConfig:
        """The table's metric under its protocol, as the engine computes it."""
        if self.table.metric == "visqol":
            return ScoringConfig(("visqol",), (self.table.protocol,))
        return ScoringConfig((self.table.metric,))

    @property
    def sample(self) -> str:
        """How this request draws utterances: ``--limit N --seed S``, or ``all``."""
        return "all" if self.limit is None else f"--limit {self.limit} --seed {self.seed}"


@dataclass(frozen=True)
class ReproductionPlan:
    """A request with its codec checked and its test sets indexed; nothing run yet.

    Attributes:
        conditions: the codec at each of the table's operating points, in the table's order.
        evaluation: the engine's plan for the test sets that could be indexed (``None`` when
            none could).
        not_run: why each row of the table will not be run, by test set.
    """

    request: ReproductionRequest
    conditions: tuple[EvalCondition, ...]
    evaluation: EvaluationPlan | None
    not_run: Mapping[str, str] = field(default_factory=dict)

    @property
    def table(self) -> PublishedTable:
        return self.request.table


def plan_reproduction(request: ReproductionRequest) -> ReproductionPlan:
    """Check the codec, then index each given test set; a test set that cannot be indexed
    becomes a not-run row with the loader's reason, and the others still run.

    Raises:
        CodecNotReadyError: the table's model cannot run here (its weights are missing, ...),
            before any test set is read.
        ValueError: the table's operating points are not the codec's.
    """
    table = request.table
    options = model_dir_options({} if request.model_dir is None else {table.codec: request.model_dir}, request.device)
    conditions = tuple(resolve_conditions([Condition(table.codec, point.kbps) for point in table.points], options))
    assert len(conditions) == len(table.points), "a table's operating points are distinct"
    for point, condition in zip(table.points, conditions):
        _check_point(table, point, condition)
    loaded: list[TestSet] = []
    not_run: dict[str, str] = {}
    for spec in request.testsets:
        try:
            loaded.append(load_testset(spec, limit=request.limit, seed=request.seed))
        except TestSetError as error:
            not_run[spec.name] = str(error)
    given = {spec.name for spec in request.testsets}
    for name in table.testsets:
        if name not in given:
            not_run[name] = f"no --testset {name}=ROOT given"
    evaluation = None
    if loaded:
        evaluation = EvaluationPlan(
            request=EvaluationRequest(
                testsets=tuple(spec for spec in request.testsets if spec.name not in not_run),
                conditions=tuple(Condition(table.codec, point.kbps) for point in table.points),
                scoring=request.scoring, limit=request.limit, seed=request.seed,
                model_dirs={} if request.model_dir is None else {table.codec: request.model_dir},
                device=request.device,
            ),
            testsets=tuple(loaded),
            skipped={testset.name: sampled_skipped(testset) for testset in loaded},
            conditions=conditions,
        )
    return ReproductionPlan(request, conditions, evaluation, not_run)


def _check_point(table: PublishedTable, point: PublishedPoint, condition: EvalCondition) -> None:
    tokens = condition.operating_point.tokens_per_second
    if point.tokens_per_second is not None and (tokens is None or not math.isclose(tokens, point.tokens_per_second)):
        raise ValueError(f"table {table.name}: {point.label} is not {table.codec}@{point.kbps:g}, which runs at "
                         f"{tokens} tokens/s")


@dataclass(frozen=True)
class ComparisonRow:
    """One test set at one operating point: the published value and what was measured.

    Attributes:
        status: ``measured`` (at least one utterance has a value), ``failed`` (the test set
            ran and no utterance has a value) or ``not run``.
        reason: why a row is failed or not run.
        n, failures, mean, std, ci95_low, ci95_high: the leaderboard cell (NaN where there is
            no value; no interval for n < 2).
        sample, checkpoint, codec_implementation, metric_implementation, codecbench_version,
        testset_utterances, measured_kbps: the cell's provenance, as the leaderboard CSV has it.
    """

    testset: str
    published_as: str
    point: PublishedPoint
    column: str
    published: float
    status: str
    reason: str = ""
    n: int = 0
    failures: int = 0
    mean: float = math.nan
    std: float = math.nan
    ci95_low: float = math.nan
    ci95_high: float = math.nan
    sample: str = ""
    checkpoint: str = ""
    codec_implementation: str = ""
    metric_implementation: str = ""
    codecbench_version: str = ""
    testset_utterances: int | None = None
    measured_kbps: float | None = None

    @property
    def delta(self) -> float:
        """Measured minus published (NaN without a measured value)."""
        return self.mean - self.published if self.n else math.nan

    @property
    def published_in_ci(self) -> bool | None:
        """Whether the published value lies in the measured 95 % interval (``None``: no interval)."""
        if math.isnan(self.ci95_low) or math.isnan(self.ci95_high):
            return None
        return self.ci95_low <= self.published <= self.ci95_high


@dataclass(frozen=True)
class Reproduction:
    """A published table next to its measurement.

    Attributes:
        rows: per row of the table, per operating point, in the table's order.
        summary: what the run did (``None`` when no test set could be run).
    """

    request: ReproductionRequest
    conditions: tuple[EvalCondition, ...]
    rows: tuple[ComparisonRow, ...]
    summary: RunSummary | None = None

    @property
    def table(self) -> PublishedTable:
        return self.request.table

    def markdown(self) -> str:
        from codecbench.evaluation.reproduce_report import markdown

        return markdown(self)

    def csv_frame(self) -> pd.DataFrame:
        from codecbench.evaluation.reproduce_report import csv_frame

        return csv_frame(self)

    def chart(self):
        from codecbench.evaluation.reproduce_report import chart

        return chart(self)


def run_reproduction(
    database: Database, plan: ReproductionPlan, executor: Executor, progress: ProgressReporter | None = None
) -> Reproduction:
    """Run what ``plan`` still needs (the engine skips what the database holds), then compare."""
    summary = None if plan.evaluation is None else run_evaluation(database, plan.evaluation, executor, progress)
    ran = [] if plan.evaluation is None else [testset.name for testset in plan.evaluation.testsets]
    cells = pd.DataFrame()
    if ran:
        with database.session(read_only=True) as session:
            cells = Leaderboard.stored(session, plan.table.metric, plan.table.protocol, testsets=ran,
                                       codecs=[plan.table.codec]).cells
    rows = compare(plan.table, plan.conditions, cells, plan.not_run)
    return Reproduction(plan.request, plan.conditions, rows, summary)


def compare(
    table: PublishedTable, conditions: tuple[EvalCondition, ...], cells: pd.DataFrame, not_run: Mapping[str, str]
) -> tuple[ComparisonRow, ...]:
    """Each published value next to its leaderboard cell: the cell of its test set under the
    condition of its operating point (codec, operating point and checkpoint all equal).

    ``cells`` are leaderboard cells (:data:`~codecbench.evaluation.leaderboard.CELL_COLUMNS`);
    ``not_run`` says why rows were not run. A row that ran but has no cell (the run was
    interrupted before any of its units was stored) is not run either.
    """
    rows = []
    for published_row in table.rows:
        for point, condition, value in zip(table.points, conditions, published_row.values):
            op = condition.operating_point
            base = ComparisonRow(
                testset=published_row.testset, published_as=published_row.published_as, point=point,
                column=operating_point_label(op.label, op.nominal_kbps, op.tokens_per_second),
                published=value, status=NOT_RUN, checkpoint=condition.checkpoint,
                codec_implementation=condition.implementation,
            )
            if published_row.testset in not_run:
                rows.append(replace(base, reason=not_run[published_row.testset]))
                continue
            cell = _cell(cells, published_row.testset, condition)
            if cell is None:
                rows.append(replace(base, reason="nothing is stored for it yet; run the same command again"))
                continue
            n = int(cell["n"])
            rows.append(replace(
                base,
                status=MEASURED if n else FAILED,
                reason="" if n else "no utterance has a value; `codecbench export scores` lists the errors",
                n=n, failures=int(cell["failures"]), mean=float(cell["mean"]), std=float(cell["std"]),
                ci95_low=float(cell["ci95_low"]), ci95_high=float(cell["ci95_high"]),
                sample=str(cell["sample"]), codec_implementation=str(cell["codec_implementation"]),
                metric_implementation=str(cell["metric_implementation"]),
                codecbench_version=str(cell["codecbench_version"]),
                testset_utterances=int(cell["testset_utterances"]), measured_kbps=cell["measured_kbps"],
            ))
    return tuple(rows)


def _cell(cells: pd.DataFrame, testset: str, condition: EvalCondition) -> pd.Series | None:
    if cells.empty:
        return None
    match = cells[(cells["testset"] == testset) & (cells["codec"] == condition.codec)
                  & (cells["operating_point"] == condition.operating_point.label)
                  & (cells["checkpoint"] == condition.checkpoint)]
    assert len(match) <= 1, "a test set has one cell per condition"
    return None if match.empty else match.iloc[0]
