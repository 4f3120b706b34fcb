"""The database: one engine and session factory per URL, shared by every part of codecbench.

``open_database()`` turns a URL (``--db``, else ``$CODECBENCH_DB``, else a SQLite file in the
codecbench home directory) into a :class:`Database` whose schema is the one this codecbench
needs: a new database is created by the migrations (:mod:`codecbench.storage.migrations`), an
older one is refused with a message to run ``codecbench db upgrade``. Table modules (one per
part of the product: ``listening_tables``, and the evaluation engine's own) declare their rows
on :class:`codecbench.storage.base.Base` and are listed in :data:`TABLE_MODULES`; a change to
them needs a migration revision (docs/migrations.md).

Functions that touch data take a :class:`sqlalchemy.orm.Session` and never commit; the caller
owns the transaction, normally through :meth:`Database.session`::

    db = open_database()
    with db.session() as session:   # commits on success, rolls back on error
        ...

SQLite is set up for a small web server: WAL journal (readers never wait for the writer),
foreign keys enforced, a busy timeout instead of immediate "database is locked" errors, and
``BEGIN IMMEDIATE`` so a transaction takes the write lock when it starts rather than failing when
it first writes after another writer committed; ``session(read_only=True)`` starts a plain
(deferred) transaction for blocks that only read. PostgreSQL needs nothing special; a plain
``postgresql://`` URL is given the psycopg (3) driver codecbench installs.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from codecbench.paths import codecbench_home
from codecbench.storage.base import SCHEMA_VERSION, SchemaInfo, utc_now

DATABASE_ENV = "CODECBENCH_DB"
DEFAULT_DATABASE_FILE = "codecbench.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Every module that declares tables on Base; importing them registers the tables.
TABLE_MODULES = ("codecbench.storage.listening_tables", "codecbench.storage.evaluation_tables")


class DatabaseError(RuntimeError):
    """The database cannot be used as it is; the message says why and what to do."""


#: Query parameters that carry a secret (libpq's ``?password=``, ``sslpassword``, tokens).
_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "secret", "token")


def masked_url(url: str) -> str:
    """``url`` for messages and logs: the password (in the user part or the query string) and
    any other secret-looking query parameter replaced by ``***``."""
    parsed = make_url(url)
    secret = {key: "***" for key in parsed.query if any(word in key.lower() for word in _SECRET_QUERY_KEYS)}
    rendered = parsed.update_query_dict(secret).render_as_string(hide_password=True)
    return rendered.replace("=%2A%2A%2A", "=***")  # the query's *** comes out percent-encoded


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the file.

    Switching a new file to WAL needs it to itself, and SQLite answers "database is locked" at
    once instead of waiting in its busy handler: processes opening a new database together
    (app workers, a parallel evaluation) failed about one time in ten.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def default_database_url() -> str:
    """The SQLite file codecbench uses when no URL is given."""
    return f"sqlite:///{codecbench_home() / DEFAULT_DATABASE_FILE}"


def resolve_database_url(url: str | None = None) -> str:
    """``url`` if given, else ``$CODECBENCH_DB``, else :func:`default_database_url`.

    A PostgreSQL URL without a driver (``postgresql://...``) gets ``+psycopg``.

    Raises:
        ValueError: the URL cannot be parsed.
    """
    url = url or os.environ.get(DATABASE_ENV) or default_database_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            f"{url!r} is not a database URL; use e.g. sqlite:///path/to/codecbench.sqlite3 or "
            "postgresql://user:password@host/dbname"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


READ_ONLY_OPTION = "codecbench_read_only"


@dataclass(frozen=True, eq=False)
class Database:
    """An open database: its engine and the factories for its ORM sessions."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    #: SQLite: the writers of this process take turns here, in the order they came, rather than in
    #: SQLite's busy handler, which sleeps up to 100 ms between tries and so makes a writer wait
    #: long after the lock is free (a tail of hundreds of milliseconds under a crowd's load).
    write_turns: threading.RLock | None = field(default=None, repr=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql`` (or whichever backend the URL names)."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed if the block succeeds, rolled back if it raises.

        ``read_only=True`` is for blocks that only read: on SQLite they then do not take the
        write lock, so they neither wait for writers nor make writers wait.
        """
        turn = self.write_turns if self.write_turns is not None and not read_only else nullcontext()
        with turn, (self.read_sessions if read_only else self.sessions).begin() as session:
            yield session

    def describe(self) -> str:
        """The URL with any password hidden, for messages."""
        return masked_url(self.url)

    def close(self) -> None:
        self.engine.dispose()


def open_database(url: str | None = None, *, create_schema: bool = True) -> Database:
    """Connect to the database at ``url`` (see :func:`resolve_database_url`), ready for this codecbench.

    With ``create_schema`` (the default), a new database gets the schema (the migrations in
    :mod:`codecbench.storage.migrations` run to head) and an existing one must already be at
    head: a database made by an earlier codecbench is refused with
    :class:`~codecbench.storage.migrations.SchemaOutdatedError`, whose message says to run
    ``codecbench db upgrade``, rather than failing later with SQL errors about missing columns.
    ``create_schema=False`` only connects (lazily), for the migration commands themselves.

    Raises:
        ValueError: the URL is malformed.
        SchemaOutdatedError: the schema is behind this codecbench (a :class:`DatabaseError`).
        DatabaseError: the server cannot be reached, or the schema is newer than this codecbench.
    """
    url = resolve_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    read_engine = engine.execution_options(**{READ_ONLY_OPTION: True})
    database = Database(
        url=url,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        read_sessions=sessionmaker(read_engine, expire_on_commit=False),
        write_turns=threading.RLock() if parsed.get_backend_name() == "sqlite" else None,
    )
    if create_schema:
        try:
            ensure_schema(database)
        except DatabaseError:
            database.close()
            raise
        except Exception as error:  # driver errors: unreachable server, bad credentials, ...
            database.close()
            raise DatabaseError(f"cannot use the database {database.describe()}: {error}") from error
    return database


def ensure_schema(database: Database) -> None:
    """Create the schema of a new database (by running the migrations), or check that an existing
    one is at the revision this codecbench needs; record the schema version.

    Raises:
        SchemaOutdatedError: the database is behind; the message says to run ``codecbench db upgrade``.
        SchemaTooNewError: a newer codecbench upgraded the database.
        DatabaseError: the database was written by a newer codecbench (its schema version is higher).
    """
    from codecbench.storage.migrations import ensure_current_schema

    ensure_current_schema(database)


def record_schema_version(connection: Connection) -> None:
    """Add the ``codecbench_schema`` row to a database that has none (in the caller's transaction,
    under the migration lock, so that two processes creating one database add one row)."""
    if connection.execute(select(SchemaInfo.id)).first() is None:
        connection.execute(insert(SchemaInfo).values(version=SCHEMA_VERSION, created_at=utc_now()))


def check_schema_version(database: Database) -> None:
    """Refuse a database whose ``codecbench_schema`` version is higher than this codecbench's.

    The version is what a codecbench from before migrations checks (it knows no Alembic
    revisions): a revision that such a codecbench could not work with raises
    :data:`~codecbench.storage.base.SCHEMA_VERSION` and updates the row.

    Raises:
        DatabaseError: the database was written by a newer codecbench (its schema version is higher).
    """
    with database.session(read_only=True) as session:
        version = session.scalar(select(func.max(SchemaInfo.version)))
    if version is not None and version > SCHEMA_VERSION:
        raise DatabaseError(
            f"the database {database.describe()} has schema version {version}, newer than "
            f"this codecbench understands ({SCHEMA_VERSION}); upgrade codecbench."
        )


def table_names(database: Database) -> list[str]:
    """Tables present in the database (for checks and diagnostics)."""
    return sorted(inspect(database.engine).get_table_names())


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; durable up to the last checkpoint
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
