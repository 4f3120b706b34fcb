"""The unit of work of an evaluation, and the steps that do it: read, transcode, score.

A :class:`WorkUnit` is one utterance through one condition, with the metrics still to compute
for it. It is plain, picklable data (the utterance carries where its audio is, the condition
which codec, operating point and checkpoint), so any executor can run it: this process, a
local pool, or a cluster job calling :func:`execute_units`. Its :class:`UnitOutcome` holds
every metric's result, or the error that stopped the unit before metrics could run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from codecbench.audio import Audio, AudioError, AudioLimits, write_audio
from codecbench.codecs import transcode, transcode_batch
from codecbench.codecs.transcode import TranscodeResult
from codecbench.evaluation.conditions import EvalCondition, short_checkpoint
from codecbench.evaluation.datasets import Utterance
from codecbench.evaluation.metrics import MetricResult, ScoringConfig, ScoringPair, score_with_config
from codecbench.evaluation.metrics.pair import MIN_PAIR_DURATION_S
from codecbench.storage.evaluation_tables import FAILURE_STAGES
from codecbench.tokens.statistics import UnitTokens, measure_tokens

# Utterances are read with the shortest duration any metric can score (shorter ones fail
# with the reason, stored), and no upper limit (test sets hold what they hold).
READ_LIMITS = AudioLimits(min_duration_s=MIN_PAIR_DURATION_S)
KEPT_AUDIO_EXTENSION = ".flac"


@dataclass(frozen=True)
class WorkUnit:
    """One utterance of a test set through one condition, and the metrics to compute.

    Args:
        testset: the test set's name.
        utterance: the utterance (its id and where its audio is).
        condition: the codec at its operating point.
        scoring: the metrics still missing for this unit; ``None`` when only its token record
            is missing (a token codec's unit stored before token statistics existed): it is
            transcoded and its tokens measured, not scored again.
        keep_audio_path: where to write the reconstruction (``--keep-audio``), or ``None``.
        max_duration_s: a longer utterance fails with the reason (``--max-duration``); ``None``:
            no limit.
    """

    testset: str
    utterance: Utterance
    condition: EvalCondition
    scoring: ScoringConfig | None
    keep_audio_path: Path | None = None
    max_duration_s: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """(test set, utterance id, condition key): unique within an evaluation."""
        return (self.testset, self.utterance.id, self.condition.key)

    @property
    def pair_id(self) -> str:
        return "\x1f".join(self.key)


@dataclass(frozen=True)
class UnitOutcome:
    """What became of a unit: its metric results, or the error that stopped it first.

    Attributes:
        results: one per metric variant computed (each a value or its own error).
        error: why no metric could run (audio unreadable, codec failure), else ``None``.
        failure_stage: where ``error`` happened (see ``FAILURE_STAGES`` in the storage tables).
        sample_rate_hz, duration_s: the utterance's audio, once it was read.
        measured_kbps, side_info_bits, delay_samples, processing_s: the transcode's record.
        audio_path: the kept reconstruction, if one was written.
        keep_audio_error: why the reconstruction could not be kept (``--keep-audio``), if it
            could not; the unit's scores are unaffected.
        tokens: a token codec's token record (counts and entropy-coded size); ``None`` for
            other codecs and failed units.
        tokens_error: why a token codec's tokens could not be measured; its scores are unaffected.
    """

    unit: WorkUnit
    results: tuple[MetricResult, ...] = ()
    error: str | None = None
    failure_stage: str | None = None
    sample_rate_hz: int | None = None
    duration_s: float | None = None
    measured_kbps: float | None = None
    side_info_bits: int | None = None
    delay_samples: int | None = None
    processing_s: float | None = None
    audio_path: Path | None = None
    keep_audio_error: str | None = None
    tokens: UnitTokens | None = None
    tokens_error: str | None = None

    def __post_init__(self) -> None:
        if (self.error is None) != (self.failure_stage is None):
            raise ValueError("a unit outcome has an error exactly when it has a failure stage")
        if self.failure_stage is not None and self.failure_stage not in FAILURE_STAGES:
            raise ValueError(f"failure stage {self.failure_stage!r} is not one of {', '.join(FAILURE_STAGES)}")


@dataclass(frozen=True)
class UnfinishedUnit:
    """A unit the executor could not finish for a reason that is not the unit's (a scoring
    worker process died under it): nothing is stored, so the next run computes it."""

    unit: WorkUnit
    reason: str


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """A unit whose utterance went through its codec, waiting to be scored."""

    unit: WorkUnit
    reference: Audio
    result: TranscodeResult
    audio_path: Path | None
    keep_audio_error: str | None = None
    tokens: UnitTokens | None = None
    tokens_error: str | None = None

    def pair(self) -> ScoringPair:
        return ScoringPair(self.unit.pair_id, self.reference, (self.result.samples, self.result.sample_rate_hz))

    def outcome(self, results: Sequence[MetricResult]) -> UnitOutcome:
        return UnitOutcome(
            unit=self.unit,
            results=tuple(results),
            sample_rate_hz=self.reference.sample_rate_hz,
            duration_s=self.reference.num_samples / self.reference.sample_rate_hz,
            measured_kbps=self.result.measured_kbps,
            side_info_bits=self.result.side_info_bits,
            delay_samples=self.result.delay_samples,
            processing_s=self.result.processing_s,
            audio_path=self.audio_path,
            keep_audio_error=self.keep_audio_error,
            tokens=self.tokens,
            tokens_error=self.tokens_error,
        )


def kept_audio_path(keep_audio_dir: Path, testset: str, condition: EvalCondition, utterance_id: str) -> Path:
    """``DIR/TESTSET/CONDITION/UTTERANCE.flac``, one file per (test set, condition, utterance).

    Names are percent-encoded (``a b`` -> ``a%20b``, ``sub/a`` -> ``sub%2Fa``), so that
    distinct ids never share a file, and ``.flac`` is appended (``clip.v1`` -> ``clip.v1.flac``).
    A condition with a checkpoint has it in its folder (``encodec_24khz@1.5+c1dbe2a``), so that
    two checkpoints of one codec at one bitrate keep their reconstructions apart.
    """
    folder = condition.key
    if condition.checkpoint:
        folder += "+" + short_checkpoint(condition.checkpoint).lstrip("@").replace(":", "-")
    return keep_audio_dir / _file_name(testset) / _file_name(folder) / (_file_name(utterance_id) + KEPT_AUDIO_EXTENSION)


def _file_name(text: str) -> str:
    return quote(text, safe="@+") or "%"


def check_keep_audio_dir(keep_audio_dir: Path) -> None:
    """Make ``keep_audio_dir`` and check that files can be written in it.

    Raises:
        ValueError: it cannot be made or written to; the message says why.
    """
    probe = keep_audio_dir / ".codecbench-write-check"
    try:
        keep_audio_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise ValueError(
            f"--keep-audio {keep_audio_dir}: cannot write reconstructions there ({reason}); "
            "give a folder you can write to."
        ) from None


def read_references(units: Iterable[WorkUnit]) -> dict[tuple[str, str], Audio | str]:
    """Each distinct utterance's audio (read once, in the order given), or why it cannot be read."""
    audio: dict[tuple[str, str], Audio | str] = {}
    for unit in units:
        key = (unit.testset, unit.utterance.id)
        if key not in audio:
            try:
                audio[key] = unit.utterance.read_audio(replace(READ_LIMITS, max_duration_s=unit.max_duration_s))
            except AudioError as error:
                audio[key] = str(error)
            except OSError as error:  # an archive that vanished, a permission problem
                audio[key] = f"{unit.utterance.source.describe()}: cannot be read: {error}"
    return audio


