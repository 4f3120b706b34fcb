"""A comparison's record: run ids, metrics that do not apply, spreadsheet-safe CSV, the zip."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from codecbench.audio import load_audio
from codecbench.codecs.condition import Condition
from codecbench.comparison import compare, show_original
from codecbench.comparison_record import (
    ComparisonInfo,
    not_applicable_reason,
    read_record,
    scores_csv,
    served_files,
    write_manifest,
    write_scores,
    zip_run,
)
from codecbench.evaluation.metrics import MetricResult, PairScores
from codecbench.run_folders import RUN_ID_PATTERN, new_run_dir
from tests.speech_clips import speech_clip

CLIP = speech_clip("zh/zh_aishell1_dev_BAC009S0724W0121.wav", seconds=4.5, seed=22)


def make_run(work_dir: Path, source_name: str = "clip.wav") -> Path:
    """A real comparison of a real clip (Opus 6 kbps and Codec 2 3200) with its record written."""
    audio = load_audio(CLIP)
    run_dir = new_run_dir(work_dir)
    original = show_original(audio, run_dir)
    conditions = [Condition("opus", 6.0), Condition("codec2", 3.2)]
    outcomes = list(compare(audio, conditions, run_dir, scale=original.scale))
    info = ComparisonInfo(run_dir.name, source_name, audio.duration_s, audio.sample_rate_hz, "speech")
    write_manifest(run_dir, info, original, [str(c) for c in conditions], outcomes, done=True)
    scores = [
        PairScores(str(condition), (
            MetricResult("pesq_wb", 2.5, None, "p862.2-wb-16k", "pesq 0.0.4"),
            MetricResult("sisnr", -57.0 if condition.codec == "codec2" else 4.2, None, "aligned", "codecbench"),
            MetricResult("stoi", None, "=HYPERLINK(\"http://evil\")", "stoi", "pystoi"),
        ))
        for condition in conditions
    ]
    write_scores(run_dir, scores, done=True)
    return run_dir


def test_run_ids_are_long_random_and_distinct(tmp_path):
    ids = {new_run_dir(tmp_path).name for _ in range(20)}
    assert len(ids) == 20
    assert all(RUN_ID_PATTERN.fullmatch(run_id) for run_id in ids)


def test_waveform_metrics_do_not_apply_to_a_vocoder_and_the_decision_reads_the_descriptions():
    from codecbench.codecs import get_entry
    from codecbench.evaluation.metrics.registry import needs_waveform_coherence

    assert not get_entry("codec2").spec.waveform_coherent and get_entry("opus").spec.waveform_coherent
    assert needs_waveform_coherence("sisnr") and not needs_waveform_coherence("pesq_wb")
    assert not needs_waveform_coherence("visqol") and not needs_waveform_coherence("stoi")
    assert "synthesises its own phase" in not_applicable_reason("codec2", "sisnr")
    assert not_applicable_reason("codec2", "pesq_wb") is None
    assert not_applicable_reason("opus", "sisnr") is None
    assert not_applicable_reason("no_such_codec", "sisnr") is None


def test_the_record_marks_codec2_si_snr_not_applicable_and_the_csv_leaves_it_empty(tmp_path):
    run_dir = make_run(tmp_path, source_name="=cmd|' /C calc'!A0.wav")
    record = read_record(run_dir)
    codec2 = {r["metric"]: r for r in record["scores"]["scores"]["codec2@3.2"]}
    assert codec2["sisnr"]["not_applicable"] and codec2["pesq_wb"]["not_applicable"] is None
    rows = list(csv.DictReader(io.StringIO(scores_csv(record))))
    assert len(rows) == 6
    sisnr = {row["condition"]: row for row in rows if row["metric"] == "sisnr"}
    assert sisnr["codec2@3.2"]["value"] == "" and "own phase" in sisnr["codec2@3.2"]["note"]
    assert float(sisnr["opus@6"]["value"]) == pytest.approx(4.2)
    # Cells a spreadsheet would run as formulas are quoted.
    assert all(row["source"].startswith("'=") for row in rows)
    assert all(row["note"].startswith("'=") for row in rows if row["metric"] == "stoi")


def test_the_record_and_the_csv_carry_a_token_codecs_figures_and_leave_a_classical_codecs_empty(
    tmp_path, tiny_models
):
    audio = load_audio(CLIP)
    run_dir = new_run_dir(tmp_path)
    original = show_original(audio, run_dir)
    conditions = [Condition("encodec_24khz", 1.5), Condition("opus", 6.0)]
    outcomes = list(compare(audio, conditions, run_dir, scale=original.scale))
    info = ComparisonInfo(run_dir.name, "clip.wav", audio.duration_s, audio.sample_rate_hz, "speech")
    write_manifest(run_dir, info, original, [str(c) for c in conditions], outcomes, done=True)
    write_scores(run_dir, [PairScores(str(c), (MetricResult("pesq_wb", 2.5, None, "p862.2-wb-16k", "pesq"),))
                           for c in conditions], done=True)
    record = read_record(run_dir)
    encodec, opus = record["outcomes"]
    assert encodec["tokens"]["entropy_coded_kbps"] > 0 and encodec["tokens_note"] is None
    assert [stream["stream"] for stream in encodec["tokens"]["streams"]] == ["codes"]
    assert opus["tokens"] is None and opus["tokens_note"].startswith("sends no tokens")
    rows = {row["condition"]: row for row in csv.DictReader(io.StringIO(scores_csv(record)))}
    assert list(rows["opus@6"])[:8] == ["source", "condition", "title", "measured_kbps", "metric", "protocol", "value",
                                       "note"]  # the score columns as before, the token figures after them
    assert float(rows["encodec_24khz@1.5"]["entropy_coded_kbps"]) == pytest.approx(
        encodec["tokens"]["entropy_coded_kbps"], abs=1e-4)
    assert float(rows["encodec_24khz@1.5"]["mean_utilisation"]) == pytest.approx(
        encodec["tokens"]["mean_utilisation"], abs=1e-4)
    assert rows["opus@6"]["entropy_coded_kbps"] == rows["opus@6"]["mean_entropy_bits"] == ""
    with zipfile.ZipFile(io.BytesIO(zip_run(run_dir, record))) as archive:
        assert archive.read("scores.csv").decode() == scores_csv(record)


def test_token_figures_that_cannot_be_measured_leave_a_reason_and_the_reconstruction_stands(
    tmp_path, tiny_models, monkeypatch
):
    import codecbench.comparison

    def broken(encoded):
        raise RuntimeError("the entropy coder did not give back stream 'codes''s codes; please report this")

    monkeypatch.setattr(codecbench.comparison, "measure_tokens", broken)
    audio = load_audio(CLIP)
    original = show_original(audio, tmp_path)
    [outcome] = compare(audio, [Condition("encodec_24khz", 1.5)], tmp_path, scale=original.scale)
    assert outcome.ok and outcome.audio_path.is_file() and outcome.tokens is None
    assert outcome.tokens_note == ("token statistics failed: the entropy coder did not give back stream 'codes''s "
                                   "codes; please report this")


def test_the_zip_holds_the_original_every_reconstruction_and_the_scores(tmp_path):
    run_dir = make_run(tmp_path)
    record = read_record(run_dir)
    with zipfile.ZipFile(io.BytesIO(zip_run(run_dir, record))) as archive:
        names = set(archive.namelist())
        assert names == {"original.wav", "scores.csv", *(o["audio"] for o in record["outcomes"])}
        assert archive.read("original.wav") == (run_dir / "original.wav").read_bytes()
    assert {"manifest.json", "scores.json"}.isdisjoint(served_files(record))


def test_the_spectrogram_strip_spans_the_clip_edge_to_edge(tmp_path):
    from PIL import Image

    from codecbench.spectrogram import SpectrogramScale, render_spectrograms, spectrogram_db

    audio = load_audio(CLIP)
    scale = SpectrogramScale.from_reference(audio.samples, audio.sample_rate_hz)
    figure, strip = render_spectrograms(audio.samples, audio.sample_rate_hz, scale, tmp_path / "f.png",
                                        tmp_path / "s.png")
    times, frequencies, _ = spectrogram_db(audio.samples, audio.sample_rate_hz)
    width, height = Image.open(strip).size
    assert height == len(frequencies)  # no margins, no axes
    assert width == ((times >= 0) & (times <= audio.duration_s)).sum()  # one column per 5 ms hop inside the clip
    assert Image.open(figure).size == (640, 260)
