"""SQL storage shared by the evaluation engine and listening tests (SQLAlchemy 2).

``db.py`` opens databases; ``base.py`` holds the declarative base; each part of the product
declares its tables in its own module (``listening_tables.py``, ...) listed in
``db.TABLE_MODULES``.
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

__all__ = [
    "DATABASE_ENV",
    "Base",
    "Database",
    "DatabaseError",
    "default_database_url",
    "open_database",
    "resolve_database_url",
]
