"""Add eval_token_streams: token counts and entropy-coded sizes of token codecs' units.

Revision ID: 0003_token_streams
Revises: 0002_scores_metric_index

Why: an evaluation of a token (neural) codec now keeps, per unit and code stream, the counts
its token statistics are computed from (codebook use, entropies) and the size of its codes
once entropy-coded, so the leaderboard can show them per test set and a resumed or distributed
run adds up (counts are additive).

Data: a new table; no row of another table changes. Units stored before this revision have
no token rows: the next ``codecbench evaluate`` over them transcodes them again (without
scoring them again) to fill them in. An older codecbench ignores the table, so
``codecbench_schema.version`` stays 1.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_token_streams"
down_revision = "0002_scores_metric_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_token_streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("num_codebooks", sa.Integer(), nullable=False),
        sa.Column("codebook_size", sa.Integer(), nullable=False),
        sa.Column("num_frames", sa.Integer(), nullable=False),
        sa.Column("bits_per_token", sa.Integer(), nullable=False),
        sa.Column("frame_rate_hz", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("coded_bits", sa.Integer(), nullable=False),
        sa.Column("model_bits", sa.Float(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["eval_units.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id", "stream"),
    )
    op.create_index("ix_eval_token_streams_run_id", "eval_token_streams", ["run_id"])
    op.create_index("ix_eval_token_streams_unit_id", "eval_token_streams", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_eval_token_streams_unit_id", table_name="eval_token_streams")
    op.drop_index("ix_eval_token_streams_run_id", table_name="eval_token_streams")
    op.drop_table("eval_token_streams")
