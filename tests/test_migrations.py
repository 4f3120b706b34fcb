"""Schema migrations (Alembic) on SQLite and on a real PostgreSQL server: a database made at an
earlier schema, full of scores and MUSHRA ratings, is upgraded and keeps every row."""

from __future__ import annotations

import threading
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import String, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex, CreateTable

from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.progress import ProgressCounter
from codecbench.evaluation.results import export_scores
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.listening_test.ratings import load_ratings
from codecbench.storage import DatabaseError, open_database
from codecbench.storage.base import SchemaInfo
from codecbench.storage.listening_tables import ListeningTestRow
from codecbench.storage.migrations import (
    BASELINE_REVISION,
    MIGRATIONS_DIR,
    SchemaOutdatedError,
    SchemaTooNewError,
    UnrecognisedSchemaError,
    _migration_connection,
    _run_upgrade,
    _script,
    baseline_metadata,
    current_revision,
    head_revision,
    known_revisions,
    migration_context_options,
    model_metadata,
    upgrade_database,
)
from tests import mushra_helpers as mushra
from tests.corpora import make_folder

REVISION_3_TABLES = ("eval_token_streams", "eval_token_summaries")
REVISION_2_INDEX = "ix_eval_scores_metric_protocol"
# Tables a codecbench from before migrations added with create_all in a later release: a database
# made before them lacks them (the fill below, today's code, does not write these two).
LATER_TABLES = ("mushra_headphone_checks", "mushra_participant_answers")


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "home"))


# ---------------------------------------------------------------------------------- helpers


def schema_differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the database match the models."""
    database = open_database(url, create_schema=False)
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts=migration_context_options())
            return compare_metadata(context, model_metadata())
    finally:
        database.close()


def build_at_revision(url: str, revision: str) -> None:
    """A database as a codecbench whose head was ``revision`` made it."""
    database = open_database(url, create_schema=False)
    try:
        with _migration_connection(database) as connection:
            _run_upgrade(connection, revision)
        with database.session() as session:
            session.add(SchemaInfo(version=1))
    finally:
        database.close()


def build_like_codecbench_before_migrations(url: str, *, without: tuple[str, ...] = ()) -> None:
    """What an earlier codecbench made: ``create_all`` of its models (today's, without revision
    2's index and revision 3's tables), with no ``alembic_version``; ``without``: tables it did
    not know yet."""
    database = open_database(url, create_schema=False)
    try:
        metadata = model_metadata()
        tables = [table for table in metadata.sorted_tables if table.name not in (*without, *REVISION_3_TABLES)]
        metadata.create_all(database.engine, tables=tables)
        with database.engine.begin() as connection:
            connection.execute(text(f"DROP INDEX {REVISION_2_INDEX}"))
        with database.session() as session:
            session.add(SchemaInfo(version=1))
    finally:
        database.close()


def fill(url: str, tmp_path: Path) -> None:
    """Scores and MUSHRA ratings, written by the library's own functions as codecbench runs them.

    Today's library also reads and writes revision 3's token tables: they are there while it
    writes (no token codec runs, so they stay empty) and dropped after, as an older codecbench
    would have left the database."""
    database = open_database(url, create_schema=False)
    later = [model_metadata().tables[name] for name in REVISION_3_TABLES]
    model_metadata().create_all(database.engine, tables=later)
    try:
        clips = tmp_path / "clips"
        make_folder(clips, 2)
        (clips / "broken.wav").write_bytes(b"RIFF but not audio")  # a unit that fails: error + requests
        request = EvaluationRequest(
            testsets=(parse_testset_spec(f"mini=folder:{clips}"),),
            conditions=(Condition("opus", 6.0), Condition("lowpass_3500")),
            scoring=ScoringConfig(("sisnr",)),
        )
        with LocalExecutor(1, batch_size=2) as executor:
            run_evaluation(database, plan_evaluation(request), executor, ProgressCounter())

        test = mushra.store(database, mushra.prepare(mushra.write_test_files(tmp_path / "mushra", num_items=2)))
        for worker, score in (("w1", 40.0), ("w2", 65.5)):
            view = mushra.start(database, test, PROLIFIC_PID=worker)
            mushra.complete(database, view, rate=lambda condition, score=score: score)
    finally:
        model_metadata().drop_all(database.engine, tables=later)
        database.close()


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every baseline table, in primary-key order."""
    database = open_database(url, create_schema=False)
    try:
        rows = {}
        with database.engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            for table in baseline_metadata().sorted_tables:
                if table.name in present:
                    order = list(table.primary_key.columns)
                    rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
        return rows
    finally:
        database.close()


