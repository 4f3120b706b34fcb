"""The storage layer on SQLite and on a real PostgreSQL server started by the test run."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from codecbench.storage import DatabaseError, open_database, resolve_database_url
from codecbench.storage.base import SCHEMA_VERSION, SchemaInfo
from codecbench.storage.db import table_names
from codecbench.storage.listening_tables import ItemRow, ListeningTestRow

LISTENING_TABLES = {
    "mushra_tests", "mushra_items", "mushra_conditions", "mushra_stimuli", "mushra_stimulus_audio",
    "mushra_participants", "mushra_sessions", "mushra_trials", "mushra_trial_stimuli", "mushra_ratings",
    "mushra_play_events",
}


def _test_row(name: str = "t") -> ListeningTestRow:
    return ListeningTestRow(name=name, spec_yaml="name: t", settings_json="{}")


def test_open_creates_every_table_and_records_the_schema_version(database):
    assert LISTENING_TABLES | {"codecbench_schema"} <= set(table_names(database))
    with database.session() as session:
        assert [row.version for row in session.scalars(select(SchemaInfo))] == [SCHEMA_VERSION]


def test_reopening_keeps_the_data_and_adds_no_second_version_row(database_url):
    first = open_database(database_url)
    with first.session() as session:
        session.add(_test_row("kept"))
    first.close()
    again = open_database(database_url)
    with again.session() as session:
        assert session.scalars(select(ListeningTestRow.name)).all() == ["kept"]
        assert len(session.scalars(select(SchemaInfo)).all()) == 1
    again.close()


def test_a_failing_block_rolls_back_everything_it_wrote(database):
    with pytest.raises(RuntimeError):
        with database.session() as session:
            session.add(_test_row("lost"))
            session.flush()
            raise RuntimeError("boom")
    with database.session() as session:
        assert session.scalars(select(ListeningTestRow)).all() == []


def test_foreign_keys_are_enforced(database):
    with pytest.raises(IntegrityError):
        with database.session() as session:
            session.add(ItemRow(test_id=12345, position=0, name="x", source="x", source_sha256="0" * 64,
                                sample_rate_hz=16000, num_samples=1))


def test_unique_link_tokens_are_enforced(database):
    with pytest.raises(IntegrityError):
        with database.session() as session:
            session.add_all([_test_row("a"), _test_row("b")])
            session.flush()
            tokens = session.scalars(select(ListeningTestRow)).all()
            tokens[1].link_token = tokens[0].link_token


def test_concurrent_writers_all_succeed(database):
    """Eight threads writing at once: SQLite waits for its lock (BEGIN IMMEDIATE, busy timeout)."""
    errors = []

    def write(worker: int) -> None:
        try:
            for index in range(15):
                with database.session() as session:
                    count = session.scalar(select(text("count(*)")).select_from(ListeningTestRow))
                    session.add(_test_row(f"w{worker}-{index}-{count}"))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.session() as session:
        assert len(session.scalars(select(ListeningTestRow)).all()) == 8 * 15


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    database.close()


def test_a_database_from_a_newer_codecbench_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    database = open_database(url)
    with database.session() as session:
        session.scalars(select(SchemaInfo)).one().version = SCHEMA_VERSION + 1
    database.close()
    with pytest.raises(DatabaseError, match="newer than this codecbench"):
        open_database(url)


def test_default_url_is_a_sqlite_file_in_the_codecbench_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CODECBENCH_DB", raising=False)
    assert resolve_database_url() == f"sqlite:///{tmp_path / 'home' / 'codecbench.sqlite3'}"
    monkeypatch.setenv("CODECBENCH_DB", f"sqlite:///{tmp_path / 'env.sqlite3'}")
    assert resolve_database_url() == f"sqlite:///{tmp_path / 'env.sqlite3'}"
    assert resolve_database_url("sqlite:///given.sqlite3") == "sqlite:///given.sqlite3"


def test_plain_postgresql_urls_get_the_psycopg_driver():
    assert resolve_database_url("postgresql://u:p@db.example/x") == "postgresql+psycopg://u:p@db.example/x"
    assert resolve_database_url("postgres://u@h/x") == "postgresql+psycopg://u@h/x"


def test_a_malformed_url_says_what_a_url_looks_like():
    with pytest.raises(ValueError, match="not a database URL"):
        resolve_database_url("not a url")


def test_an_unreachable_server_gives_one_clear_error():
    from tests.browser import free_port

    with pytest.raises(DatabaseError, match="cannot use the database postgresql") as raised:
        open_database(f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none")
    assert "secret" not in str(raised.value)


def test_a_read_only_session_does_not_wait_for_a_writer(database):
    """On SQLite a reader starts a deferred transaction; with WAL it reads while a writer holds the lock."""
    with database.session() as session:
        session.add(_test_row("committed"))
    with database.session() as writer:
        writer.add(_test_row("pending"))
        writer.flush()  # the writer now holds the write lock
        done = threading.Event()
        names = []

        def read() -> None:
            with database.session(read_only=True) as reader:
                names.extend(reader.scalars(select(ListeningTestRow.name)))
            done.set()

        threading.Thread(target=read).start()
        assert done.wait(timeout=5), "the reader waited for the writer"
    assert names == ["committed"]
