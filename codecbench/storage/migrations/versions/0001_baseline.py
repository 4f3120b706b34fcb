"""Baseline: the schema codecbench created with ``Base.metadata.create_all`` before it had migrations.

Revision ID: 0001_baseline
Revises: (none)

The tables are written out here as they were at this revision, in their own ``MetaData``, and
never change: later revisions alter the database, and the models in ``codecbench/storage`` move
on with them. The same definitions let :mod:`codecbench.storage.migrations` recognise a
database an earlier codecbench made (every table here that it has must have these columns).

``upgrade()`` creates only the tables that are missing. On an empty database that is all of
them; on a database made by an earlier codecbench it is the tables that codecbench did not yet
know (``create_all`` added tables over time, never columns), exactly what that codecbench's next
start would have done.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

BASELINE = sa.MetaData()

sa.Table(
    "codecbench_schema",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "eval_conditions",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("codec", sa.String(length=200), nullable=False),
    sa.Column("operating_point", sa.String(length=100), nullable=False),
    sa.Column("nominal_kbps", sa.Float(), nullable=True),
    sa.Column("tokens_per_second", sa.Float(), nullable=True),
    sa.Column("checkpoint", sa.String(length=500), nullable=False),
    sa.Column("implementation", sa.String(length=500), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("codec", "operating_point", "checkpoint"),
)
sa.Table(
    "eval_runs",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("codecbench_version", sa.String(length=64), nullable=False),
    sa.Column("settings_json", sa.Text(), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id"),
)
sa.Table(
    "eval_testsets",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("kind", sa.String(length=64), nullable=False),
    sa.Column("root", sa.String(length=2000), nullable=False),
    sa.Column("total_utterances", sa.Integer(), nullable=False),
    sa.Column("skipped_utterances", sa.Integer(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name"),
)
sa.Table(
    "mushra_tests",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("link_token", sa.String(length=64), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("spec_yaml", sa.Text(), nullable=False),
    sa.Column("settings_json", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("link_token"),
)
sa.Table(
    "eval_utterances",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("testset_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=500), nullable=False),
    sa.Column("source_json", sa.Text(), nullable=True),
    sa.Column("location", sa.String(length=2000), nullable=False),
    sa.Column("speaker", sa.String(length=200), nullable=True),
    sa.Column("language", sa.String(length=16), nullable=True),
    sa.Column("text", sa.Text(), nullable=True),
    sa.Column("sample_rate_hz", sa.Integer(), nullable=True),
    sa.Column("duration_s", sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(["testset_id"], ["eval_testsets.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("testset_id", "name"),
    sa.Index("ix_eval_utterances_testset_id", "testset_id"),
)
sa.Table(
    "mushra_conditions",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("test_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("rated", sa.Boolean(), nullable=False),
    sa.Column("definition_json", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["test_id"], ["mushra_tests.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("test_id", "name"),
    sa.Index("ix_mushra_conditions_test_id", "test_id"),
)
sa.Table(
    "mushra_items",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("test_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("source", sa.String(length=2000), nullable=False),
    sa.Column("source_sha256", sa.String(length=64), nullable=False),
    sa.Column("sample_rate_hz", sa.Integer(), nullable=False),
    sa.Column("num_samples", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["test_id"], ["mushra_tests.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("test_id", "name"),
    sa.Index("ix_mushra_items_test_id", "test_id"),
)
sa.Table(
    "mushra_participants",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("test_id", sa.Integer(), nullable=False),
    sa.Column("external_id", sa.String(length=200), nullable=True),
    sa.Column("link_params_json", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["test_id"], ["mushra_tests.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("test_id", "external_id"),
    sa.Index("ix_mushra_participants_test_id", "test_id"),
)
sa.Table(
    "eval_unit_leases",
    BASELINE,
    sa.Column("condition_id", sa.Integer(), nullable=False),
    sa.Column("utterance_id", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("host", sa.String(length=255), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["condition_id"], ["eval_conditions.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["utterance_id"], ["eval_utterances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("condition_id", "utterance_id"),
    sa.Index("ix_eval_unit_leases_run_id", "run_id"),
)
sa.Table(
    "eval_units",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("condition_id", sa.Integer(), nullable=False),
    sa.Column("utterance_id", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("failure_stage", sa.String(length=16), nullable=True),
    sa.Column("measured_kbps", sa.Float(), nullable=True),
    sa.Column("side_info_bits", sa.Integer(), nullable=True),
    sa.Column("delay_samples", sa.Integer(), nullable=True),
    sa.Column("processing_s", sa.Float(), nullable=True),
    sa.Column("audio_path", sa.String(length=2000), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["condition_id"], ["eval_conditions.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["utterance_id"], ["eval_utterances.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("condition_id", "utterance_id"),
    sa.Index("ix_eval_units_condition_id", "condition_id"),
    sa.Index("ix_eval_units_run_id", "run_id"),
    sa.Index("ix_eval_units_utterance_id", "utterance_id"),
)
sa.Table(
    "mushra_sessions",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("participant_id", sa.Integer(), nullable=False),
    sa.Column("token", sa.String(length=64), nullable=False),
    sa.Column("stage", sa.String(length=16), nullable=False),
    sa.Column("completion_code", sa.String(length=64), nullable=False),
    sa.Column("user_agent", sa.String(length=400), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["participant_id"], ["mushra_participants.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("participant_id"),
    sa.UniqueConstraint("token"),
)
sa.Table(
    "mushra_stimuli",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("item_id", sa.Integer(), nullable=False),
    sa.Column("condition_id", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("sample_rate_hz", sa.Integer(), nullable=False),
    sa.Column("num_samples", sa.Integer(), nullable=False),
    sa.Column("checks_json", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["condition_id"], ["mushra_conditions.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["item_id"], ["mushra_items.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("item_id", "condition_id"),
    sa.Index("ix_mushra_stimuli_condition_id", "condition_id"),
    sa.Index("ix_mushra_stimuli_item_id", "item_id"),
)
sa.Table(
    "eval_scores",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("metric", sa.String(length=64), nullable=False),
    sa.Column("protocol", sa.String(length=64), nullable=False),
    sa.Column("value", sa.Float(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("implementation", sa.String(length=500), nullable=False),
    sa.Column("delay_samples", sa.Integer(), nullable=True),
    sa.Column("gain_db", sa.Float(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["unit_id"], ["eval_units.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("unit_id", "metric", "protocol"),
    sa.Index("ix_eval_scores_run_id", "run_id"),
    sa.Index("ix_eval_scores_unit_id", "unit_id"),
)
sa.Table(
    "eval_unit_requests",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("unit_id", sa.Integer(), nullable=False),
    sa.Column("metric", sa.String(length=64), nullable=False),
    sa.Column("protocol", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(["unit_id"], ["eval_units.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("unit_id", "metric", "protocol"),
    sa.Index("ix_eval_unit_requests_unit_id", "unit_id"),
)
sa.Table(
    "mushra_headphone_checks",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("layout", sa.String(length=64), nullable=False),
    sa.Column("responses", sa.String(length=16), nullable=True),
    sa.Column("num_correct", sa.Integer(), nullable=True),
    sa.Column("passed", sa.Boolean(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["session_id"], ["mushra_sessions.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id"),
)
sa.Table(
    "mushra_participant_answers",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("consent_given_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("age_range", sa.String(length=32), nullable=True),
    sa.Column("hearing_problems", sa.String(length=32), nullable=True),
    sa.Column("device", sa.String(length=32), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["session_id"], ["mushra_sessions.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id"),
)
sa.Table(
    "mushra_session_guards",
    BASELINE,
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("browser_key_sha256", sa.String(length=64), nullable=False),
    sa.Column("address_sha256", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["session_id"], ["mushra_sessions.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("session_id"),
    sa.Index("ix_mushra_session_guards_address_sha256", "address_sha256"),
    sa.Index("ix_mushra_session_guards_created_at", "created_at"),
)
sa.Table(
    "mushra_stimulus_audio",
    BASELINE,
    sa.Column("stimulus_id", sa.Integer(), nullable=False),
    sa.Column("media_type", sa.String(length=32), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(["stimulus_id"], ["mushra_stimuli.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("stimulus_id"),
)
sa.Table(
    "mushra_trials",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("session_id", sa.Integer(), nullable=False),
    sa.Column("item_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("is_training", sa.Boolean(), nullable=False),
    sa.Column("token", sa.String(length=64), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(["item_id"], ["mushra_items.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["session_id"], ["mushra_sessions.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("session_id", "position"),
    sa.UniqueConstraint("token"),
    sa.Index("ix_mushra_trials_item_id", "item_id"),
    sa.Index("ix_mushra_trials_session_id", "session_id"),
)
sa.Table(
    "mushra_trial_stimuli",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("trial_id", sa.Integer(), nullable=False),
    sa.Column("stimulus_id", sa.Integer(), nullable=False),
    sa.Column("slot", sa.Integer(), nullable=False),
    sa.Column("token", sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(["stimulus_id"], ["mushra_stimuli.id"], ondelete="CASCADE"),
    sa.ForeignKeyConstraint(["trial_id"], ["mushra_trials.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("token"),
    sa.UniqueConstraint("trial_id", "slot"),
    sa.Index("ix_mushra_trial_stimuli_stimulus_id", "stimulus_id"),
    sa.Index("ix_mushra_trial_stimuli_trial_id", "trial_id"),
)
sa.Table(
    "mushra_play_events",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("trial_stimulus_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=8), nullable=False),
    sa.Column("position_s", sa.Float(), nullable=False),
    sa.Column("listened_s", sa.Float(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["trial_stimulus_id"], ["mushra_trial_stimuli.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.Index("ix_mushra_play_events_trial_stimulus_id", "trial_stimulus_id"),
)
sa.Table(
    "mushra_ratings",
    BASELINE,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("trial_stimulus_id", sa.Integer(), nullable=False),
    sa.Column("value", sa.Float(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["trial_stimulus_id"], ["mushra_trial_stimuli.id"], ondelete="CASCADE"),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("trial_stimulus_id"),
)


def upgrade() -> None:
    BASELINE.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    BASELINE.drop_all(op.get_bind(), checkfirst=True)