def assert_filled(rows: dict[str, list[tuple]]) -> None:
    """The data that matters is there: scores, a failed unit with its requests, ratings."""
    for table in ("eval_runs", "eval_units", "eval_scores", "eval_unit_requests", "mushra_tests",
                  "mushra_participants", "mushra_sessions", "mushra_trials", "mushra_ratings", "mushra_play_events",
                  "mushra_stimulus_audio"):
        assert rows[table], f"{table} is empty: the test would prove nothing"


# -------------------------------------------------------------------------------- the tests


def test_the_revisions_are_a_line_from_the_baseline_to_head():
    revisions = known_revisions()
    assert revisions[0] == BASELINE_REVISION and revisions[-1] == head_revision() == "0003_token_streams"


def test_a_new_database_is_created_by_the_migrations_and_equals_the_models(database_url):
    database = open_database(database_url)
    database.close()
    assert current_revision(database_url) == head_revision()
    assert schema_differences(database_url) == []
    assert upgrade_database(database_url) == (head_revision(), head_revision())


def ddl_lines(statement, dialect) -> list[str]:
    """The lines of a CREATE statement in any order (columns and constraints may come in another)."""
    return sorted(line.strip().rstrip(",") for line in str(statement.compile(dialect=dialect)).splitlines())


def test_the_baseline_is_the_schema_create_all_made_before_migrations():
    """Revision 1's tables, compiled for SQLite and PostgreSQL, are the models' (whose only changes
    since are revision 2's index and revision 3's tables)."""
    from sqlalchemy.dialects import postgresql, sqlite

    models, baseline = model_metadata(), baseline_metadata()
    assert set(models.tables) == set(baseline.tables) | set(REVISION_3_TABLES)
    for dialect in (sqlite.dialect(), postgresql.psycopg.dialect()):
        for name, table in baseline.tables.items():
            model = models.tables[name]
            assert ddl_lines(CreateTable(table), dialect) == ddl_lines(CreateTable(model), dialect), name
            model_indexes = {str(CreateIndex(index).compile(dialect=dialect)) for index in model.indexes
                             if index.name != REVISION_2_INDEX}
            assert {str(CreateIndex(index).compile(dialect=dialect)) for index in table.indexes} == model_indexes


def test_a_database_at_revision_1_with_data_is_refused_then_upgraded_without_losing_a_row(database_url, tmp_path):
    build_at_revision(database_url, BASELINE_REVISION)
    fill(database_url, tmp_path)
    before = snapshot(database_url)
    assert_filled(before)

    with pytest.raises(SchemaOutdatedError) as refused:
        open_database(database_url)
    message = str(refused.value)
    assert f"has schema revision {BASELINE_REVISION}" in message
    assert f"codecbench db upgrade --db {make_url(database_url).render_as_string(hide_password=True)}" in message

    assert upgrade_database(database_url) == (BASELINE_REVISION, head_revision())
    assert snapshot(database_url) == before
    assert schema_differences(database_url) == []
    assert current_revision(database_url) == head_revision()
    assert upgrade_database(database_url) == (head_revision(), head_revision())  # idempotent
    assert snapshot(database_url) == before

    database = open_database(database_url)  # and the library reads it as before
    try:
        with database.session(read_only=True) as session:
            exported = export_scores(session)
            assert len(exported[exported["metric"] == "sisnr"]) == 4
            ratings = load_ratings(session, session.scalars(select(ListeningTestRow.id)).one())
            assert sorted(set(ratings["rating"])) == [40.0, 65.5]
            assert session.scalar(select(func.count()).select_from(SchemaInfo)) == 1
    finally:
        database.close()


