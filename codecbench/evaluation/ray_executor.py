"""Run an evaluation's units on a Ray cluster: codecs in actors, metrics in warm actors.

    with RayExecutor("auto", batch_size=8) as executor:       # or "ray://head:10001"
        executor.prepare(plan.testsets, plan.conditions, plan.request.scoring)
        summary = run_evaluation(database, plan, executor, TerminalProgress())

Each condition gets codec actors (:class:`~codecbench.evaluation.ray_workers.CodecWorker`) that
load its codec once and transcode a batch of utterances at a time, reading the audio on their
own node; a neural codec run with ``--device cuda`` gets a share of the cluster's GPUs per
actor. Reconstructions go through Ray's object store to scoring actors
(:class:`~codecbench.evaluation.ray_workers.ScoringWorker`, one CPU each, metrics warm), and
only the scores come back to the driver, which stores them as the local executor's do. An
utterance's conditions go to the scoring worker that scored its other conditions when it is
no busier than any other, so that ViSQOL's reference analysis is reused without leaving a
worker idle.

Ray restarts a worker process that dies and runs the calls it held again. A unit whose call
still fails is sent again (to another scoring worker while the one that failed is checked;
transcoded again if its reconstruction was lost with a node), up to :data:`MAX_UNIT_ATTEMPTS`
times; then it comes back as an :class:`~codecbench.evaluation.work.UnfinishedUnit` and is left
for the next run, never stored as a failure. A scoring worker that does not answer its check
(its node is gone) gets no more units.

Ray is an optional dependency (``pip install "codecbench[ray]"``); this module imports it only
when an executor connects.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecbench.evaluation.conditions import EvalCondition
from codecbench.evaluation.datasets import TestSet
from codecbench.evaluation.executor import DEFAULT_BATCH_SIZE, Executor, _windows
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.metrics.base import package_version
from codecbench.evaluation.ray_workers import CodecWorker, PathCheck, ScoringWorker, WorkerReport, check_paths
from codecbench.evaluation.work import UnfinishedUnit, UnitOutcome, WorkUnit

INSTALL_HINT = 'install Ray on this machine and on every node of the cluster: pip install "codecbench[ray]"'
#: Ray restarts a worker process that died, always (a worker that cannot come back, its node
#: gone, is given up by its health check); the driver, not Ray, sends the units it held again.
MAX_RESTARTS = -1
MAX_CALL_RETRIES = 0
#: Times a unit is sent again after a worker failed under it, before it is left for the next run.
MAX_UNIT_ATTEMPTS = 3
#: How long a scoring worker that failed may take to answer again before it is given up.
HEALTH_CHECK_TIMEOUT_S = 60.0
#: Units queued per scoring worker: one being scored, one waiting, so no worker waits for the driver.
SCORING_DEPTH = 2
#: How long workers may take to start (load a codec, warm metrics up) before the cluster is
#: taken to have no room for them.
START_TIMEOUT_S = 900.0
PATH_CHECK_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 10.0
#: Times a Ray Client connection whose session the cluster's client server could not start is
#: tried again. The head's client server starts a process per driver, and that process now and
#: then dies as it starts (measured here: 1 connection in 12, a gRPC "epoll_wait ... Bad file
#: descriptor" at start-up); a new connection gets a new process.
CLIENT_SESSION_ATTEMPTS = 3
#: Utterances whose last scoring worker is remembered (for ViSQOL's reference reuse).
REMEMBERED_UTTERANCES = 4096


class ClusterError(RuntimeError):
    """The cluster cannot run this evaluation; the message names the node and says what to do."""


@dataclass(frozen=True)
class RayNode:
    """An alive node of the cluster that can take work."""

    node_id: str
    address: str
    cpus: float
    gpus: float

    def describe(self, host: str | None = None) -> str:
        host_part = f"host {host}, " if host and host != self.address else ""
        return f"Ray node {self.address} ({host_part}node id {self.node_id[:12]})"


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`ClusterError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def needs_gpu(condition: EvalCondition) -> bool:
    """A neural codec asked to run on CUDA (classical codecs and anchors always run on CPUs)."""
    from codecbench.codecs import codec_spec

    return condition.load_options.device != "cpu" and codec_spec(condition.codec, condition.load_options).family == "neural"


class RayExecutor(Executor):
    """Units on a Ray cluster.

    Args:
        address: the cluster: ``auto`` (the one ``ray start`` made on this machine),
            ``ray://HOST:10001`` (Ray Client), ``HOST:6379``; ``None``: ``$RAY_ADDRESS``, else a
            cluster running on this machine, else a new one on this machine for this run.
        scoring_workers: scoring actors (one CPU each); default: one per CPU of the cluster.
        batch_size: utterances per codec call.
        codec_workers_per_condition: codec actors per condition; default 1, or with GPUs as
            many as the cluster's GPUs allow (each condition's actors get an equal share).
        max_in_flight: units read or transcoded ahead of the scoring workers (default four per
            scoring worker); bounds the object store's use.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        scoring_workers: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        codec_workers_per_condition: int | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        if scoring_workers is not None and scoring_workers < 1:
            raise ValueError(f"scoring_workers must be at least 1, got {scoring_workers}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if codec_workers_per_condition is not None and codec_workers_per_condition < 1:
            raise ValueError(f"codec_workers_per_condition must be at least 1, got {codec_workers_per_condition}")
        self.address = address
        self.scoring_workers = scoring_workers
        self.batch_size = batch_size
        self.codec_workers_per_condition = codec_workers_per_condition
        self.max_in_flight = max_in_flight
        self._ray: Any = None
        self._connected_here = False
        self._nodes: list[RayNode] = []
        self._scorers: list[Any] = []
        self._dead_scorers: set[int] = set()
        self._codec_workers: dict[EvalCondition, list[Any]] = {}
        self._next_replica: dict[EvalCondition, int] = {}
        self._file_checks: list[PathCheck] = []

    # -- connecting and preparing ------------------------------------------------------------

    def connect(self, notify: Callable[[str], None] | None = None) -> str:
        """Join the cluster (once); returns a line describing it.

        Args:
            notify: called with a line when the connection is tried again (a Ray Client session
                the cluster could not start).
        """
        if self._ray is None:
            ray = import_ray()
            if not ray.is_initialized():
                _check_listening(self.address)
                self._join(ray, notify)
                self._connected_here = True
            self._ray = ray
        nodes = self._work_nodes()
        cpus = sum(node.cpus for node in nodes)
        gpus = sum(node.gpus for node in nodes)
        return (f"Ray {self._ray.__version__} cluster: {len(nodes)} node(s) taking work, {cpus:g} CPU(s), {gpus:g} GPU(s); "
                f"{self._scoring_worker_count()} scoring worker(s)")

    def _join(self, ray: Any, notify: Callable[[str], None] | None) -> None:
        attempts = CLIENT_SESSION_ATTEMPTS if (self.address or "").startswith("ray://") else 1
        for attempt in range(1, attempts + 1):
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING,
                         include_dashboard=False)
                return
            except Exception as error:  # Ray raises ConnectionError, ValueError, its own errors
                session_failed = _client_session_failure(error)
                if session_failed is not None and attempt < attempts:
                    if notify is not None:
                        notify(f"the Ray Client server at {self.address} could not start a session ({session_failed}); "
                               f"connecting again ({attempt + 1} of {attempts})")
                    continue
                if session_failed is not None:
                    raise ClusterError(f"cannot join the Ray cluster at {self.address}: its Ray Client server could not "
                                       f"start a session {attempts} times ({session_failed.rstrip('.')}). Its logs are "
                                       "on the head node (ray_client_server*.err under /tmp/ray/session_latest/logs); "
                                       "or connect on the head node with --ray-address auto.") from None
                raise ClusterError(f"cannot join the Ray cluster at {self.address or 'this machine'}: "
                                   f"{_first_line(error).rstrip('.')}. Start it (`ray start --head` on its head node) or give "
                                   "its address (--ray-address auto|ray://HOST:10001|HOST:6379).") from None

    def _work_nodes(self) -> list[RayNode]:
        nodes = [
            RayNode(entry["NodeID"], entry["NodeManagerAddress"], float(entry["Resources"].get("CPU", 0)),
                    float(entry["Resources"].get("GPU", 0)))
            for entry in self._ray.nodes()
            if entry.get("Alive")
        ]
        working = [node for node in nodes if node.cpus >= 1]
        if not working:
            raise ClusterError("the Ray cluster has no alive node with a CPU to run work on; add a worker node "
                               "(`ray start --address=HEAD:6379` on it)")
        self._nodes = working
        return working

    def _scoring_worker_count(self) -> int:
        slots = sum(math.floor(node.cpus) for node in self._nodes)
        wanted = self.scoring_workers or slots
        if wanted > slots:
            raise ClusterError(f"{wanted} scoring workers asked for (--workers), but the cluster's nodes have "
                               f"{slots} CPU(s) in all; ask for at most {slots}, or add nodes")
        return wanted

    def prepare(
        self,
        testsets: Sequence[TestSet],
        conditions: Sequence[EvalCondition],
        scoring: ScoringConfig,
        keep_audio_dir: Path | None = None,
    ) -> None:
        """Before any unit runs: check that every node taking work sees the test sets (and can
        write ``keep_audio_dir``), start the scoring workers and every condition's codec workers,
        and wait until each is ready (codec loaded with the driver's weights, metrics warm).

        Raises:
            ClusterError: what cannot work, on which node, and what to do.
        """
        self.connect()
        self._file_checks = _path_checks(testsets, keep_audio_dir)
        self._check_paths(self._file_checks)
        self._start_scorers(scoring)
        gpu_conditions = sum(1 for condition in conditions if needs_gpu(condition))
        for condition in conditions:
            self._start_codec_workers(condition, gpu_conditions)
        self._wait_ready()

    def _check_paths(self, checks: list[PathCheck]) -> None:
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote_check = ray.remote(num_cpus=0, max_retries=0)(check_paths)
        answers = {
            node.node_id: remote_check.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False)).remote(checks)
            for node in self._nodes
        }
        problems = []
        for node in self._nodes:
            try:
                host, node_problems = ray.get(answers[node.node_id], timeout=PATH_CHECK_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                problems.append(f"{node.describe()}: did not answer the file check in {PATH_CHECK_TIMEOUT_S:g} s")
                continue
            except ray.exceptions.RayError as error:
                problems.append(f"{node.describe()}: the file check failed: {_first_line(error)}")
                continue
            problems += [f"{node.describe(host)}: {problem}" for problem in node_problems]
        if problems:
            raise ClusterError(
                "not every node of the cluster sees the files this run needs; nothing was run.\n  "
                + "\n  ".join(problems)
                + "\nEvery node that takes work reads the test sets (and writes --keep-audio) at the same path as "
                "this machine: put them on a file system every node mounts (NFS, Lustre, a volume in every pod)."
            )

    def _start_scorers(self, scoring: ScoringConfig) -> None:
        if self._scorers:
            return
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = self._ray.remote(ScoringWorker)
        places = _spread(self._nodes, self._scoring_worker_count())
        self._scorers = [
            actor_class.options(
                num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=MAX_CALL_RETRIES,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
            ).remote(scoring)
            for node in places
        ]

    def _start_codec_workers(self, condition: EvalCondition, gpu_conditions: int) -> list[Any]:
        """Start ``condition``'s codec workers. With CUDA, ``gpu_conditions`` (the conditions that
        need a GPU) share the cluster's GPUs: as many workers per condition as there are GPUs for
        each, each worker a share that divides one GPU evenly (Ray fits a fraction on one GPU)."""
        if condition in self._codec_workers:
            return self._codec_workers[condition]
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = self._ray.remote(CodecWorker)
        if needs_gpu(condition):
            if condition.load_options.device != "cuda":
                raise ClusterError(f"{condition.key}: on a Ray cluster give --device cuda, not "
                                   f"{condition.load_options.device}: Ray gives each codec worker its own GPU(s)")
            gpus = sum(node.gpus for node in self._nodes)
            if gpus == 0:
                raise ClusterError(f"{condition.key} is to run on CUDA, but no node of the Ray cluster has a GPU; "
                                   "add GPU nodes or run the codecs with --device cpu")
            gpu_conditions = max(1, gpu_conditions)
            replicas = self.codec_workers_per_condition or max(1, math.floor(gpus / gpu_conditions))
            share = 1.0 / math.ceil(gpu_conditions * replicas / gpus)  # n workers per GPU, each 1/n of it
            workers = [actor_class.options(num_gpus=share, num_cpus=0, max_restarts=MAX_RESTARTS,
                                           max_task_retries=MAX_CALL_RETRIES).remote(condition, self.batch_size,
                                                                                     self._file_checks)
                       for _ in range(replicas)]
        else:
            replicas = self.codec_workers_per_condition or 1
            first = len(self._codec_workers)
            workers = [
                actor_class.options(
                    num_cpus=0, max_restarts=MAX_RESTARTS, max_task_retries=MAX_CALL_RETRIES,
                    # soft: restarted elsewhere if the node is lost (a codec worker holds no CPU); a
                    # worker checks the files and weights again wherever it (re)starts
                    scheduling_strategy=NodeAffinitySchedulingStrategy(
                        self._nodes[(first + index) % len(self._nodes)].node_id, soft=True),
                ).remote(condition, self.batch_size, self._file_checks)
                for index in range(replicas)
            ]
        self._codec_workers[condition] = workers
        return workers

    def _wait_ready(self, codec_conditions: Sequence[EvalCondition] | None = None) -> None:
        """Wait until the scoring workers and the codec workers of ``codec_conditions`` (default:
        all) are ready; raise a :class:`ClusterError` saying what is not."""
        ray = self._ray
        checks = [(f"scoring worker {index + 1}", actor) for index, actor in enumerate(self._scorers)
                  if index not in self._dead_scorers]
        checks += [(f"codec worker of {condition.key}", actor)
                   for condition, actors in self._codec_workers.items() for actor in actors
                   if codec_conditions is None or condition in codec_conditions]
        answers = [actor.ready.remote() for _, actor in checks]
        ready, waiting = ray.wait(answers, num_returns=len(answers), timeout=START_TIMEOUT_S)
        if waiting:
            names = [name for (name, _), answer in zip(checks, answers, strict=True) if answer in set(waiting)]
            raise ClusterError(f"{len(names)} worker(s) did not start within {START_TIMEOUT_S:g} s ({', '.join(names[:5])}): "
                               "the cluster has no room for them (`ray status` shows what is free)")
        problems = []
        version = package_version("codecbench")
        for (name, _), answer in zip(checks, answers, strict=True):
            try:
                report: WorkerReport = ray.get(answer)
            except ray.exceptions.RayError as error:
                problems.append(f"{name} could not start: {_first_line(error)}")
                continue
            where = f"on host {report.host} (pid {report.pid})"
            if report.problem:
                problems.append(f"{name} {where}: {report.problem}")
            elif report.codecbench_version != version:
                problems.append(f"{name} {where} runs codecbench {report.codecbench_version}, this machine "
                                f"{version}; install the same version everywhere")
        if problems:
            raise ClusterError("the cluster cannot run this evaluation; nothing was run.\n  " + "\n  ".join(problems))

    # -- running -----------------------------------------------------------------------------

    def run(self, units: Iterable[WorkUnit]) -> Iterator[UnitOutcome | UnfinishedUnit]:
        self.connect()
        flight = _Flight()
        windows = _windows(units, self.batch_size)
        exhausted = False
        while True:
            ahead = self.max_in_flight or 4 * max(1, len(self._scorers))
            while not exhausted and len(flight.transcoding) + len(flight.to_score) < ahead:
                window = next(windows, None)
                if window is None:
                    exhausted = True
                    break
                if not self._scorers:
                    self._start_scorers(window[0].scoring)
                    self._wait_ready()
                for condition, members in _by_condition(window).items():
                    yield from self._transcode(flight, condition, members)
            yield from self._send_to_scorers(flight)
            if not flight.working():
                if exhausted:
                    return
                continue
            ready, _ = self._ray.wait(flight.waiting(), num_returns=1, fetch_local=False, timeout=flight.patience())
            for ref in ready:
                if ref in flight.transcoding:
                    flight.to_score.append((ref, flight.transcoding.pop(ref)))
                elif ref in flight.health_checks:
                    self._settle_health_check(flight, ref)
                else:
                    yield from self._receive(flight, ref)
            self._expire_health_checks(flight)

    def _transcode(self, flight: _Flight, condition: EvalCondition, members: list[WorkUnit]) -> Iterator[UnfinishedUnit]:
        """Send ``members`` (units of ``condition``) to one of its codec workers: one object per unit.
        A condition whose workers cannot start (one :meth:`prepare` did not start) leaves its units
        unfinished; a worker that fails its calls makes its units run out of attempts."""
        try:
            actor = self._codec_worker(condition)
        except ClusterError as error:
            for unit in members:
                yield UnfinishedUnit(unit, f"{condition.key} cannot run on the cluster: {_first_line(error)}")
            return
        refs = actor.transcode.options(num_returns=len(members)).remote(members)
        flight.transcoding.update(zip([refs] if len(members) == 1 else refs, members, strict=True))

    def _send_to_scorers(self, flight: _Flight) -> Iterator[UnfinishedUnit]:
        flight.load += [0] * (len(self._scorers) - len(flight.load))
        while flight.to_score:
            index = self._pick_scorer(flight.load, flight.to_score[0][1], flight.last_scorer, flight.suspects())
            if index is None:
                if len(self._dead_scorers) < len(self._scorers):
                    return  # every live worker is full or being checked: wait for one
                _, unit = flight.to_score.popleft()
                yield UnfinishedUnit(unit, "every scoring worker died")
                continue
            reconstruction, unit = flight.to_score.popleft()
            flight.scoring[self._scorers[index].score.remote(reconstruction)] = (unit, reconstruction, index)
            flight.load[index] += 1

    def _receive(self, flight: _Flight, ref: Any) -> Iterator[UnitOutcome | UnfinishedUnit]:
        """A scored unit's outcome; a unit a worker failed under is sent again (the scoring worker
        checked meanwhile), or after :data:`MAX_UNIT_ATTEMPTS` left unfinished."""
        ray = self._ray
        unit, reconstruction, index = flight.scoring.pop(ref)
        flight.load[index] -= 1
        try:
            yield ray.get(ref)
            return
        except ray.exceptions.RayError as error:
            failure = error
        scorer_failed = getattr(failure, "actor_id", None) == self._scorers[index]._actor_id.hex()
        if scorer_failed and index not in self._dead_scorers and index not in flight.suspects():
            flight.health_checks[self._scorers[index].ready.remote()] = (index, time.monotonic())
        attempts = flight.attempts[unit.key] = flight.attempts.get(unit.key, 0) + 1
        if attempts >= MAX_UNIT_ATTEMPTS:
            yield UnfinishedUnit(unit, f"a Ray worker failed ({_first_line(failure)})")
        elif scorer_failed:  # the reconstruction is still in the object store (or Ray rebuilds it)
            flight.to_score.append((reconstruction, unit))
        else:  # the codec worker or the reconstruction was lost: transcode again
            yield from self._transcode(flight, unit.condition, [unit])

    def _settle_health_check(self, flight: _Flight, ref: Any) -> None:
        index, _ = flight.health_checks.pop(ref)
        try:
            self._ray.get(ref)
        except self._ray.exceptions.RayError:
            self._dead_scorers.add(index)

    def _expire_health_checks(self, flight: _Flight) -> None:
        """A scoring worker that does not answer within :data:`HEALTH_CHECK_TIMEOUT_S` (its node
        is gone, its restart cannot be placed) is given up."""
        now = time.monotonic()
        for ref, (index, since) in list(flight.health_checks.items()):
            if now - since > HEALTH_CHECK_TIMEOUT_S:
                del flight.health_checks[ref]
                self._dead_scorers.add(index)

    def _codec_worker(self, condition: EvalCondition) -> Any:
        """The condition's next codec worker in turn (started now if the condition is new)."""
        if condition not in self._codec_workers:
            gpu_conditions = sum(1 for known in [*self._codec_workers, condition] if needs_gpu(known))
            try:
                self._start_codec_workers(condition, gpu_conditions)
                self._wait_ready([condition])
            except ClusterError:
                for actor in self._codec_workers.pop(condition, []):
                    self._ray.kill(actor)
                raise
        workers = self._codec_workers[condition]
        turn = self._next_replica.get(condition, 0)
        self._next_replica[condition] = turn + 1
        return workers[turn % len(workers)]

    def _pick_scorer(self, load: list[int], unit: WorkUnit, last_scorer: OrderedDict[tuple[str, str], int],
                     suspects: frozenset[int] = frozenset()) -> int | None:
        """The least busy live scoring worker with room, preferring the one that scored this
        utterance last (its ViSQOL reference analysis is cached there)."""
        candidates = [index for index in range(len(self._scorers))
                      if index not in self._dead_scorers and index not in suspects and load[index] < SCORING_DEPTH]
        if not candidates:
            return None
        lowest = min(load[index] for index in candidates)
        key = (unit.testset, unit.utterance.id)
        previous = last_scorer.get(key)
        index = previous if previous in candidates and load[previous] == lowest else next(
            index for index in candidates if load[index] == lowest)
        last_scorer[key] = index
        last_scorer.move_to_end(key)
        while len(last_scorer) > REMEMBERED_UTTERANCES:
            last_scorer.popitem(last=False)
        return index

    # -- ending --------------------------------------------------------------------------------

    def close(self) -> None:
        if self._ray is None:
            return
        for actor in [*self._scorers, *(actor for actors in self._codec_workers.values() for actor in actors)]:
            try:
                self._ray.kill(actor)
            except Exception:  # already gone with its node  # noqa: S110
                pass
        self._scorers, self._codec_workers = [], {}
        if self._connected_here:
            self._ray.shutdown()
        self._ray = None

    def terminate(self) -> None:
        """Stop at once (an interrupted run): the workers are killed mid-unit."""
        self.close()


@dataclass
class _Flight:
    """The units of one :meth:`RayExecutor.run` between the driver and the workers.

    Attributes:
        transcoding: transcode result -> its unit.
        to_score: reconstructions ready, waiting for a scoring worker.
        scoring: score result -> (unit, its reconstruction, scoring worker index).
        health_checks: ``ready()`` answer -> (index of a scoring worker that failed, since when);
            it gets no units until it answers.
        load: units sent to each scoring worker and not back yet.
        attempts: times each unit was sent again after a failure.
        last_scorer: the scoring worker each utterance went to last.
    """

    transcoding: dict[Any, WorkUnit] = field(default_factory=dict)
    to_score: deque[tuple[Any, WorkUnit]] = field(default_factory=deque)
    scoring: dict[Any, tuple[WorkUnit, Any, int]] = field(default_factory=dict)
    health_checks: dict[Any, tuple[int, float]] = field(default_factory=dict)
    load: list[int] = field(default_factory=list)
    attempts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    last_scorer: OrderedDict[tuple[str, str], int] = field(default_factory=OrderedDict)

    def working(self) -> bool:
        """Units are out (health checks alone do not keep a run going)."""
        return bool(self.transcoding or self.to_score or self.scoring)

    def waiting(self) -> list[Any]:
        return [*self.transcoding, *self.scoring, *self.health_checks]

    def suspects(self) -> frozenset[int]:
        return frozenset(index for index, _ in self.health_checks.values())

    def patience(self) -> float | None:
        """Seconds to wait for results before health checks must be looked at again."""
        return HEALTH_CHECK_TIMEOUT_S if self.health_checks else None


def _check_listening(address: str | None) -> None:
    """Fail at once when nothing listens at a ``HOST:PORT`` or ``ray://HOST:PORT`` address (Ray
    itself would retry for minutes)."""
    if address is None or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # Ray says what is wrong with the form
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ClusterError(f"no Ray cluster answers at {address} ({error.strerror or error}); start it "
                           "(`ray start --head` on its head node) or give its address (--ray-address).") from None


def _by_condition(units: Sequence[WorkUnit]) -> dict[EvalCondition, list[WorkUnit]]:
    grouped: dict[EvalCondition, list[WorkUnit]] = {}
    for unit in units:
        grouped.setdefault(unit.condition, []).append(unit)
    return grouped


def _spread(nodes: Sequence[RayNode], count: int) -> list[RayNode]:
    """``count`` one-CPU slots over ``nodes``, taking one per node in turn (no node above its CPUs)."""
    free = {node.node_id: math.floor(node.cpus) for node in nodes}
    places: list[RayNode] = []
    while len(places) < count:
        for node in nodes:
            if free[node.node_id] > 0 and len(places) < count:
                free[node.node_id] -= 1
                places.append(node)
    return places


def _path_checks(testsets: Sequence[TestSet], keep_audio_dir: Path | None) -> list[PathCheck]:
    """Each test set's root and its first utterance's audio (read), and ``keep_audio_dir`` (written)."""
    checks = []
    for testset in testsets:
        checks.append(PathCheck(f"test set {testset.name}", Path(testset.root)))
        if testset.utterances:
            source = testset.utterances[0].source
            path = getattr(source, "path", None) or getattr(source, "archive", None)
            if path is not None:
                checks.append(PathCheck(f"test set {testset.name}'s audio", Path(path)))
    if keep_audio_dir is not None:
        checks.append(PathCheck("--keep-audio folder", keep_audio_dir, writable=True))
    return checks


def _client_session_failure(error: BaseException) -> str | None:
    """What the cluster's Ray Client server said when it could not start this driver's session
    (the last line of its traceback), or None for any other error."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Initialization failure from server"):
        return None
    return _shortened(lines[-1] if len(lines) > 1 else "no reason given")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return _shortened(text[0] if text else type(error).__name__)


def _shortened(line: str) -> str:
    return line if len(line) <= 300 else line[:297] + "..."
