"""The declarative base every codecbench table is declared on, and the schema version row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Raise when a table or column changes in a way an older codecbench could not read (in the migration
# revision that makes the change, which also updates the row): codecbench from before migrations
# knows no Alembic revisions and refuses a database whose version is higher than its own.
SCHEMA_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Base class of all codecbench tables (SQLAlchemy 2 declarative style)."""


class SchemaInfo(Base):
    """One row: the schema version the database was created with."""

    __tablename__ = "codecbench_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
