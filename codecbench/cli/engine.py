"""Options and helpers shared by the commands that run the evaluation engine
(``evaluate`` and ``reproduce``).

This module registers no command and imports no command module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from codecbench.cli.options import open_database_or_exit

if TYPE_CHECKING:
    from codecbench.evaluation.executor import Executor
    from codecbench.evaluation.runner import EvaluationPlan
    from codecbench.storage import Database

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class TestSetSpecType(click.ParamType):
    """``--testset NAME=ROOT``, ``NAME=wavscp:PATH`` or ``NAME=folder:PATH``, checked as it is parsed."""

    name = "NAME=ROOT"

    def convert(self, value, param, ctx):
        from codecbench.evaluation.datasets import TestSetError, TestSetSpec, parse_testset_spec

        if isinstance(value, TestSetSpec):
            return value
        try:
            return parse_testset_spec(value)
        except TestSetError as error:
            self.fail(str(error), param, ctx)


class EngineChoice(NamedTuple):
    """Where an evaluation's units run: ``--executor``, ``--workers``, ``--batch-size``, ``--ray-address``."""

    executor: str
    workers: int | None
    batch_size: int
    ray_address: str | None = None

    @classmethod
    def from_options(cls, executor: str, workers: int | None, batch_size: int, ray_address: str | None) -> EngineChoice:
        if executor == "local" and ray_address is not None:
            raise click.UsageError("--ray-address is for --executor ray.")
        return cls(executor, workers, batch_size, ray_address)


def engine_options(command: F) -> F:
    """``--executor``, ``--ray-address``, ``--workers`` and ``--batch-size`` (arguments
    ``executor``, ``ray_address``, ``workers``, ``batch_size``; see :meth:`EngineChoice.from_options`)."""
    decorators = [
        click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Where units run: local (this machine: codecs in this process, metrics in --workers "
                     "processes) or ray (a Ray cluster: pip install \"codecbench[ray]\"; the test sets must be at "
                     "the same path on every node)."),
        click.option("--ray-address", default=None, metavar="ADDRESS",
                     help="The cluster for --executor ray: auto (the one `ray start` made on this machine), "
                     "ray://HOST:10001 or HOST:6379. Default: $RAY_ADDRESS, else a cluster running on this machine, "
                     "else a new one on this machine for this run."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Processes scoring metrics (one core each). local: default 1, and with 1 everything runs "
                     "in this process; ray: scoring workers on the cluster, default one per CPU."),
        click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Utterances per codec call (neural codecs run them through the model together)."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def run_on_engine(
    database_url: str | None, plan: EvaluationPlan, engine: EngineChoice, run: Callable[[Database, Executor], T],
    keep_audio_dir: Path | None = None,
) -> T:
    """Open the database, say what will run, and return ``run(database, executor)`` on the chosen
    executor; on Ctrl-C every finished unit stays stored and the command exits with 130.

    A Ray cluster is checked before anything runs (every node sees the test sets, every codec
    loads there): what cannot work stops the command with the node named."""
    database = open_database_or_exit(database_url)
    click.echo(f"database: {database.describe()}", err=True)
    _warn_about_moved_testsets(database, plan.testsets)
    for testset in plan.testsets:
        click.echo(testset.summary(), err=True)
    try:
        executor = _make_executor(plan, engine, keep_audio_dir)
    except BaseException:
        database.close()
        raise
    try:
        return run(database, executor)
    except KeyboardInterrupt:
        executor.terminate()
        click.echo("interrupted: every finished unit is stored; run the same command again to continue.", err=True)
        sys.exit(130)
    finally:
        executor.close()
        database.close()


def _make_executor(plan: EvaluationPlan, engine: EngineChoice, keep_audio_dir: Path | None) -> Executor:
    if engine.executor == "local":
        from codecbench.evaluation.executor import LocalExecutor

        return LocalExecutor(engine.workers or 1, batch_size=engine.batch_size)
    from codecbench.evaluation.ray_executor import ClusterError, RayExecutor

    executor = RayExecutor(engine.ray_address, scoring_workers=engine.workers, batch_size=engine.batch_size)
    try:
        click.echo(executor.connect(notify=lambda line: click.echo(f"warning: {line}", err=True)), err=True)
        executor.prepare(plan.testsets, plan.conditions, plan.request.scoring, keep_audio_dir)
    except ClusterError as error:
        executor.close()
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        executor.close()
        sys.exit(130)
    return executor


def check_evaluation_database(database_url: str | None) -> None:
    """Refuse a database the engine cannot store results in, before test sets are indexed
    (and before a driver for it is even imported)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from codecbench.evaluation.store import check_evaluation_dialect
    from codecbench.storage import resolve_database_url

    try:
        backend = make_url(resolve_database_url(database_url)).get_backend_name()
    except ArgumentError:
        return  # not a URL at all: opening the database says so
    check_evaluation_dialect(backend)


def _warn_about_moved_testsets(database, testsets) -> None:
    """A test set name stored from another place: results of both are combined under the name."""
    from codecbench.evaluation.results import stored_testset_specs

    with database.session(read_only=True) as session:
        stored = {spec.name: spec for spec in stored_testset_specs(session)}
    for testset in testsets:
        before = stored.get(testset.name)
        if before is not None and (before.kind, before.path) != (testset.kind, testset.root):
            click.echo(
                f"note: {testset.name} was last read from {before} and is now read from {testset.root}; its stored "
                "results are kept and combined under the same name (use another name for other data).",
                err=True,
            )
