"""A leaderboard cell up close: its worst utterances, their scores, and their audio.

The reconstruction of an utterance is the file ``--keep-audio`` kept, if it is still there;
otherwise it is made again, through the same codec at the same operating point, provided the
codec loads the checkpoint the scores were made with (a reconstruction from other weights
would not be the one that was scored).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from codecbench.audio import Audio, AudioError, load_audio
from codecbench.codecs import codec_spec, load_codec, transcode
from codecbench.codecs.base import LoadOptions
from codecbench.evaluation.conditions import checkpoint_identity
from codecbench.evaluation.datasets import Utterance, source_from_dict
from codecbench.evaluation.metrics.registry import lower_is_better
from codecbench.evaluation.results import load_scores, load_unit_requests, load_units, unit_failed_under
from codecbench.evaluation.work import READ_LIMITS
from codecbench.storage.evaluation_tables import EvalConditionRow

DEFAULT_WORST_COUNT = 5


@dataclass(frozen=True)
class CellUnit:
    """One utterance of a cell: its value of the chosen metric (or why there is none), every
    score stored for it, and what is needed to hear it."""

    testset: str
    utterance: str
    text: str | None
    value: float | None
    error: str | None
    scores: pd.DataFrame  # metric, protocol, value, error
    source_json: str | None
    audio_path: str | None
    condition_id: int


@dataclass(frozen=True)
class CellInspection:
    """The worst scored utterances of a cell, worst first, and the ones that failed."""

    worst: tuple[CellUnit, ...]
    failed: tuple[CellUnit, ...]


def inspect_cell(
    session: Session, testset: str, condition_id: int, metric: str, protocol: str, count: int = DEFAULT_WORST_COUNT
) -> CellInspection:
    """The ``count`` worst utterances of one test set under one condition by ``metric``/``protocol``
    (lowest first, or highest for distances), and every utterance that has no value because it failed."""
    units = load_units(session, testsets=[testset], condition_ids=[condition_id])
    scores = load_scores(session, testsets=[testset], condition_ids=[condition_id])
    chosen = scores[(scores["metric"] == metric) & (scores["protocol"] == protocol)].set_index("unit_id")
    requests = load_unit_requests(session, units.loc[units["unit_error"].notna(), "unit_id"])
    units = units.assign(unit_failed=unit_failed_under(units, requests, [metric], protocol))
    scored, failed = [], []
    for unit in units.itertuples():
        value = chosen["value"].get(unit.unit_id)
        error = unit.unit_error if unit.unit_failed else chosen["error"].get(unit.unit_id)
        entry = CellUnit(
            testset=testset, utterance=unit.utterance, text=unit.text,
            value=None if value is None or pd.isna(value) else float(value),
            error=None if error is None or pd.isna(error) else str(error),
            scores=scores.loc[scores["unit_id"] == unit.unit_id, ["metric", "protocol", "value", "error"]].reset_index(drop=True),
            source_json=unit.source_json, audio_path=unit.audio_path if pd.notna(unit.audio_path) else None,
            condition_id=condition_id,
        )
        if entry.value is not None:
            scored.append(entry)
        elif entry.error is not None:
            failed.append(entry)
    scored.sort(key=lambda entry: entry.value, reverse=lower_is_better(metric))
    return CellInspection(tuple(scored[:count]), tuple(failed))


def reference_audio(unit: CellUnit) -> Audio:
    """The utterance as the evaluation read it.

    Raises:
        AudioError: it cannot be read (any more).
    """
    if unit.source_json is None:
        raise AudioError(f"{unit.utterance} was skipped by its test set's loader; there is no audio to play.")
    utterance = Utterance(unit.utterance, source_from_dict(json.loads(unit.source_json)))
    return utterance.read_audio(READ_LIMITS)


def reconstruction_audio(
    session: Session, unit: CellUnit, reference: Audio, options_for: Callable[[str], LoadOptions]
) -> tuple[Audio, str]:
    """The reconstruction that was scored, and where it came from (kept, or made again now);
    ``options_for(codec)`` says how this program loads a codec.

    Raises:
        AudioError: it was not kept and cannot be made again as it was (other weights loaded,
            or the codec fails); the message says why.
    """
    if unit.audio_path is not None and Path(unit.audio_path).is_file():
        return load_audio(unit.audio_path, limits=READ_LIMITS), f"kept by --keep-audio ({unit.audio_path})"
    condition = session.get(EvalConditionRow, unit.condition_id)
    assert condition is not None, "a unit's condition exists (foreign key)"
    options = options_for(condition.codec)
    try:
        loaded = checkpoint_identity(condition.codec, options)
    except (OSError, ValueError) as error:
        raise AudioError(f"{condition.codec} cannot be loaded here to make the reconstruction again: {error}") from None
    if loaded != condition.checkpoint:
        raise AudioError(
            f"the reconstruction was not kept (--keep-audio), and this app loads other {condition.codec} weights "
            f"({loaded or 'none'}) than the scores were made with ({condition.checkpoint}); it cannot be made again here."
        )
    try:
        codec = load_codec(condition.codec, options)
        point = codec_spec(condition.codec, options).operating_point(condition.nominal_kbps)
        result = transcode(codec, reference, point)
    except Exception as error:  # a codec that cannot run here: said on the page, not a crash
        raise AudioError(f"{condition.codec} could not make the reconstruction again: {error}") from None
    return Audio(result.samples, result.sample_rate_hz, source="reconstruction"), "made again now (not kept)"
