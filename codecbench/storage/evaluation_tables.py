"""Tables of the evaluation engine: runs, test sets and their utterances, conditions (a codec at
an operating point and checkpoint), units of work (one utterance through one condition) and
their scores (one per metric and protocol).

A unit is unique per (condition, utterance) and a score per (unit, metric, protocol), so a run
that is restarted, or two runs at the same time, can never store a result twice. A unit that
failed before any metric could run (unreadable audio, a codec error, an utterance its loader
had to skip) keeps its error in ``eval_units.error``; a metric that failed on its own keeps its
error in its score row, with no value, and the metrics asked of a failed unit are kept in
``eval_unit_requests``. Nothing is ever stored as a stand-in number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from codecbench.storage.base import Base, utc_now

# Where a unit failed: the loader skipped its utterance, its audio could not be read, the codec
# failed on it, or scoring failed as a whole (a crashed worker).
FAILURE_STAGES = ("index", "read", "transcode", "score")


class EvalRunRow(Base):
    """One ``codecbench evaluate`` invocation: what it was asked, and with which codecbench."""

    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    codecbench_version: Mapped[str] = mapped_column(String(64))
    settings_json: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"EvalRunRow(id={self.id}, codecbench_version={self.codecbench_version!r})"


class EvalTestSetRow(Base):
    """A test set by the name results use, where it was last read from, and its size."""

    __tablename__ = "eval_testsets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    root: Mapped[str] = mapped_column(String(2000))
    total_utterances: Mapped[int] = mapped_column(Integer)
    skipped_utterances: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def __repr__(self) -> str:
        return f"EvalTestSetRow(id={self.id}, name={self.name!r}, kind={self.kind!r})"


class EvalUtteranceRow(Base):
    """One utterance of a test set, with where its audio is (``source_json``, see
    :func:`codecbench.evaluation.datasets.source_from_dict`) so it can be read again later."""

    __tablename__ = "eval_utterances"
    __table_args__ = (UniqueConstraint("testset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    testset_id: Mapped[int] = mapped_column(ForeignKey("eval_testsets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    source_json: Mapped[str | None] = mapped_column(Text)  # None: skipped by its loader
    location: Mapped[str] = mapped_column(String(2000))
    speaker: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    sample_rate_hz: Mapped[int | None] = mapped_column(Integer)  # known once the audio was read
    duration_s: Mapped[float | None] = mapped_column(Float)

    testset: Mapped[EvalTestSetRow] = relationship()

    def __repr__(self) -> str:
        return f"EvalUtteranceRow(id={self.id}, name={self.name!r})"


class EvalConditionRow(Base):
    """A codec at one operating point, with the checkpoint it ran (empty for codecs without one)."""

    __tablename__ = "eval_conditions"
    __table_args__ = (UniqueConstraint("codec", "operating_point", "checkpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    codec: Mapped[str] = mapped_column(String(200))
    operating_point: Mapped[str] = mapped_column(String(100))
    nominal_kbps: Mapped[float | None] = mapped_column(Float)
    tokens_per_second: Mapped[float | None] = mapped_column(Float)
    checkpoint: Mapped[str] = mapped_column(String(500), default="")
    implementation: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def __repr__(self) -> str:
        return f"EvalConditionRow(id={self.id}, codec={self.codec!r}, operating_point={self.operating_point!r})"


class EvalUnitRow(Base):
    """One utterance through one condition: how the reconstruction went, or why it did not."""

    __tablename__ = "eval_units"
    __table_args__ = (UniqueConstraint("condition_id", "utterance_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    condition_id: Mapped[int] = mapped_column(ForeignKey("eval_conditions.id", ondelete="CASCADE"), index=True)
    utterance_id: Mapped[int] = mapped_column(ForeignKey("eval_utterances.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    failure_stage: Mapped[str | None] = mapped_column(String(16))  # one of FAILURE_STAGES
    measured_kbps: Mapped[float | None] = mapped_column(Float)
    side_info_bits: Mapped[int | None] = mapped_column(Integer)
    delay_samples: Mapped[int | None] = mapped_column(Integer)
    processing_s: Mapped[float | None] = mapped_column(Float)
    audio_path: Mapped[str | None] = mapped_column(String(2000))  # the --keep-audio copy
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    condition: Mapped[EvalConditionRow] = relationship()
    utterance: Mapped[EvalUtteranceRow] = relationship()

    def __repr__(self) -> str:
        return f"EvalUnitRow(id={self.id}, condition_id={self.condition_id}, utterance_id={self.utterance_id})"


class EvalUnitRequestRow(Base):
    """A metric (and protocol) asked for a unit that failed before it could be scored: the
    unit's failure counts under this metric only (a run with ``--metrics sisnr`` that fails
    on a clip is no STOI failure)."""

    __tablename__ = "eval_unit_requests"
    __table_args__ = (UniqueConstraint("unit_id", "metric", "protocol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("eval_units.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(64))


class EvalScoreRow(Base):
    """One metric's result on one unit: a value, or the error that prevented one."""

    __tablename__ = "eval_scores"
    __table_args__ = (
        UniqueConstraint("unit_id", "metric", "protocol"),
        # Leaderboards and exports list the stored (metric, protocol) pairs and read one metric's
        # scores (migration 0002_scores_metric_index).
        Index("ix_eval_scores_metric_protocol", "metric", "protocol"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("eval_units.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    metric: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    implementation: Mapped[str] = mapped_column(String(500))
    delay_samples: Mapped[int | None] = mapped_column(Integer)
    gain_db: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def __repr__(self) -> str:
        return f"EvalScoreRow(unit_id={self.unit_id}, metric={self.metric!r}, protocol={self.protocol!r}, value={self.value})"


class EvalTokenStreamRow(Base):
    """A token codec's codes of one unit, one stream (all codebooks, or one FACodec attribute),
    entropy-coded (:mod:`codecbench.tokens.coder`): the stored bytes are the measured coded size
    (``coded_bits``) and give back the codes exactly, from which every token statistic is
    counted (counts add up over units)."""

    __tablename__ = "eval_token_streams"
    __table_args__ = (UniqueConstraint("unit_id", "stream"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("eval_units.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    stream: Mapped[str] = mapped_column(String(64))
    num_codebooks: Mapped[int] = mapped_column(Integer)
    codebook_size: Mapped[int] = mapped_column(Integer)
    num_frames: Mapped[int] = mapped_column(Integer)
    bits_per_token: Mapped[int] = mapped_column(Integer)
    frame_rate_hz: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)  # the encoded audio's
    coded_bits: Mapped[int] = mapped_column(Integer)
    model_bits: Mapped[float] = mapped_column(Float)
    coded: Mapped[bytes] = mapped_column(LargeBinary)
    coder_version: Mapped[int] = mapped_column(Integer)  # codecbench.tokens.coder.CODER_VERSION
    codes_crc32: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    def __repr__(self) -> str:
        return f"EvalTokenStreamRow(unit_id={self.unit_id}, stream={self.stream!r}, coded_bits={self.coded_bits})"


class EvalTokenSummaryRow(Base):
    """The token figures of one test set under one condition (``report_json``: a
    :class:`codecbench.tokens.statistics.TokenReport` record), summed over the token rows it was
    made from; ``rows``, ``id_sum`` and ``latest`` say which, so a summary that no longer matches
    what is stored is made again instead of being shown."""

    __tablename__ = "eval_token_summaries"
    __table_args__ = (UniqueConstraint("testset_id", "condition_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    testset_id: Mapped[int] = mapped_column(ForeignKey("eval_testsets.id", ondelete="CASCADE"), index=True)
    condition_id: Mapped[int] = mapped_column(ForeignKey("eval_conditions.id", ondelete="CASCADE"), index=True)
    rows: Mapped[int] = mapped_column(Integer)
    id_sum: Mapped[int] = mapped_column(BigInteger)
    latest: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    report_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class EvalUnitLeaseRow(Base):
    """A unit some run is computing now: other runs leave it alone until the lease ends.

    Two ``evaluate`` runs on one database (or the drivers of a cluster) then share the work
    instead of each computing every unit. A lease ends when its unit is stored, when its run
    ends (finished or interrupted), or at ``expires_at`` (a run that was killed; on the host that
    ran it, as soon as its process ``pid`` is gone).
    """

    __tablename__ = "eval_unit_leases"

    condition_id: Mapped[int] = mapped_column(ForeignKey("eval_conditions.id", ondelete="CASCADE"), primary_key=True)
    utterance_id: Mapped[int] = mapped_column(ForeignKey("eval_utterances.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