def transcode_units(units: Sequence[WorkUnit], batch_size: int) -> Iterator[Reconstruction | UnitOutcome]:
    """Read each unit's utterance and run it through its condition, in batches per condition.

    Yields a :class:`Reconstruction` per unit that got through, or a failed :class:`UnitOutcome`
    (and the finished outcome of a unit that only needed its tokens measured). A batch the codec
    fails on is retried clip by clip, so one bad clip fails alone.
    """
    references = read_references(units)
    by_condition: dict[EvalCondition, list[tuple[WorkUnit, Audio]]] = {}
    for unit in units:
        reference = references[(unit.testset, unit.utterance.id)]
        if isinstance(reference, str):
            yield UnitOutcome(unit, error=reference, failure_stage="read")
        else:
            by_condition.setdefault(unit.condition, []).append((unit, reference))
    for condition, members in by_condition.items():
        try:
            codec = condition.load()
        except Exception as error:  # the codec was ready when the run was planned; report, go on
            for unit, _ in members:
                yield UnitOutcome(unit, error=f"{condition.key} could not be loaded: {error}", failure_stage="transcode")
            continue
        for start in range(0, len(members), batch_size):
            batch = members[start : start + batch_size]
            try:
                results = transcode_batch(codec, [audio for _, audio in batch], condition.operating_point)
            except Exception:
                results = None
            for index, (unit, audio) in enumerate(batch):
                if results is not None:
                    yield _unscored(_reconstruction(unit, audio, results[index]))
                    continue
                try:
                    reconstruction = _reconstruction(unit, audio, transcode(codec, audio, condition.operating_point))
                except Exception as error:  # one clip the codec cannot handle: recorded, not fatal
                    yield UnitOutcome(unit, error=f"{condition.key} failed: {type(error).__name__}: {error}",
                                      failure_stage="transcode", sample_rate_hz=audio.sample_rate_hz,
                                      duration_s=audio.num_samples / audio.sample_rate_hz)
                else:
                    yield _unscored(reconstruction)


