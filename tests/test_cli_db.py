"""`codecbench db upgrade` and `db current`: thin wrappers over codecbench.storage.migrations.

Skipped until the migrations module is in the tree (it is written beside this command).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from codecbench.cli import main

migrations = pytest.importorskip("codecbench.storage.migrations")


def test_upgrade_brings_a_new_database_to_the_head_and_is_then_a_no_op(tmp_path):
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    runner = CliRunner()
    head = migrations.head_revision()

    before = runner.invoke(main, ["db", "current", "--db", db])
    assert before.exit_code == 1, before.output  # an empty database is behind: an upgrade is due
    assert f"head revision: {head}" in before.stdout and "behind: run `codecbench db upgrade`" in before.stdout

    first = runner.invoke(main, ["db", "upgrade", "--db", db])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().endswith(f"to {head}.") or f"already at revision {head}" in first.stdout
    assert migrations.current_revision(db) == head

    again = runner.invoke(main, ["db", "upgrade", "--db", db])
    assert again.exit_code == 0 and f"already at revision {head}; nothing to do." in again.stdout

    current = runner.invoke(main, ["db", "current", "--db", db])
    assert current.exit_code == 0
    assert f"current revision: {head}" in current.stdout and "up to date." in current.stdout


def test_a_database_upgraded_by_a_newer_codecbench_is_reported_ahead_not_behind(tmp_path):
    import sqlite3

    db_file = tmp_path / "db.sqlite3"
    db = f"sqlite:///{db_file}"
    assert CliRunner().invoke(main, ["db", "upgrade", "--db", db]).exit_code == 0
    with sqlite3.connect(db_file) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    result = CliRunner().invoke(main, ["db", "current", "--db", db])
    assert result.exit_code == 1
    assert "ahead: a newer codecbench upgraded it" in result.stdout and "behind" not in result.stdout


@pytest.mark.parametrize("url", [
    "postgresql://user:s3cret@localhost/codecbench",
    "postgresql://user@localhost/codecbench?password=s3cret&sslmode=require",
])
def test_the_password_of_a_database_url_is_never_printed(url, monkeypatch):
    monkeypatch.setattr(migrations, "current_revision", lambda url: None, raising=False)
    result = CliRunner().invoke(main, ["db", "current", "--db", url])
    assert "s3cret" not in result.output
    assert "***" in result.output
