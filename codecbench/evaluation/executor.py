"""Executors run work units and report their outcomes as they complete.

:class:`Executor` is the interface the runner uses; :class:`LocalExecutor` is the one for this
machine. A cluster engine implements the same interface, sending units (plain picklable data)
to jobs that call :func:`codecbench.evaluation.work.execute_units` and streaming the outcomes
back; the runner, its storage and its resumption stay as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool

from codecbench.evaluation.metrics import MetricsPool, ScoringConfig
from codecbench.evaluation.work import (
    Reconstruction,
    UnfinishedUnit,
    UnitOutcome,
    WorkUnit,
    execute_units,
    transcode_units,
)

DEFAULT_BATCH_SIZE = 8


class Executor(ABC):
    """Runs :class:`WorkUnit` s. Outcomes may come back in any order; each carries its unit.

    Use as a context manager (or call :meth:`close`) so that worker processes end.
    """

    @abstractmethod
    def run(self, units: Iterable[WorkUnit]) -> Iterator[UnitOutcome | UnfinishedUnit]:
        """Run every unit, yielding each outcome as soon as it is known.

        Units are read in the order given, so give them in their test set's reading order
        (archives and long recordings read fastest front to back). An executor never raises
        for a unit's own failure: it yields an outcome with the error. A unit it could not
        finish for another reason (a worker process died) comes back as an
        :class:`UnfinishedUnit`, to be left for the next run.
        """

    def close(self) -> None:  # noqa: B027  (optional hook: most executors hold nothing)
        """Release workers; the default has none."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Units on this machine: codecs in this process, metrics in ``workers`` processes.

    Utterances are read and transcoded in this process, ``batch_size`` utterances at a time
    per condition (neural codecs run a batch through the model together), while a
    :class:`MetricsPool` of ``workers`` warm processes scores the reconstructions already made.
    With ``workers=1`` everything runs in this process, one unit after another, and metrics on
    one core. The pool starts only when there is something to score.

    An utterance's conditions are transcoded within one window, so they reach the workers close
    together: each worker analyses a reference for ViSQOL once and reuses the analysis for every
    other condition of that utterance it scores (the engine keeps a window's worth of analyses
    for utterances up to about 16 s; see its ``CACHE_BUDGET_BYTES``). Pairs are not pinned to
    workers: with many workers and few conditions, several workers analyse the same reference,
    which costs less than leaving workers idle.

    Args:
        workers: processes scoring metrics (one core each).
        batch_size: utterances per codec call.
        max_in_flight: reconstructions waiting for or being scored at once (default: four per
            worker); bounds memory.
    """

    def __init__(self, workers: int = 1, *, batch_size: int = DEFAULT_BATCH_SIZE, max_in_flight: int | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.workers = workers
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight or 4 * workers
        self._pool: MetricsPool | None = None

    def run(self, units: Iterable[WorkUnit]) -> Iterator[UnitOutcome | UnfinishedUnit]:
        pending: dict[Future, Reconstruction] = {}
        for window in _windows(units, self.batch_size):
            if self.workers == 1:
                yield from execute_units(window, self.batch_size)
                continue
            for item in transcode_units(window, self.batch_size):
                if isinstance(item, UnitOutcome):
                    yield item
                else:
                    while len(pending) >= self.max_in_flight:
                        yield from self._collect(pending, block=True)
                    pending[self._ensure_pool(item).submit(item.pair(), item.unit.scoring)] = item
                    yield from self._collect(pending, block=False)
        while pending:
            yield from self._collect(pending, block=True)

    def warm_up(self, scoring: ScoringConfig) -> None:
        """Start the scoring workers now and wait until they are ready (ViSQOL loaded), instead of
        at the first reconstruction. Does nothing with ``workers=1``."""
        if self.workers > 1 and self._pool is None:
            self._pool = MetricsPool(scoring, workers=self.workers)
            for ready in self._pool.start():
                ready.result()

    def _ensure_pool(self, first: Reconstruction) -> MetricsPool:
        if self._pool is None:
            self._pool = MetricsPool(first.unit.scoring, workers=self.workers)
            self._pool.start()
        return self._pool

    def _collect(self, pending: dict[Future, Reconstruction], *, block: bool) -> Iterator[UnitOutcome | UnfinishedUnit]:
        if block:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
        else:
            done = [future for future in pending if future.done()]
        assert self._pool is not None
        for future in done:
            reconstruction = pending.pop(future)
            if future.cancelled():  # dropped with a broken pool before it started
                yield UnfinishedUnit(reconstruction.unit, "a scoring worker process died")
                continue
            error = future.exception()
            if isinstance(error, BrokenProcessPool):  # the machine's failure, not the unit's: not a result
                yield UnfinishedUnit(reconstruction.unit, f"a scoring worker process died ({error})")
                continue
            scores = self._pool.collect(
                future, reconstruction.unit.pair_id, reconstruction.unit.scoring,
                reference_rate_hz=reconstruction.reference.sample_rate_hz,
            )
            yield reconstruction.outcome(scores.results)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def terminate(self) -> None:
        """Stop at once, killing workers mid-pair (for an interrupted run)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


def _windows(units: Iterable[WorkUnit], utterances_per_window: int) -> Iterator[list[WorkUnit]]:
    """Consecutive units grouped so that each group covers ``utterances_per_window`` utterances
    (each utterance is then read once for all its conditions)."""
    window: list[WorkUnit] = []
    seen: set[tuple[str, str]] = set()
    for unit in units:
        key = (unit.testset, unit.utterance.id)
        if key not in seen and len(seen) == utterances_per_window:
            yield window
            window, seen = [], set()
        seen.add(key)
        window.append(unit)
    if window:
        yield window
