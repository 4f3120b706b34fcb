"""Reading an evaluation's SQLite file from a test while (or after) a run writes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def count(path: Path, query: str) -> int:
    """The first column of ``query``'s first row; 0 while the file or its schema is not there yet."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=10) as connection:
            return connection.execute(query).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def stored_rows(path: Path) -> dict[int, tuple]:
    """Every stored unit with its scores as stored (ids, values and times)."""
    with sqlite3.connect(path) as connection:
        units = {unit_id: (created,) for unit_id, created in connection.execute("SELECT id, created_at FROM eval_units")}
        for unit_id, score_id, metric, value, created in connection.execute(
            "SELECT unit_id, id, metric, value, created_at FROM eval_scores ORDER BY id"
        ):
            units[unit_id] += ((score_id, metric, value, created),)
    return units


DUPLICATE_SCORES = ("SELECT count(*) FROM (SELECT unit_id, metric, protocol FROM eval_scores "
                    "GROUP BY 1, 2, 3 HAVING count(*) > 1)")
