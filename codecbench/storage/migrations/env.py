"""Alembic's environment for codecbench: run by :mod:`codecbench.storage.migrations`, not by hand.

The connection comes from ``config.attributes["connection"]``: the caller opened it, took the
migration lock and began the transaction (see ``migrations._migration_connection``), so every
revision of one upgrade commits together or not at all. ``render_as_batch`` makes ALTERs work on
SQLite (which cannot alter most things in place: the table is copied, with foreign keys off).
"""

from __future__ import annotations

from alembic import context

from codecbench.storage.migrations import migration_context_options, model_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "codecbench's migrations run through codecbench.storage.migrations (codecbench db upgrade), "
        "not the alembic command line"
    )
context.configure(connection=connection, target_metadata=model_metadata(), **migration_context_options())
with context.begin_transaction():
    context.run_migrations()
