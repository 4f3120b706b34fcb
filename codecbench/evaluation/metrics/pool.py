"""Score many pairs: serially in this process, or in a pool of warm worker processes.

The unit of work is a :class:`ScoringPair` (an id and two signals, picklable). Each worker
process loads its metrics' models and kernels once when it starts (each registry entry's
``warm_up``: ViSQOL's kernels, DNSMOS's ONNX models, WARP-Q's) and then scores
pairs one after another with numba and BLAS limited to one thread, so N workers use N cores
without fighting over them. Results stream back as they finish, not in submission order; each carries
its pair's id. Give a reference's pairs one after another: each worker then analyses the
reference for ViSQOL once and reuses the analysis for the rest it receives.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from codecbench.evaluation.metrics.pair import AudioInput, declared_rate_hz
from codecbench.evaluation.metrics.result import PairScores
from codecbench.evaluation.metrics.scoring import ScoringConfig, score_with_config, unscorable_results

# How often a worker checks that the process that started it is still there.
PARENT_CHECK_S = 1.0


@dataclass(frozen=True)
class ScoringPair:
    """One pair to score in a batch.

    Args:
        pair_id: the caller's name for the pair (an utterance id, a file name); results
            come back under it.
        reference: the reference signal (:class:`~codecbench.audio.Audio`, a path, or
            ``(samples, sample_rate_hz)``).
        degraded: the signal to score against it.
    """

    pair_id: str
    reference: AudioInput
    degraded: AudioInput


def score_batch_pair(pair: ScoringPair, config: ScoringConfig) -> PairScores:
    """Score one batch pair in this process."""
    return PairScores(pair.pair_id, tuple(score_with_config(pair.reference, pair.degraded, config)))


def score_pairs(
    pairs: Iterable[ScoringPair], config: ScoringConfig = ScoringConfig(), *, workers: int = 1
) -> Iterator[PairScores]:
    """Score every pair, yielding each pair's results as soon as they are ready.

    With ``workers=1`` pairs are scored in this process, in order; with more, in a
    :class:`MetricsPool` of that many processes, in completion order.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1:
        for pair in pairs:
            yield score_batch_pair(pair, config)
        return
    with MetricsPool(config, workers=workers) as pool:
        yield from pool.score(pairs)


class MetricsPool:
    """Worker processes, warmed up once, that score pairs.

    Use as a context manager, or call :meth:`close`. Worker processes are started with
    ``spawn`` (safe from threaded programs such as the web app) and warm up as they start:
    the first pair waits for that, later ones do not. If a worker dies, the pool reports
    the failure on the pairs it held and starts fresh workers for the next ones.

    Args:
        config: the metrics pairs get unless :meth:`submit` is given another config; its
            ViSQOL protocols are the ones workers warm up.
        workers: number of worker processes (one core each).
    """

    def __init__(self, config: ScoringConfig = ScoringConfig(), *, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.config = config
        self.workers = workers
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.config, os.getpid()),
        )

    def start(self) -> list[Future[int]]:
        """Start and warm up every worker now rather than at the first pair. Returns at once;
        each future gives a worker's process id once that worker is ready."""
        return [self._submit(_ready) for _ in range(self.workers)]

    def submit(self, pair: ScoringPair, config: ScoringConfig | None = None) -> Future[PairScores]:
        """Queue one pair (scored with ``config``, default the pool's); the future gives its
        :class:`PairScores`."""
        return self._submit(score_batch_pair, pair, config or self.config)

    def _submit(self, function, *args):  # type: ignore[no-untyped-def]
        try:
            return self._executor.submit(function, *args)
        except BrokenProcessPool:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            return self._executor.submit(function, *args)

    def score(self, pairs: Iterable[ScoringPair], *, max_in_flight: int | None = None) -> Iterator[PairScores]:
        """Score every pair, yielding results as they finish.

        At most ``max_in_flight`` pairs (default: twice the workers) are queued at a time, so
        a long iterable of in-memory signals is never all held at once. A pair whose worker
        fails outright comes back with that failure as every metric's error.
        """
        limit = max_in_flight or 2 * self.workers
        pending: dict[Future[PairScores], ScoringPair] = {}
        iterator = iter(pairs)
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                pair = next(iterator, None)
                if pair is None:
                    exhausted = True
                else:
                    pending[self.submit(pair)] = pair
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pair = pending.pop(future)
                yield self.collect(future, pair.pair_id, reference_rate_hz=declared_rate_hz(pair.reference))

    def collect(
        self,
        future: Future[PairScores],
        pair_id: str,
        config: ScoringConfig | None = None,
        reference_rate_hz: int | None = None,
    ) -> PairScores:
        """The result of a finished :meth:`submit`; a worker that died instead gives its
        failure as every metric's error (``config``: the one the pair was submitted with)."""
        try:
            return future.result()
        except Exception as error:  # a crashed worker: report it on the pair, never as a score
            message = f"the scoring worker failed on this pair: {type(error).__name__}: {error}"
            return PairScores(pair_id, tuple(unscorable_results(config or self.config, message, reference_rate_hz)))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def terminate(self) -> None:
        """Stop at once: cancel queued pairs and kill the workers, even mid-warm-up.

        For a server shutting down: :meth:`close` (and the interpreter's own exit handler for
        process pools) would wait for a worker still compiling ViSQOL's kernels.
        """
        workers = list((self._executor._processes or {}).values())  # the stdlib exposes no public handle
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join(timeout=5)

    def __enter__(self) -> MetricsPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _exit_with_parent(parent_pid: int) -> None:
    """End this worker when the process that started it is gone.

    A parent stopped by a signal (``kill``, a container stop) cannot shut its pool down, and
    a spawned worker holds both ends of its task queue, so it would wait for work forever.
    """
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _ready() -> int:
    """A task that only proves a worker is up and warm; gives its process id."""
    return os.getpid()


def _start_worker(config: ScoringConfig, parent_pid: int) -> None:
    """Worker initializer: a thread that ends the worker with its parent, then
    :func:`prepare_scoring_process`.

    The parent's pid comes from the parent: read here after the slow imports, it could already
    be init's, and the worker would outlive its parent.
    """
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    prepare_scoring_process(config)


def prepare_scoring_process(config: ScoringConfig) -> None:
    """Make this process a scoring worker: one thread for numba and for BLAS (a worker is one
    core's worth of work; spare threads only contend with the other workers), and ``config``'s
    metrics warmed up before the first pair. Pool workers and Ray's scoring actors call it."""
    from threadpoolctl import threadpool_limits

    from codecbench.evaluation.metrics import visqol
    from codecbench.evaluation.metrics.registry import warm_up_metrics

    visqol.import_visqol_library()
    import numba

    numba.set_num_threads(1)
    threadpool_limits(limits=1)  # stays in force for the process (until restored, which it is not)
    warm_up_metrics(config.metrics, config.visqol_protocols)
