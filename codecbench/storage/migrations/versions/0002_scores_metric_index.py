"""Index eval_scores on (metric, protocol): the leaderboard and export read scores by metric.

Revision ID: 0002_scores_metric_index
Revises: 0001_baseline

Why: every Leaderboard page load and ``codecbench leaderboard``/``export`` first lists the stored
(metric, protocol) pairs (``SELECT DISTINCT metric, protocol FROM eval_scores``), then loads one
board's scores (``WHERE metric = ? AND protocol = ?``). ``eval_scores`` is the largest table (one
row per utterance x condition x metric: a LibriSpeech test-clean run of 10 conditions with 6
metrics is about 157,000 rows, a team's shared board millions), and its only indexes were on
``unit_id`` (with the unique (unit_id, metric, protocol)) and ``run_id``, so both queries read
the whole table, wide text columns (``error``, ``implementation``) included. With this index
the DISTINCT reads the narrow index instead, and a board reads only its own metric's rows.

Data: an index only; no row is rewritten, so nothing can be lost. An older codecbench (with
its ``create_all``) still reads and writes a database at this revision, so
``codecbench_schema.version`` stays 1.
"""

from __future__ import annotations

from alembic import op

revision = "0002_scores_metric_index"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_eval_scores_metric_protocol", "eval_scores", ["metric", "protocol"])


def downgrade() -> None:
    op.drop_index("ix_eval_scores_metric_protocol", table_name="eval_scores")
