"""SQL storage shared by the evaluation engine and listening tests (SQLAlchemy 2).

``db.py`` opens databases; ``base.py`` holds the declarative base; each part of the product
declares its tables in its own module (``listening_tables.py``, ...) listed in
``db.TABLE_MODULES``. ``migrations/`` holds the schema's Alembic revisions and the functions
that create and upgrade databases with them (``codecbench db upgrade``).
"""

from codecbench.storage.base import Base
from codecbench.storage.db import (
    DATABASE_ENV,
    Database,
    DatabaseError,
    default_database_url,
    open_database,
    resolve_database_url,
)
from codecbench.storage.migrations import (
    SchemaOutdatedError,
    SchemaTooNewError,
    current_revision,
    head_revision,
    upgrade_database,
)

__all__ = [
    "DATABASE_ENV",
    "Base",
    "Database",
    "DatabaseError",
    "SchemaOutdatedError",
    "SchemaTooNewError",
    "current_revision",
    "default_database_url",
    "head_revision",
    "open_database",
    "resolve_database_url",
    "upgrade_database",
]
