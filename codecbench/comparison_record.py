"""A comparison's record in its run folder, and what can be downloaded from it.

The Listen page writes two JSON files next to the audio of a comparison: ``manifest.json``
(the clip, the conditions and each outcome's files) and ``scores.json`` (each condition's
scores as they arrive). The page's player reads them through :mod:`codecbench.app.listen_api`,
and the downloads (a zip of the reconstructions, the scores as CSV) are made from them. Only
files a manifest names are ever served.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from codecbench.comparison import ConditionOutcome, OriginalView
from codecbench.evaluation.applicability import not_applicable_reason
from codecbench.evaluation.metrics import MetricResult, PairScores
from codecbench.evaluation.metrics.registry import metric_label as registry_label
from codecbench.untrusted_text import spreadsheet_cell

MANIFEST = "manifest.json"
SCORES = "scores.json"
#: The token figures the scores CSV carries per condition (after the score columns), empty for
#: conditions that send no tokens.
TOKEN_COLUMNS = ("entropy_coded_kbps", "mean_utilisation", "mean_entropy_bits")


@dataclass(frozen=True)
class ComparisonInfo:
    """What a comparison is about, as the page shows it above the players."""

    run_id: str
    source_name: str
    duration_s: float
    sample_rate_hz: int
    visqol_protocol: str


def metric_label(result: MetricResult) -> str:
    """The column title of a metric (``ViSQOL (speech)``, ``PESQ-WB``), from the metric registry."""
    return registry_label(result.metric, result.protocol)


def write_manifest(
    run_dir: Path,
    info: ComparisonInfo,
    original: OriginalView,
    conditions: Sequence[str],
    outcomes: Sequence[ConditionOutcome],
    done: bool,
) -> None:
    """(Re)write the comparison's manifest; atomically, as the page polls it."""
    record = {
        "run_id": info.run_id,
        "source_name": info.source_name,
        "duration_s": info.duration_s,
        "sample_rate_hz": info.sample_rate_hz,
        "visqol_protocol": info.visqol_protocol,
        "conditions": list(conditions),
        "original": {"audio": original.audio_path.name, "strip": _name(original.strip_path),
                     "spectrogram": original.spectrogram_path.name},
        "outcomes": [_outcome_record(outcome) for outcome in outcomes],
        "done": done,
    }
    _write_json(run_dir / MANIFEST, record)


def write_scores(run_dir: Path, scores: Sequence[PairScores], *, done: bool, error: str | None = None) -> None:
    """(Re)write the scores that have arrived; ``error`` says why scoring failed as a whole."""
    record = {
        "scores": {entry.pair_id: [_result_record(entry.pair_id, r) for r in entry.results] for entry in scores},
        "error": error,
        "done": done,
    }
    _write_json(run_dir / SCORES, record)


def read_record(run_dir: Path) -> dict[str, Any]:
    """The manifest with the scores so far under ``scores`` (empty until scoring starts)."""
    record = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))
    scores_path = run_dir / SCORES
    record["scores"] = (json.loads(scores_path.read_text(encoding="utf-8")) if scores_path.exists()
                        else {"scores": {}, "error": None, "done": False})
    return record


def served_files(record: dict[str, Any]) -> set[str]:
    """The file names of a run that may be served: those its manifest names, nothing else."""
    names = {record["original"]["audio"], record["original"]["strip"], record["original"]["spectrogram"]}
    for outcome in record["outcomes"]:
        names.update(outcome[key] for key in ("audio", "strip", "spectrogram", "codes") if outcome.get(key))
    return {name for name in names if name}


def scores_csv(record: dict[str, Any]) -> str:
    """The scores as CSV, one row per condition and metric, each with its condition's token
    figures (:data:`TOKEN_COLUMNS`, empty when it sends no tokens); every text cell spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["source", "condition", "title", "measured_kbps", "metric", "protocol", "value", "note",
                     *TOKEN_COLUMNS])
    scores = record["scores"]["scores"]
    source = spreadsheet_cell(record["source_name"])
    for outcome in record["outcomes"]:
        condition, title = outcome["condition"], outcome["title"]
        kbps = (outcome.get("summary") or {}).get("measured_kbps")
        row = [source, spreadsheet_cell(condition), spreadsheet_cell(title), "" if kbps is None else f"{kbps:.3f}"]
        tokens = _token_cells(outcome.get("tokens"))
        if outcome["error"]:
            writer.writerow([*row, "", "", "", spreadsheet_cell(f"failed: {outcome['error']}"), *tokens])
            continue
        for result in scores.get(condition, []):
            value = "" if result["value"] is None or result["not_applicable"] else f"{result['value']:.4f}"
            note = result["not_applicable"] or result["error"] or ""
            writer.writerow([*row, result["metric"], spreadsheet_cell(result["protocol"] or ""), value,
                             spreadsheet_cell(note), *tokens])
    return buffer.getvalue()


def _token_cells(tokens: dict[str, Any] | None) -> list[str]:
    figures = tokens or {}
    return ["" if not isinstance(figures.get(name), (int, float)) else f"{figures[name]:.4f}" for name in TOKEN_COLUMNS]


def zip_run(run_dir: Path, record: dict[str, Any]) -> bytes:
    """The original, every reconstruction and the scores CSV, as one zip (in memory; the app
    writes it to a file with :func:`write_zip` instead)."""
    buffer = io.BytesIO()
    write_zip(run_dir, record, buffer)
    return buffer.getvalue()


def write_zip(run_dir: Path, record: dict[str, Any], target: BinaryIO) -> None:
    """Write the zip of :func:`zip_run` to ``target``, audio stored as is (WAV hardly deflates,
    and a 10-minute clip through many conditions is hundreds of MB: compressing it would cost
    seconds of CPU per download), each file once."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(run_dir / record["original"]["audio"], "original.wav")
        written = {"original.wav", "scores.csv"}
        for outcome in record["outcomes"]:
            name = outcome.get("audio")
            if name and name not in written:
                written.add(name)
                archive.write(run_dir / name, name)
        archive.writestr("scores.csv", scores_csv(record), compress_type=zipfile.ZIP_DEFLATED)


def _outcome_record(outcome: ConditionOutcome) -> dict[str, Any]:
    condition = outcome.condition
    return {
        "condition": str(condition),
        "title": condition.title,
        "error": outcome.error,
        "summary": outcome.summary,
        "audio": _name(outcome.audio_path),
        "spectrogram": _name(outcome.spectrogram_path),
        "strip": _name(outcome.strip_path),
        "codes": _name(outcome.codes_path),
        "tokens": outcome.tokens,
        "tokens_note": outcome.tokens_note,
    }


def _result_record(condition: str, result: MetricResult) -> dict[str, Any]:
    value = result.value
    if value is not None and not math.isfinite(value):
        value = None
    codec = condition.partition("@")[0]
    return {
        "metric": result.metric,
        "label": metric_label(result),
        "protocol": result.protocol,
        "value": value,
        "error": None if result.ok else result.error,
        "not_applicable": not_applicable_reason(codec, result.metric),
    }


def _name(path: Path | None) -> str | None:
    return None if path is None else path.name


def _write_json(path: Path, record: dict[str, Any]) -> None:
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(record, default=str), encoding="utf-8")
    os.replace(partial, path)
