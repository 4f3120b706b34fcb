"""Add eval_token_streams and eval_token_summaries: token codecs' codes, entropy-coded, and
their figures per test set.

Revision ID: 0003_token_streams
Revises: 0002_scores_metric_index

Why: an evaluation of a token (neural) codec now keeps, per unit and code stream, its codes
entropy-coded (their size is the measured entropy-coded bitrate; decoded, they give the counts
every token statistic comes from, additive over units, so a resumed or distributed run adds
up), and per test set and condition the figures summed over its units, so leaderboards need
not decode a whole test set's codes to show them.

Data: new tables; no row of another table changes. Units stored before this revision have
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
        sa.Column("coded", sa.LargeBinary(), nullable=False),
        sa.Column("coder_version", sa.Integer(), nullable=False),
        sa.Column("codes_crc32", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["eval_units.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id", "stream"),
    )
    op.create_index("ix_eval_token_streams_run_id", "eval_token_streams", ["run_id"])
    op.create_index("ix_eval_token_streams_unit_id", "eval_token_streams", ["unit_id"])
    op.create_table(
        "eval_token_summaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("testset_id", sa.Integer(), nullable=False),
        sa.Column("condition_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("id_sum", sa.BigInteger(), nullable=False),
        sa.Column("latest", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["condition_id"], ["eval_conditions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["testset_id"], ["eval_testsets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("testset_id", "condition_id"),
    )
    op.create_index("ix_eval_token_summaries_condition_id", "eval_token_summaries", ["condition_id"])
    op.create_index("ix_eval_token_summaries_testset_id", "eval_token_summaries", ["testset_id"])


def downgrade() -> None:
    op.drop_index("ix_eval_token_summaries_testset_id", table_name="eval_token_summaries")
    op.drop_index("ix_eval_token_summaries_condition_id", table_name="eval_token_summaries")
    op.drop_table("eval_token_summaries")
    op.drop_index("ix_eval_token_streams_unit_id", table_name="eval_token_streams")
    op.drop_index("ix_eval_token_streams_run_id", table_name="eval_token_streams")
    op.drop_table("eval_token_streams")
