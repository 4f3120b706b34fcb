"""The evaluation runner: test sets × conditions × metrics into the database, resumably.

The unit of work is one utterance through one condition: it is transcoded once and scored
with every requested metric still missing for it, and its results are committed as soon as
it finishes. Before anything runs, the runner reads what the database already holds, so
running the same evaluation again computes nothing that is stored, and a run killed at any
moment (even ``kill -9``) loses only the units in flight. Asking for more metrics later
computes only those. Units that failed are stored with their error and not retried, unless
``retry_failed`` asks for it.

    plan = plan_evaluation(EvaluationRequest(...))       # loads test sets, checks codecs
    with LocalExecutor(workers=2) as executor:
        summary = run_evaluation(open_database(), plan, executor, TerminalProgress())
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from codecbench.codecs.condition import Condition
from codecbench.evaluation.conditions import EvalCondition, model_dir_options, resolve_conditions
from codecbench.evaluation.datasets import SkippedUtterance, TestSet, TestSetSpec, load_testset
from codecbench.evaluation.datasets.sampling import sampled_skipped
from codecbench.evaluation.executor import Executor
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.metrics.base import package_version
from codecbench.evaluation.progress import ProgressReporter
from codecbench.evaluation.store import (
    ScoreKey,
    StoredUnit,
    check_evaluation_dialect,
    claim_unit,
    create_run,
    failed_score_errors,
    finish_run,
    record_requests,
    release_leases,
    renew_leases,
    store_outcome,
    store_skipped,
    stored_unit,
    stored_units,
    sync_condition,
    sync_testset,
    utterance_sample_rate,
    utterance_sample_rates,
)
from codecbench.evaluation.token_summary import refresh_token_summaries, token_reports
from codecbench.evaluation.work import UnfinishedUnit, UnitOutcome, WorkUnit, check_keep_audio_dir, kept_audio_path
from codecbench.storage import Database


@dataclass(frozen=True)
class EvaluationRequest:
    """What ``codecbench evaluate`` asks for.

    Args:
        testsets: the test sets (``--testset``).
        conditions: codecs at operating points (``--codec``), in the order given.
        scoring: metrics and ViSQOL protocols.
        limit, seed: a reproducible sample of at most ``limit`` utterances per test set.
        keep_audio_dir: where to keep every reconstruction, or ``None``.
        retry_failed: compute again the units and metrics stored as failed.
        model_dirs: codec -> local model directory (``--model-dir``).
        device: where neural codecs run.
        max_duration_s: longer utterances fail with the reason (``--max-duration``); ``None``:
            no limit.
    """

    testsets: tuple[TestSetSpec, ...]
    conditions: tuple[Condition, ...]
    scoring: ScoringConfig = ScoringConfig()
    limit: int | None = None
    seed: int = 0
    keep_audio_dir: Path | None = None
    retry_failed: bool = False
    model_dirs: Mapping[str, Path] = field(default_factory=dict)
    device: str = "cpu"
    max_duration_s: float | None = None

    def __post_init__(self) -> None:
        if not self.testsets:
            raise ValueError("no test set given; name at least one (--testset NAME=ROOT)")
        if not self.conditions:
            raise ValueError("no codec given; name at least one (--codec NAME@KBPS)")
        names = [spec.name for spec in self.testsets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"test set {', '.join(duplicates)} given more than once")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if self.max_duration_s is not None and not (math.isfinite(self.max_duration_s) and self.max_duration_s > 0):
            raise ValueError(f"max_duration_s must be a number of seconds above 0, got {self.max_duration_s}")

    def settings(self) -> dict:
        """The request as JSON-able settings, stored with the run."""
        return {
            "testsets": [str(spec) for spec in self.testsets],
            "conditions": [str(condition) for condition in self.conditions],
            "metrics": list(self.scoring.metrics),
            "visqol_protocols": list(self.scoring.visqol_protocols),
            "max_delay_s": self.scoring.max_delay_s,
            "limit": self.limit,
            "seed": self.seed,
            "keep_audio_dir": None if self.keep_audio_dir is None else str(self.keep_audio_dir),
            "retry_failed": self.retry_failed,
            "model_dirs": {codec: str(path) for codec, path in self.model_dirs.items()},
            "device": self.device,
            "max_duration_s": self.max_duration_s,
        }


@dataclass(frozen=True)
class EvaluationPlan:
    """A request with its test sets loaded and its conditions checked; nothing run yet.

    Attributes:
        testsets: each loaded test set (a sample with ``limit``).
        skipped: per test set, the utterances its loader skipped that belong to the run: all
            of them for a whole test set; for a sample, those the draw picked (usable and
            skipped ones are drawn together, so a sample of N holds at most N utterances).
    """

    request: EvaluationRequest
    testsets: tuple[TestSet, ...]
    skipped: Mapping[str, tuple[SkippedUtterance, ...]]
    conditions: tuple[EvalCondition, ...]


def plan_evaluation(request: EvaluationRequest) -> EvaluationPlan:
    """Load the test sets and resolve the conditions.

    Raises:
        TestSetError: a test set cannot be loaded (wrong root, missing metadata).
        ValueError: an unknown codec or bitrate.
        CodecNotReadyError: a codec cannot run here (missing weights, ...).
        ValueError: also when the ``keep_audio_dir`` cannot be made or written to.
    """
    if request.keep_audio_dir is not None:
        check_keep_audio_dir(request.keep_audio_dir)
    conditions = resolve_conditions(list(request.conditions), model_dir_options(request.model_dirs, request.device))
    testsets = tuple(load_testset(spec, limit=request.limit, seed=request.seed) for spec in request.testsets)
    return EvaluationPlan(
        request=request,
        testsets=testsets,
        skipped={testset.name: sampled_skipped(testset) for testset in testsets},
        conditions=tuple(conditions),
    )


@dataclass(frozen=True)
class CellSummary:
    """One test set under one condition after a run.

    Attributes:
        units: units in the run (utterances in scope, skipped ones included).
        computed: units finished by this run.
        complete: units with a value for every requested metric.
        failed: units that failed, or where a requested metric failed.
        missing: units with nothing stored (the run was interrupted).
        errors: each distinct error message with the number of units it stopped.
        entropy_coded_kbps, measured_kbps: a token codec's codes entropy-coded, and as sent,
            over the units with a token record; ``None`` for codecs without tokens.
    """

    testset: str
    condition: str
    units: int
    computed: int
    complete: int
    failed: int
    missing: int
    errors: tuple[tuple[str, int], ...] = ()
    entropy_coded_kbps: float | None = None
    measured_kbps: float | None = None


@dataclass(frozen=True)
class RunSummary:
    """What a run did, per cell; ``unkept_audio``: why reconstructions ``--keep-audio`` asked
    for could not be written (their units were scored and stored all the same);
    ``unfinished``: why units were left uncomputed (a worker died), for the next run to do;
    ``left_to_other_runs``: units another run was computing at the same time (or had stored
    since this one planned), left to it; ``unmeasured_tokens``: why token codecs' units got no
    token record (their scores are stored all the same); ``token_summary_error``: why the token
    figures per test set could not be written after the run (leaderboards make them instead)."""

    run_id: int
    cells: tuple[CellSummary, ...]
    unkept_audio: tuple[str, ...] = ()
    unfinished: tuple[str, ...] = ()
    left_to_other_runs: int = 0
    unmeasured_tokens: tuple[str, ...] = ()
    token_summary_error: str | None = None

    @property
    def computed(self) -> int:
        return sum(cell.computed for cell in self.cells)

    @property
    def failed(self) -> int:
        return sum(cell.failed for cell in self.cells)

    def describe(self) -> str:
        """A line per test set × condition, then the distinct errors with how often each occurred."""
        lines = [f"run {self.run_id}: {self.computed} unit(s) computed now; {self.failed} failed in all"]
        width = max((len(cell.testset) + len(cell.condition) for cell in self.cells), default=0) + 3
        errors: dict[str, int] = {}
        for cell in self.cells:
            label = f"{cell.testset} · {cell.condition}".ljust(width)
            line = f"  {label} {cell.complete}/{cell.units} complete, {cell.failed} failed"
            if cell.missing:
                line += f", {cell.missing} missing"
            if cell.entropy_coded_kbps is not None:
                line += f"; tokens entropy-coded at {cell.entropy_coded_kbps:.3g} of {cell.measured_kbps:.3g} kbps"
            lines.append(line)
            for error, count in cell.errors:
                errors[error] = errors.get(error, 0) + count
        if errors:
            lines.append("errors (`codecbench export scores` lists every one):")
            ranked = sorted(errors.items(), key=lambda item: -item[1])
            lines += [f"  {count}x {error}" for error, count in ranked[:SHOWN_ERRORS]]
            if len(ranked) > SHOWN_ERRORS:
                lines.append(f"  ... and {len(ranked) - SHOWN_ERRORS} more distinct errors")
        if self.left_to_other_runs:
            lines.append(f"{self.left_to_other_runs} unit(s) were being computed by another run on this database "
                         "at the same time, and were left to it.")
        if self.unfinished:
            lines.append(f"{len(self.unfinished)} unit(s) were left uncomputed because {self.unfinished[0]}; "
                         "nothing was stored for them: run the same command again to compute them.")
        if self.unkept_audio:
            lines.append(f"{len(self.unkept_audio)} reconstruction(s) could not be kept (--keep-audio); their scores "
                         f"are stored. First: {self.unkept_audio[0]}")
        if self.unmeasured_tokens:
            lines.append(f"{len(self.unmeasured_tokens)} unit(s) got no token statistics; their scores are stored. "
                         f"First: {self.unmeasured_tokens[0]}")
        if self.token_summary_error:
            lines.append(f"the token figures per test set could not be stored ({self.token_summary_error}); "
                         "leaderboards make them from the stored units instead.")
        return "\n".join(lines)


SHOWN_ERRORS = 10


@dataclass(frozen=True)
class _Target:
    """The rows a unit's outcome is stored under."""

    condition_id: int
    utterance_row_id: int


