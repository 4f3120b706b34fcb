"""Schema migrations of codecbench databases (Alembic), for SQLite and PostgreSQL.

Each schema change is an Alembic revision in ``versions/``; the database records the revision
it is at in Alembic's ``alembic_version`` table. Alembic is configured here in code (no
``alembic.ini``): the revisions ship inside the package, so a wheel install can upgrade.

* A brand-new database is created by running every revision (:func:`ensure_current_schema`,
  called by :func:`codecbench.storage.open_database`). Running the migrations rather than
  ``create_all`` + stamp keeps one way a schema comes about: a new database and an upgraded
  one are made by the same code, so they cannot drift apart, and every test that opens a
  database runs the migrations. (``tests/test_migrations.py`` checks that the result equals
  the models.)
* A database that is behind (an earlier revision, or made by a codecbench from before
  migrations: tables but no ``alembic_version``) is refused at open with
  :class:`SchemaOutdatedError`, whose message says to run ``codecbench db upgrade``
  (:func:`upgrade_database`). Upgrading is never implicit: the user backs up first, and one
  server does it while the app is stopped, not every process that happens to start.
* A database at a revision this codecbench does not know was upgraded by a newer codecbench:
  :class:`SchemaTooNewError` says to upgrade codecbench.

Upgrades run in one transaction under a lock (PostgreSQL: an advisory lock; SQLite: the write
lock of ``BEGIN IMMEDIATE``), so two processes never migrate at once and a failing revision
leaves the database as it was (both backends have transactional DDL). On SQLite, foreign keys
are switched off for the upgrade and checked before it commits, the procedure SQLite documents
for changes that copy a table: with them on, dropping the old copy of a table would delete the
rows of every table that refers to it with ``ON DELETE CASCADE``.

Adding a revision (developers): change the models, then ``python -m codecbench.storage.migrations
revision "what changed"``, review the generated file in ``versions/`` and test it (see
docs/migrations.md).
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from codecbench.storage.db import (
    READ_ONLY_OPTION,
    TABLE_MODULES,
    Database,
    DatabaseError,
    check_schema_version,
    masked_url,
    open_database,
    record_schema_version,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE_REVISION = "0001_baseline"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key held while a database is created or upgraded ("codecbnc" in ASCII).
POSTGRES_LOCK_KEY = 0x636F_6465_6362_6E63


def upgrade_command(url: str) -> str:
    """The command that upgrades the database at ``url``, quoted for a shell; a password in it is
    shown as ``***`` and the user is told to put it back (or to use the same ``$CODECBENCH_DB``)."""
    shown = masked_url(url)
    command = f"codecbench db upgrade --db {shlex.quote(shown)}"
    if shown != make_url(url).render_as_string(hide_password=False):
        command += " (with the real password in place of ***, or with the same $CODECBENCH_DB and no --db)"
    return command


class SchemaOutdatedError(DatabaseError):
    """The database's schema is older than this codecbench's: ``codecbench db upgrade`` brings it up.

    ``current`` is ``None`` for a database made by a codecbench from before migrations.
    """

    def __init__(self, url: str, current: str | None, head: str) -> None:
        self.url, self.current, self.head = url, current, head
        found = f"schema revision {current}" if current else "a schema from before codecbench had migrations"
        super().__init__(
            f"the database {masked_url(url)} has {found}; this codecbench needs revision {head}. "
            f"Back it up, stop any codecbench still using it, then run: {upgrade_command(url)}"
        )


class SchemaTooNewError(DatabaseError):
    """The database was upgraded by a newer codecbench: its revision is unknown to this one."""

    def __init__(self, url: str, current: str, head: str) -> None:
        self.url, self.current, self.head = url, current, head
        super().__init__(
            f"the database {masked_url(url)} has schema revision {current}, which this codecbench does not "
            f"know (it knows up to {head}): a newer codecbench upgraded it. Upgrade codecbench to that version or a newer "
            "one (update your checkout and run pip install -e . again) to use this database."
        )


class UnrecognisedSchemaError(DatabaseError):
    """Tables with codecbench's names exist, without a recorded revision, and do not match the
    baseline: upgrading would build on a schema it does not understand, so it refuses."""


def model_metadata() -> MetaData:
    """``Base.metadata`` with every table module imported: the schema the code expects (head)."""
    from codecbench.storage.base import Base

    for module in TABLE_MODULES:
        importlib.import_module(module)
    return Base.metadata


def migration_context_options() -> dict[str, Any]:
    """Options of every migration context (``env.py``, autogenerate, the tests' comparisons)."""
    return {"render_as_batch": True, "compare_type": True, "version_table": VERSION_TABLE}


def alembic_config() -> Config:
    """An Alembic ``Config`` for the revisions shipped in this package (no ``alembic.ini``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s")
    return config


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The revision the models of this codecbench correspond to."""
    head = _script().get_current_head()
    assert head is not None, "codecbench ships at least one revision and one head"
    return head


def known_revisions() -> list[str]:
    """Every revision this codecbench has, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def baseline_metadata() -> MetaData:
    """The tables as revision 1 (the schema of codecbench before migrations) defines them."""
    module = _script().get_revision(BASELINE_REVISION).module
    return module.BASELINE


def current_revision(url: str | None) -> str | None:
    """The revision the database at ``url`` is at; ``None`` when none is recorded (an empty
    database, or one made by a codecbench from before migrations).

    Raises:
        ValueError: the URL is malformed.
        DatabaseError: the server cannot be reached.
    """
    database = open_database(url, create_schema=False)
    try:
        with _connection_errors(database), database.engine.connect() as connection:
            return _recorded_revision(connection)
    finally:
        database.close()


def upgrade_database(url: str | None) -> tuple[str | None, str]:
    """Bring the database at ``url`` to :func:`head_revision`; return (revision before, revision after).

    An empty database gets the whole schema. A database from a codecbench before migrations
    (no revision recorded, codecbench's tables present) is checked against the baseline (each
    of its tables must have the baseline's columns), given the baseline's tables it lacks and
    recorded at the baseline, then upgraded; its "revision before" is ``None``. A database at
    head is left alone (running this twice is harmless). Everything happens in one transaction.

    Raises:
        ValueError: the URL is malformed.
        SchemaTooNewError: a newer codecbench upgraded the database.
        UnrecognisedSchemaError: codecbench's tables exist but are not the baseline's.
        DatabaseError: the server cannot be reached, or a revision failed (nothing was changed).
    """
    database = open_database(url, create_schema=False)
    try:
        with _connection_errors(database), _migration_connection(database) as connection:
            before = _recorded_revision(connection)
            if before is None:
                _check_legacy_tables(database, connection)
            elif before != head_revision():
                _require_known(database, before)
            try:
                _run_upgrade(connection, "head")
            except DBAPIError as error:  # e.g. a new constraint that rows already stored break
                raise DatabaseError(
                    f"upgrading the database {database.describe()} from {before or 'before migrations'} failed, "
                    f"and nothing was changed: {error}"
                ) from error
            record_schema_version(connection)
            after = _recorded_revision(connection)
        assert after is not None
        check_schema_version(database)
        return before, after
    finally:
        database.close()


def ensure_current_schema(database: Database) -> None:
    """Create the schema of a new database; refuse one whose schema is not at head.

    Called by :func:`codecbench.storage.open_database`. A database with no codecbench table is
    new: every revision runs (under the migration lock; if another process created it first,
    nothing is done twice).

    Raises:
        SchemaOutdatedError: the database is behind (run ``codecbench db upgrade``).
        SchemaTooNewError: a newer codecbench upgraded it.
    """
    head = head_revision()
    reader = database.engine.execution_options(**{READ_ONLY_OPTION: True})
    with _connection_errors(database), reader.connect() as connection:
        revision = _recorded_revision(connection)
        is_new = revision is None and not _codecbench_tables(connection)
    if revision != head and is_new:
        with _connection_errors(database), _migration_connection(database) as connection:
            revision = _recorded_revision(connection)  # again, now that this process holds the lock
            if revision is None and not _codecbench_tables(connection):
                _run_upgrade(connection, "head")
                record_schema_version(connection)
                revision = head
    if revision == head:
        check_schema_version(database)
        return
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNewError(database.url, revision, head)
    raise SchemaOutdatedError(database.url, revision, head)


def new_revision(message: str, *, url: str | None = None, autogenerate: bool = True) -> Path:
    """Write ``versions/NNNN_<message>.py`` for a change made to the models (developers only).

    With ``autogenerate``, Alembic writes the operations that turn a database at head into the
    models: the database at ``url`` (which must be at head), else a temporary SQLite file
    upgraded to head here. Review what it wrote: it cannot see renames (it writes a drop and an
    add), server defaults or CHECK constraints, and data changes are yours to write.
    """
    import re
    import tempfile

    from alembic import command

    number = len(known_revisions()) + 1
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    rev_id = f"{number:04d}_{slug}"[:32].rstrip("_")  # alembic_version.version_num is VARCHAR(32)
    with tempfile.TemporaryDirectory() as scratch:
        if url is None:
            url = f"sqlite:///{Path(scratch) / 'head.sqlite3'}"
            upgrade_database(url)
        database = open_database(url)  # refuses a database that is not at head
        try:
            with database.engine.connect() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                script = command.revision(config, message=message, autogenerate=autogenerate, rev_id=rev_id)
        finally:
            database.close()
    _script.cache_clear()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


# ------------------------------------------------------------------------------ internals


@contextmanager
def _connection_errors(database: Database) -> Iterator[None]:
    """Driver errors (unreachable server, bad credentials, a failing statement) as one DatabaseError."""
    try:
        yield
    except DBAPIError as error:
        raise DatabaseError(f"cannot use the database {database.describe()}: {error}") from error


@contextmanager
def _migration_connection(database: Database) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock; committed if the block succeeds.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: ``BEGIN IMMEDIATE`` (the engine's
    own ``begin``) takes the write lock; foreign keys are off for the block (they cannot be
    switched inside a transaction) and ``PRAGMA foreign_key_check`` must find nothing before
    it commits.
    """
    sqlite = database.dialect == "sqlite"
    turn = database.write_turns if database.write_turns is not None else nullcontext()
    with turn, database.engine.connect() as connection:
        driver_connection = connection.connection.driver_connection if sqlite else None
        if driver_connection is not None:
            driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if database.dialect == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise DatabaseError(
                            f"the migration would leave {len(broken)} rows of {database.describe()} referring to "
                            f"rows that do not exist (first: {tuple(broken[0])}); nothing was changed"
                        )
        finally:
            if driver_connection is not None:
                driver_connection.execute("PRAGMA foreign_keys=ON")


def _run_upgrade(connection: Connection, target: str) -> None:
    """Run the revisions up to ``target`` on ``connection`` (in its transaction)."""
    from alembic.runtime.environment import EnvironmentContext

    config = alembic_config()
    config.attributes["connection"] = connection
    script = _script()  # loaded once per process (what alembic.command.upgrade would load each time)
    with EnvironmentContext(config, script, fn=lambda revision, _context: script._upgrade_revs(target, revision),
                            destination_rev=target):
        script.run_env()


def _recorded_revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    heads = context.get_current_heads()
    if len(heads) > 1:  # codecbench's history is linear; several heads come from elsewhere
        raise DatabaseError(f"the database records several schema revisions ({', '.join(heads)}); "
                            "codecbench expects one")
    return heads[0] if heads else None


def _codecbench_tables(connection: Connection) -> set[str]:
    """codecbench's tables (of the baseline or of the models) that exist in the database."""
    ours = set(baseline_metadata().tables) | set(model_metadata().tables)
    return ours & set(inspect(connection).get_table_names())


def _require_known(database: Database, revision: str) -> None:
    if revision not in known_revisions():
        raise SchemaTooNewError(database.url, revision, head_revision())


def _check_legacy_tables(database: Database, connection: Connection) -> None:
    """A database with no recorded revision: either empty, or codecbench's tables as the
    baseline has them (columns checked by name; types were never changed before migrations)."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    problems = []
    for table in baseline_metadata().sorted_tables:
        if table.name not in present:
            continue
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in columns]
        if missing:
            problems.append(f"{table.name} lacks {', '.join(missing)}")
    if problems:
        raise UnrecognisedSchemaError(
            f"the database {database.describe()} has codecbench's tables but not as any codecbench made them "
            f"({'; '.join(problems)}), and records no schema revision; it is left unchanged. Use a database "
            "that only codecbench writes to, or restore it from a backup."
        )
