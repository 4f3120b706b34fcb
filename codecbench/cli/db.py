"""``codecbench db``: bring a database's schema up to this codecbench's, or show where it stands.

A user who upgrades codecbench keeps their database (MUSHRA ratings, evaluation results); the
schema migrations in :mod:`codecbench.storage.migrations` carry it forward. These commands are
thin wrappers over that module, imported only when a command runs.
"""

from __future__ import annotations

import click

from codecbench.cli.options import database_option


@click.group("db")
def db_group() -> None:
    """The database's schema: upgrade it after installing a new codecbench, or show its revision."""


def _resolved_url(database_url: str | None) -> tuple[str, str]:
    """The URL to use (``--db``, else ``$CODECBENCH_DB``, else the default file) and how to
    show it (any password hidden)."""
    from sqlalchemy.exc import ArgumentError

    from codecbench.storage import resolve_database_url
    from codecbench.storage.db import masked_url

    try:
        url = resolve_database_url(database_url)
        return url, masked_url(url)
    except (ValueError, ArgumentError) as error:
        raise click.ClickException(str(error)) from None


def _describe(revision: str | None) -> str:
    return "none (no codecbench schema revision is recorded)" if revision is None else revision


@db_group.command("upgrade")
@database_option
def db_upgrade_command(database_url: str | None) -> None:
    """Upgrade the database's schema to this codecbench's (the head revision), keeping every row.

    Safe to run again: a database already at the head is left as it is.
    """
    from codecbench.storage import DatabaseError
    from codecbench.storage.migrations import upgrade_database

    url, shown = _resolved_url(database_url)
    click.echo(f"database: {shown}", err=True)
    try:
        before, after = upgrade_database(url)
    except (ValueError, DatabaseError) as error:
        raise click.ClickException(str(error)) from None
    if before == after:
        click.echo(f"already at revision {_describe(after)}; nothing to do.")
    else:
        click.echo(f"upgraded from revision {_describe(before)} to {_describe(after)}.")


@db_group.command("current")
@database_option
def db_current_command(database_url: str | None) -> None:
    """Show the database's schema revision and whether `codecbench db upgrade` has work to do.

    Exit status: 0 when up to date, 1 when behind (an upgrade is due) or ahead (a newer
    codecbench upgraded it), so deployment scripts can check it.
    """
    from codecbench.storage import DatabaseError
    from codecbench.storage.migrations import current_revision, head_revision, known_revisions

    url, shown = _resolved_url(database_url)
    click.echo(f"database: {shown}", err=True)
    try:
        current = current_revision(url)
    except (ValueError, DatabaseError) as error:
        raise click.ClickException(str(error)) from None
    head = head_revision()
    click.echo(f"current revision: {_describe(current)}")
    click.echo(f"head revision: {head}")
    if current == head:
        click.echo("up to date.")
    elif current is not None and current not in known_revisions():
        click.echo("ahead: a newer codecbench upgraded it; install that codecbench (or a newer one) to use it.")
        raise SystemExit(1)
    else:
        click.echo("behind: run `codecbench db upgrade` to bring it to the head revision.")
        raise SystemExit(1)