def run_evaluation(
    database: Database,
    plan: EvaluationPlan,
    executor: Executor,
    progress: ProgressReporter | None = None,
) -> RunSummary:
    """Run every unit of ``plan`` not already stored, committing each as it finishes.

    Raises:
        ValueError: the database is neither SQLite nor PostgreSQL.
    """
    check_evaluation_dialect(database.dialect)
    progress = progress or ProgressReporter()
    request = plan.request
    with database.session() as session:
        run_id = create_run(session, package_version("codecbench"), request.settings())
        condition_ids = {condition: sync_condition(session, condition) for condition in plan.conditions}
        scopes: list[tuple[TestSet, int, dict[str, int]]] = []
        units: list[WorkUnit] = []
        targets: dict[tuple[str, str, str], _Target] = {}
        already_done = 0
        for testset in plan.testsets:
            skipped = plan.skipped[testset.name]
            testset_id, stored_utterances = sync_testset(session, testset, skipped)
            stored = stored_units(session, testset_id, condition_ids.values())
            for record in skipped:
                for condition_id in condition_ids.values():
                    store_skipped(session, run_id, condition_id, stored_utterances[record.id].row_id, record.reason,
                                  request.scoring)
            already_done += len(skipped) * len(condition_ids)
            scope = {record.id: stored_utterances[record.id].row_id for record in skipped}
            for utterance in testset.utterances:
                row = stored_utterances[utterance.id]
                scope[utterance.id] = row.row_id
                for condition, condition_id in condition_ids.items():
                    previous = stored.get((condition_id, row.row_id))
                    missing = missing_scoring(request.scoring, previous, row.sample_rate_hz,
                                              retry_failed=request.retry_failed)
                    if missing is None and needs_tokens(previous, condition):
                        missing = TOKENS_ONLY
                    if missing is None:
                        already_done += 1
                        if previous is not None and previous.error is not None:  # failed before; not retried
                            record_requests(session, previous.unit_id, request.scoring, row.sample_rate_hz)
                        continue
                    keep = None if request.keep_audio_dir is None else kept_audio_path(
                        request.keep_audio_dir, testset.name, condition, utterance.id)
                    unit = WorkUnit(testset.name, utterance, condition, None if missing is TOKENS_ONLY else missing,
                                    keep, request.max_duration_s)
                    units.append(unit)
                    targets[unit.key] = _Target(condition_id, row.row_id)
            scopes.append((testset, testset_id, scope))
    progress.start(already_done + len(units), already_done)
    computed: dict[tuple[str, str], int] = {}
    unkept_audio: list[str] = []
    unmeasured_tokens: list[str] = []
    unfinished: list[str] = []
    left_to_others: list[WorkUnit] = []

    def claimed(units: list[WorkUnit]) -> Iterator[WorkUnit]:
        """The units this run may compute, each claimed as the executor takes it: another run on
        the same database may hold it, or have stored it since this run planned."""
        for unit in units:
            target = targets[unit.key]
            with database.session() as session:  # closed before the unit is yielded: SQLite has one writer
                ours = claim_unit(session, run_id, target.condition_id, target.utterance_row_id)
                if ours:
                    rate = utterance_sample_rate(session, target.utterance_row_id)
                    now_stored = stored_unit(session, target.condition_id, target.utterance_row_id)
                    ours = (missing_scoring(request.scoring, now_stored, rate, retry_failed=request.retry_failed)
                            is not None or needs_tokens(now_stored, unit.condition))
                    if not ours:
                        release_leases(session, run_id, target.condition_id, target.utterance_row_id)
            if ours:
                yield unit
            else:
                left_to_others.append(unit)
                progress.advance(failed=False)

    try:
        for outcome in executor.run(claimed(units)):
            if isinstance(outcome, UnfinishedUnit):
                unfinished.append(outcome.reason)
                progress.advance(failed=True)
                continue
            if outcome.keep_audio_error is not None:
                unkept_audio.append(outcome.keep_audio_error)
            if outcome.tokens_error is not None:
                unmeasured_tokens.append(outcome.tokens_error)
            elif outcome.unit.scoring is None and outcome.error is not None:  # its stored results stay
                unmeasured_tokens.append(f"{outcome.unit.condition.key} on {outcome.unit.utterance.id}: {outcome.error}")
            target = targets[outcome.unit.key]
            with database.session() as session:
                if outcome.unit.scoring is not None or outcome.error is None:
                    store_outcome(session, run_id, target.condition_id, target.utterance_row_id, outcome)
                release_leases(session, run_id, target.condition_id, target.utterance_row_id)
                renew_leases(session, run_id)
            cell = (outcome.unit.testset, outcome.unit.condition.key)
            computed[cell] = computed.get(cell, 0) + 1
            progress.advance(failed=not _succeeded(outcome))
    finally:
        progress.close()
        with database.session() as session:  # interrupted too: the next run may take them at once
            release_leases(session, run_id)
    with database.session() as session:
        finish_run(session, run_id)
    token_conditions = [condition_id for condition, condition_id in condition_ids.items() if condition.is_token_codec]
    token_summary_error = None
    if token_conditions:
        try:
            refresh_token_summaries(database, testsets=[testset.name for testset in plan.testsets],
                                    condition_ids=token_conditions)
        except Exception as error:  # the results are stored; leaderboards make the figures from them
            token_summary_error = f"{type(error).__name__}: {error}"
    return RunSummary(run_id, tuple(_summaries(database, plan, scopes, condition_ids, computed)),
                      tuple(unkept_audio), tuple(unfinished), len(left_to_others), tuple(unmeasured_tokens),
                      token_summary_error)