def test_a_database_from_before_migrations_is_recognised_stamped_and_upgraded(database_url, tmp_path):
    """No alembic_version, and some tables that codecbench only added later are missing."""
    build_like_codecbench_before_migrations(database_url, without=LATER_TABLES)
    fill(database_url, tmp_path)
    before = snapshot(database_url)
    assert_filled(before)

    assert current_revision(database_url) is None
    with pytest.raises(SchemaOutdatedError, match="from before codecbench had migrations.*codecbench db upgrade --db"):
        open_database(database_url)

    assert upgrade_database(database_url) == (None, head_revision())
    after = snapshot(database_url)
    assert {name: rows for name, rows in after.items() if name not in LATER_TABLES} == before
    assert all(after[name] == [] for name in LATER_TABLES)
    assert schema_differences(database_url) == []
    assert current_revision(database_url) == head_revision()
    assert upgrade_database(database_url) == (head_revision(), head_revision())
    open_database(database_url).close()


def test_tables_that_are_not_the_baselines_are_refused_and_left_unchanged(database_url):
    database = open_database(database_url, create_schema=False)
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE eval_runs (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
    database.close()
    with pytest.raises(UnrecognisedSchemaError, match="eval_runs lacks codecbench_version, settings_json"):
        upgrade_database(database_url)
    database = open_database(database_url, create_schema=False)
    with database.engine.connect() as connection:
        assert inspect(connection).get_table_names() == ["eval_runs"]
    database.close()


def test_a_database_from_a_newer_codecbench_is_refused_with_its_own_message(database_url):
    open_database(database_url).close()
    database = open_database(database_url, create_schema=False)
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    database.close()
    with pytest.raises(SchemaTooNewError, match="revision 0099_from_the_future, which this codecbench does not know.*"
                                                "Upgrade codecbench"):
        open_database(database_url)
    with pytest.raises(SchemaTooNewError):
        upgrade_database(database_url)
    assert current_revision(database_url) == "0099_from_the_future"


def test_the_upgrade_command_in_the_message_hides_the_password(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite URLs have no password")
    with_password = make_url(database_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    build_at_revision(with_password, BASELINE_REVISION)  # the test server trusts any password
    with pytest.raises(SchemaOutdatedError) as refused:
        open_database(with_password)
    assert "s3cret" not in str(refused.value)
    assert "codecbench db upgrade --db 'postgresql+psycopg://codecbench:***@" in str(refused.value)


def test_processes_opening_a_new_database_at_once_create_it_once(database_url):
    errors, barrier = [], threading.Barrier(4)

    def open_it() -> None:
        try:
            barrier.wait()
            open_database(database_url).close()
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    database = open_database(database_url)
    with database.session(read_only=True) as session:
        assert session.scalar(select(func.count()).select_from(SchemaInfo)) == 1
        assert session.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    database.close()


def test_a_sqlite_table_copy_keeps_the_rows_of_tables_that_refer_to_it(tmp_path):
    """SQLite alters most things by copying the table (render_as_batch). Dropping the old copy of
    eval_units with foreign keys on would delete every score (ON DELETE CASCADE); the migration
    connection switches them off, checks them before committing, and switches them back on."""
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    build_at_revision(url, "head")
    fill(url, tmp_path)
    before = snapshot(url)
    database = open_database(url)
    with _migration_connection(database) as connection:
        context = MigrationContext.configure(connection, opts=migration_context_options())
        with Operations(context).batch_alter_table("eval_units", recreate="always") as batch:
            batch.alter_column("audio_path", existing_type=String(2000), nullable=True)
    assert snapshot(url) == before
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.close()


def test_every_migration_file_is_package_data():
    """A wheel (not an editable install) must carry env.py, the template and every revision."""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["codecbench"]
    package_root = MIGRATIONS_DIR.parents[1]
    files = [path for path in MIGRATIONS_DIR.rglob("*") if path.is_file() and "__pycache__" not in path.parts]
    assert {"env.py", "script.py.mako", "0001_baseline.py"} <= {path.name for path in files}
    for path in files:
        relative = path.relative_to(package_root).as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), f"{relative} would be missing from a wheel"


def test_a_failed_upgrade_changes_nothing(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    build_at_revision(url, BASELINE_REVISION)
    revision_2 = _script().get_revision("0002_scores_metric_index")

    def broken_upgrade() -> None:
        revision_2.module.op.create_index(REVISION_2_INDEX, "eval_scores", ["metric", "protocol"])
        raise RuntimeError("revision failed half-way")

    monkeypatch.setattr(revision_2.module, "upgrade", broken_upgrade)
    with pytest.raises(RuntimeError, match="half-way"):
        upgrade_database(url)
    assert current_revision(url) == BASELINE_REVISION
    database = open_database(url, create_schema=False)
    with database.engine.connect() as connection:
        assert REVISION_2_INDEX not in {index["name"] for index in inspect(connection).get_indexes("eval_scores")}
    database.close()


def test_an_unreachable_server_gives_one_clear_error():
    from tests.browser import free_port

    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none"
    for call in (upgrade_database, current_revision):
        with pytest.raises(DatabaseError, match="cannot use the database postgresql") as raised:
            call(url)
        assert "secret" not in str(raised.value)


def test_commands_and_the_app_refuse_an_outdated_database_with_the_upgrade_command(tmp_path):
    """What a user sees: the CLI prints the message (no traceback); the app does not start."""
    from click.testing import CliRunner

    from codecbench.app import AppSettings
    from codecbench.app.server import build_server
    from codecbench.cli import main

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    build_like_codecbench_before_migrations(url)
    result = CliRunner().invoke(main, ["mushra", "list", "--db", url])
    assert result.exit_code == 1
    assert f"Error: the database {url} has a schema from before codecbench had migrations" in result.output
    assert f"run: codecbench db upgrade --db {url}" in " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)

    with pytest.raises(SchemaOutdatedError):
        build_server(AppSettings(database_url=url, work_dir=tmp_path / "work"), "http://127.0.0.1:1/")

    upgrade_database(url)
    result = CliRunner().invoke(main, ["mushra", "list", "--db", url])
    assert result.exit_code == 0, result.output


def test_a_revision_failing_in_the_database_says_so_and_changes_nothing(database_url, monkeypatch):
    """A statement the database refuses (here: a unique index that stored rows break)."""
    build_at_revision(database_url, BASELINE_REVISION)
    database = open_database(database_url, create_schema=False)
    with database.session() as session:
        session.add_all([SchemaInfo(version=1), SchemaInfo(version=1)])  # now three rows of version 1
    database.close()
    revision_2 = _script().get_revision("0002_scores_metric_index")

    def breaks_on_stored_rows() -> None:
        revision_2.module.op.create_index(REVISION_2_INDEX, "eval_scores", ["metric", "protocol"])
        revision_2.module.op.create_index("ix_one_version", "codecbench_schema", ["version"], unique=True)

    monkeypatch.setattr(revision_2.module, "upgrade", breaks_on_stored_rows)
    with pytest.raises(DatabaseError, match=f"from {BASELINE_REVISION} failed, and nothing was changed"):
        upgrade_database(database_url)
    assert current_revision(database_url) == BASELINE_REVISION
    database = open_database(database_url, create_schema=False)
    with database.engine.connect() as connection:
        assert REVISION_2_INDEX not in {index["name"] for index in inspect(connection).get_indexes("eval_scores")}
    database.close()