def _unscored(reconstruction: Reconstruction) -> Reconstruction | UnitOutcome:
    """A unit that only needed its tokens measured is done once transcoded: its outcome."""
    return reconstruction.outcome(()) if reconstruction.unit.scoring is None else reconstruction


def _reconstruction(unit: WorkUnit, reference: Audio, result: TranscodeResult) -> Reconstruction:
    """The transcoded unit, with a token codec's token record, its reconstruction kept if
    asked; a failure to keep it (a full disk) or to measure its tokens is noted on the unit,
    whose scores do not depend on either."""
    tokens, tokens_error = _tokens_of(unit, result)
    path = unit.keep_audio_path
    if path is None:
        return Reconstruction(unit, reference, result, None, tokens=tokens, tokens_error=tokens_error)
    try:
        write_audio(path, result.samples, result.sample_rate_hz)
    except (OSError, RuntimeError, AudioError) as error:  # soundfile's errors are RuntimeErrors
        return Reconstruction(unit, reference, result, None, keep_audio_error=f"{path}: {error}",
                              tokens=tokens, tokens_error=tokens_error)
    return Reconstruction(unit, reference, result, path, tokens=tokens, tokens_error=tokens_error)


def _tokens_of(unit: WorkUnit, result: TranscodeResult) -> tuple[UnitTokens | None, str | None]:
    if not unit.condition.is_token_codec:
        return None, None
    try:
        return measure_tokens(result.encoded), None
    except Exception as error:  # a defect of the coder must not cost the unit its scores
        return None, f"{unit.condition.key} on {unit.utterance.id}: {type(error).__name__}: {error}"


def score_here(reconstruction: Reconstruction) -> UnitOutcome:
    """Score a reconstruction in this process (on one core, as a pool worker would)."""
    with one_core():
        try:
            results = score_with_config(
                reconstruction.reference, (reconstruction.result.samples, reconstruction.result.sample_rate_hz),
                reconstruction.unit.scoring,
            )
        except Exception as error:  # a bug in a metric library must not end the run
            return UnitOutcome(reconstruction.unit, error=f"scoring failed: {type(error).__name__}: {error}",
                               failure_stage="score")
    return reconstruction.outcome(results)


def execute_units(units: Sequence[WorkUnit], batch_size: int = 8) -> Iterator[UnitOutcome]:
    """Do ``units`` entirely in this process: read, transcode in batches, score; yield each outcome."""
    for item in transcode_units(units, batch_size):
        yield item if isinstance(item, UnitOutcome) else score_here(item)


@contextmanager
def one_core() -> Iterator[None]:
    """Limit numba (ViSQOL) and BLAS to one thread inside the block, as in a pool worker."""
    from threadpoolctl import threadpool_limits

    from codecbench.evaluation.metrics import visqol

    visqol.import_visqol_library()  # before numba, so numba picks the threading layer it uses everywhere
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(previous)
