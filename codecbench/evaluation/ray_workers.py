"""What runs on the workers of a Ray cluster: codec workers, scoring workers, and the check that
a node sees the files a run reads and writes.

Plain classes and functions, without Ray: :class:`~codecbench.evaluation.ray_executor.RayExecutor`
makes actors and tasks of them. They call the same steps as the local executor
(:func:`~codecbench.evaluation.work.transcode_units`, :func:`~codecbench.evaluation.work.score_here`),
so a unit gets the same values wherever it runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codecbench.evaluation.conditions import EvalCondition, checkpoint_identity
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.metrics.base import package_version
from codecbench.evaluation.work import Reconstruction, UnitOutcome, WorkUnit, score_here, transcode_units


@dataclass(frozen=True)
class WorkerReport:
    """A worker's answer to ``ready()``: where it runs, and why it cannot work, if it cannot."""

    host: str
    pid: int
    codecbench_version: str
    problem: str | None = None


def _report(problem: str | None = None) -> WorkerReport:
    return WorkerReport(socket.gethostname(), os.getpid(), package_version("codecbench"), problem)


class CodecWorker:
    """One condition's codec, loaded once, transcoding batches of that condition's units.

    The utterances are read here, on the worker's node (the test set's root must be visible
    there). Reconstructions go to the scoring workers through Ray's object store, not through
    the driver. Wherever the worker starts or restarts (Ray may restart it on another node), it
    checks the run's files and the codec's weights first; if they are not what the driver
    planned with, its calls fail (the units come back unfinished) instead of storing failures
    or scores of other weights.
    """

    def __init__(self, condition: EvalCondition, batch_size: int, path_checks: Sequence[PathCheck] = ()) -> None:
        self.condition = condition
        self.batch_size = batch_size
        _, path_problems = check_paths(path_checks)
        self.problem = "; ".join(path_problems) or self._codec_problem()

    def _codec_problem(self) -> str | None:
        try:
            self.condition.load()
            here = checkpoint_identity(self.condition.codec, self.condition.load_options)
        except Exception as error:  # reported to the driver, which stops the run before it starts
            return f"{self.condition.key} cannot be loaded: {type(error).__name__}: {error}"
        if here != self.condition.checkpoint:
            return (f"{self.condition.key} loads other weights here ({here or 'none'}) than on the driver "
                    f"({self.condition.checkpoint}); give every node the same model files")
        return None

    def ready(self) -> WorkerReport:
        """Where this worker runs, and why it cannot work here, if it cannot."""
        return _report(self.problem)

    def transcode(self, units: Sequence[WorkUnit]) -> Reconstruction | UnitOutcome | tuple[Reconstruction | UnitOutcome, ...]:
        """Each unit's reconstruction (or failed outcome), in the order of ``units``: one object
        per unit, so that each goes to its own scoring worker (a single unit's comes back bare,
        as Ray returns one value).

        Raises:
            WorkerNotReady: this worker's node lacks the run's files or the codec's weights.
        """
        if self.problem is not None:
            raise WorkerNotReady(f"{socket.gethostname()}: {self.problem}")
        done = {item.unit.key: item for item in transcode_units(units, self.batch_size)}
        items = tuple(done[unit.key] for unit in units)
        return items[0] if len(items) == 1 else items


class WorkerNotReady(RuntimeError):
    """A worker restarted on a node that cannot do its work (files or weights missing there)."""


class ScoringWorker:
    """A warm scoring process (metric models loaded, one core), as in the local metrics pool."""

    def __init__(self, scoring: ScoringConfig) -> None:
        from codecbench.evaluation.metrics.pool import prepare_scoring_process

        prepare_scoring_process(scoring)

    def ready(self) -> WorkerReport:
        return _report()

    def score(self, item: Reconstruction | UnitOutcome) -> UnitOutcome:
        """Score a reconstruction; a unit that failed before scoring comes back as it is."""
        return item if isinstance(item, UnitOutcome) else score_here(item)


@dataclass(frozen=True)
class PathCheck:
    """A path a run needs on every node: a test set's root or one of its audio files (read), or
    the ``--keep-audio`` folder (written)."""

    what: str
    path: Path
    writable: bool = False


def check_paths(checks: Sequence[PathCheck]) -> tuple[str, list[str]]:
    """This host's name, and what it cannot do of ``checks`` (empty: all is well)."""
    problems = []
    for check in checks:
        problem = _path_problem(check)
        if problem is not None:
            problems.append(f"{check.what} {check.path}: {problem}")
    return socket.gethostname(), problems


def _path_problem(check: PathCheck) -> str | None:
    path = check.path
    if not path.exists():
        return "does not exist here"
    try:
        if check.writable:
            probe = path / f".codecbench-node-check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        elif path.is_dir():
            next(os.scandir(path), None)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
    except OSError as error:
        return f"cannot be {'written' if check.writable else 'read'} here ({error.strerror or error})"
    return None