# missing_scoring's answer for a unit whose scores are all stored but not its token record.
TOKENS_ONLY = object()


def needs_tokens(stored: StoredUnit | None, condition: EvalCondition) -> bool:
    """Whether a stored, successful unit of a token codec lacks its token record (it was stored
    before codecbench measured tokens): it is transcoded again for them, not scored again."""
    return (stored is not None and stored.error is None and stored.failure_stage is None
            and condition.is_token_codec and not stored.has_tokens)


def _succeeded(outcome: UnitOutcome) -> bool:
    return outcome.error is None and all(result.ok for result in outcome.results)


def missing_scoring(
    config: ScoringConfig, stored: StoredUnit | None, sample_rate_hz: int | None, *, retry_failed: bool = False
) -> ScoringConfig | None:
    """The part of ``config`` a unit still needs, or ``None`` when nothing is missing.

    A unit with nothing stored, or whose only record is its loader's skip (its file has come
    back), needs everything. A unit that failed needs nothing unless ``retry_failed``. A unit
    that succeeded needs the requested metrics (at its audio's rate) it has no score for, and
    with ``retry_failed`` also those stored as failures.
    """
    if stored is None or stored.failure_stage == "index":
        return config
    if stored.error is not None:
        return config if retry_failed else None
    if sample_rate_hz is None:  # cannot happen for a unit that succeeded; be safe
        return config
    missing: list[ScoreKey] = [
        (metric.name, metric.protocol)
        for metric in config.metrics_for(sample_rate_hz)
        if (metric.name, metric.protocol) not in stored.scores
        or (retry_failed and not stored.scores[(metric.name, metric.protocol)])
    ]
    if not missing:
        return None
    missing_set = set(missing)
    names = tuple(
        name for name in config.metrics
        if any((m.name, m.protocol) in missing_set
               for m in replace(config, metrics=(name,)).metrics_for(sample_rate_hz))
    )
    protocols = tuple(protocol for metric, protocol in missing if metric == "visqol")
    return replace(config, metrics=names, visqol_protocols=protocols or config.visqol_protocols)


