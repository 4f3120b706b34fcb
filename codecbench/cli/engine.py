"""Options and helpers shared by the commands that run the evaluation engine
(``evaluate`` and ``reproduce``).

This module registers no command and imports no command module.
"""

from __future__ import annotations

import sys

import click

from codecbench.cli.options import open_database_or_exit


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


def run_on_local_engine(database_url: str | None, testsets, workers: int, batch_size: int, run):
    """Open the database, say what will run, and return ``run(database, executor)`` on a local
    executor; on Ctrl-C every finished unit stays stored and the command exits with 130."""
    from codecbench.evaluation.executor import LocalExecutor

    database = open_database_or_exit(database_url)
    click.echo(f"database: {database.describe()}", err=True)
    _warn_about_moved_testsets(database, testsets)
    for testset in testsets:
        click.echo(testset.summary(), err=True)
    executor = LocalExecutor(workers, batch_size=batch_size)
    try:
        return run(database, executor)
    except KeyboardInterrupt:
        executor.terminate()
        click.echo("interrupted: every finished unit is stored; run the same command again to continue.", err=True)
        sys.exit(130)
    finally:
        executor.close()
        database.close()


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