def _summaries(
    database: Database,
    plan: EvaluationPlan,
    scopes: list[tuple[TestSet, int, dict[str, int]]],
    condition_ids: Mapping[EvalCondition, int],
    computed: Mapping[tuple[str, str], int],
) -> Iterator[CellSummary]:
    config = plan.request.scoring
    with database.session(read_only=True) as session:
        reports = token_reports(session, testsets=[testset.name for testset, _, _ in scopes],
                                condition_ids=list(condition_ids.values()))
        for testset, testset_id, scope in scopes:
            in_scope = set(scope.values())
            rates = utterance_sample_rates(session, testset_id)
            stored = stored_units(session, testset_id, condition_ids.values())
            errors_by_unit = failed_score_errors(session, testset_id, condition_ids.values())
            for condition, condition_id in condition_ids.items():
                complete = failed = present = 0
                errors: dict[str, int] = {}
                for utterance_row_id in in_scope:
                    unit = stored.get((condition_id, utterance_row_id))
                    if unit is None:
                        continue
                    present += 1
                    rate = rates.get(utterance_row_id)
                    wanted = [(m.name, m.protocol) for m in config.metrics_for(rate)] if rate else []
                    problems = [unit.error] if unit.error else []
                    problems += [f"{key[0]} ({key[1]}): {errors_by_unit[unit.unit_id][key]}" for key in wanted
                                 if key in unit.scores and not unit.scores[key]]
                    if problems:
                        failed += 1
                        for problem in problems:
                            errors[problem] = errors.get(problem, 0) + 1
                    elif wanted and all(key in unit.scores for key in wanted):
                        complete += 1
                report = reports.get((testset.name, condition_id))
                yield CellSummary(
                    testset=testset.name,
                    condition=condition.key,
                    units=len(scope),
                    computed=computed.get((testset.name, condition.key), 0),
                    complete=complete,
                    failed=failed,
                    missing=len(scope) - present,
                    errors=tuple(errors.items()),
                    entropy_coded_kbps=None if report is None else report.entropy_coded_kbps,
                    measured_kbps=None if report is None else report.measured_kbps,
                )
