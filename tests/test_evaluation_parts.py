"""Parts of the evaluation engine: conditions and checkpoints, batched transcoding, neural codecs
in a run, progress, and the leaderboard's cells, tables and charts."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from codecbench.audio import Audio
from codecbench.codecs import LoadOptions, get_entry, load_codec, transcode, transcode_batch
from codecbench.codecs.condition import Condition, parse_codec_request
from codecbench.evaluation.conditions import checkpoint_identity, operating_point_label, resolve_conditions
from codecbench.evaluation.datasets import AudioFile, Utterance, parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.leaderboard import (
    Leaderboard,
    LeaderboardError,
    confidence_interval,
    format_cell,
    leaderboard_cells,
    resolve_metric_choice,
)
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.progress import ProgressCounter, TerminalProgress, format_duration
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.evaluation.work import UnitOutcome, WorkUnit
from codecbench.storage import open_database
from codecbench.storage.evaluation_tables import FAILURE_STAGES
from tests.checkpoints import save_tiny_encodec_24khz
from tests.corpora import clip, make_folder


def test_codec_requests_name_a_codec_and_its_bitrates():
    assert parse_codec_request("opus@6,12") == [Condition("opus", 6.0), Condition("opus", 12.0)]
    assert parse_codec_request(" lowpass_3500 ") == [Condition("lowpass_3500")]
    with pytest.raises(ValueError, match="names no codec"):
        parse_codec_request("@6")
    with pytest.raises(ValueError, match="separated by commas"):
        parse_codec_request("opus@6,,12")
    with pytest.raises(ValueError, match="'six' is not a bitrate"):
        parse_codec_request("opus@six")


def test_operating_points_are_labelled_with_kbps_and_tokens_per_second():
    assert operating_point_label("6 kbps", 6.0, None) == "6 kbps"
    assert operating_point_label("1 kbps", 1.0, 100.0) == "1 kbps · 100 tok/s"
    assert operating_point_label("700C", 0.7, None) == "0.7 kbps (700C)"
    assert operating_point_label("3200", 3.2, None) == "3.2 kbps"
    assert operating_point_label("3.5 kHz", None, None) == "3.5 kHz"


def test_conditions_pin_their_checkpoint(tiny_models, tmp_path):
    (hub,) = resolve_conditions([Condition("encodec_24khz", 6.0)])
    weights = get_entry("encodec_24khz").weights.hub
    assert hub.checkpoint == f"hub:{weights.repo_id}@{weights.revision}"
    assert hub.operating_point.tokens_per_second == 600 and hub.key == "encodec_24khz@6"
    assert hub.implementation.startswith("codecbench ") and "torch " in hub.implementation
    first = save_tiny_encodec_24khz(tmp_path / "a", seed=1)
    copy = save_tiny_encodec_24khz(tmp_path / "b", seed=1)
    other = save_tiny_encodec_24khz(tmp_path / "c", seed=2)
    identity = [checkpoint_identity("encodec_24khz", LoadOptions(model_dir=folder)) for folder in (first, copy, other)]
    assert identity[0] == identity[1] != identity[2] and identity[0].startswith("sha256:")
    (opus,) = resolve_conditions([Condition("opus", 6.0)])
    assert opus.checkpoint == "" and opus.implementation.startswith("av ")
    assert len(resolve_conditions([Condition("opus", 6.0), Condition("opus", 6.0)])) == 1


def test_a_batch_transcodes_each_clip_as_alone():
    # (neural codecs' own batching is checked in test_neural_codecs; here, the per-rate grouping around it)
    clips = [Audio(clip(seed, seconds), rate) for seed, seconds, rate in ((1, 1.0, 16_000), (2, 1.7, 16_000), (3, 0.8, 24_000))]
    for name, kbps in (("opus", 12.0), ("lowpass_3500", None), ("lowpass_7000", None)):
        codec = load_codec(name)
        point = codec.spec.operating_point(kbps)
        batched = transcode_batch(codec, clips, point)
        for audio, result in zip(clips, batched):
            alone = transcode(codec, audio, point)
            assert result.samples.shape == audio.samples.shape and result.sample_rate_hz == audio.sample_rate_hz
            np.testing.assert_allclose(result.samples, alone.samples, atol=1e-5)
            assert result.measured_kbps == alone.measured_kbps


def test_a_run_with_a_neural_codec_from_the_hub_and_a_model_dir_keeps_them_apart(tiny_models, tmp_path):
    make_folder(tmp_path / "clips", 3)
    database = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    request = EvaluationRequest(
        testsets=(parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}"),),
        conditions=(Condition("encodec_24khz", 1.5), Condition("encodec_24khz", 3.0)),
        scoring=ScoringConfig(("sisnr",)),
    )
    with LocalExecutor(batch_size=3) as executor:
        assert run_evaluation(database, plan_evaluation(request), executor).computed == 6
        local = {"encodec_24khz": save_tiny_encodec_24khz(tmp_path / "mine", seed=5)}
        mine = EvaluationRequest(**{**request.__dict__, "conditions": request.conditions[:1], "model_dirs": local})
        assert run_evaluation(database, plan_evaluation(mine), executor).computed == 3  # other weights: computed anew
    with database.session(read_only=True) as session:
        board = Leaderboard.from_database(session, "sisnr")
    columns = list(board.codec_table("encodec_24khz").columns)
    assert len(columns) == 3 and columns[2] == "3 kbps · 300 tok/s"
    assert sorted(columns[:2]) == sorted(f"1.5 kbps · 150 tok/s [{short}]" for short in (
        "@" + get_entry("encodec_24khz").weights.hub.revision[:7], checkpoint_identity(
            "encodec_24khz", LoadOptions(model_dir=local["encodec_24khz"]))[:15]))
    database.close()


def test_progress_reports_done_total_rate_and_time_left():
    now = [100.0]
    counter = ProgressCounter(clock=lambda: now[0])
    counter.start(total=10, already_done=4)
    assert counter.describe() == "4/10 units, -/s, -- left"
    counter.advance()
    counter.advance(failed=True)
    now[0] = 104.0
    assert counter.describe() == "6/10 units, 0.5/s, 8s left, 1 failed"
    assert [format_duration(s) for s in (45, 185, 7620)] == ["45s", "3m05s", "2h07m"]
    stream = io.StringIO()
    bar = TerminalProgress(stream)
    bar.start(total=2, already_done=0)
    bar.advance()
    bar.advance()
    assert stream.getvalue().splitlines()[-1].startswith("[" + "#" * 30 + "] 2/2 units")


def test_metric_choices_explain_what_is_stored():
    stored = [("pesq_wb", "p862.2-wb-16k"), ("visqol", "audio-native"), ("visqol", "speech")]
    assert resolve_metric_choice(stored, "pesq", None) == ("pesq_wb", "p862.2-wb-16k")
    assert resolve_metric_choice(stored, "visqol", "speech") == ("visqol", "speech")
    with pytest.raises(LeaderboardError, match="several protocols \\(audio-native, speech\\)"):
        resolve_metric_choice(stored, "visqol", None)
    with pytest.raises(LeaderboardError, match="under protocol 'audio'.*stored: audio-native, speech"):
        resolve_metric_choice(stored, "visqol", "audio")
    with pytest.raises(LeaderboardError, match="Did you mean visqol"):
        resolve_metric_choice(stored, "visqal", None)
    with pytest.raises(LeaderboardError, match="pesq is stored as pesq_wb and pesq_nb; choose one"):
        resolve_metric_choice([*stored, ("pesq_nb", "p862.1-nb-8k")], "pesq", None)
    with pytest.raises(LeaderboardError, match="holds no scores yet"):
        resolve_metric_choice([], "pesq", None)


def _units(rows) -> pd.DataFrame:
    base = {"testset_kind": "folder", "testset_utterances": 10, "checkpoint": "", "codec_implementation": "av 1",
            "measured_kbps": 6.1, "unit_codecbench_version": "0.1.0", "unit_error": None, "sample": "all"}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_cells_count_values_and_failures_and_leave_unscored_units_out():
    units = _units([
        {"unit_id": 1, "testset": "a", "condition_id": 7, "codec": "opus", "operating_point": "6 kbps", "nominal_kbps": 6.0, "tokens_per_second": None},
        {"unit_id": 2, "testset": "a", "condition_id": 7, "codec": "opus", "operating_point": "6 kbps", "nominal_kbps": 6.0, "tokens_per_second": None},
        {"unit_id": 3, "testset": "a", "condition_id": 7, "codec": "opus", "operating_point": "6 kbps", "nominal_kbps": 6.0, "tokens_per_second": None},
        {"unit_id": 4, "testset": "a", "condition_id": 7, "codec": "opus", "operating_point": "6 kbps", "nominal_kbps": 6.0, "tokens_per_second": None, "unit_error": "unreadable"},
        {"unit_id": 5, "testset": "a", "condition_id": 7, "codec": "opus", "operating_point": "6 kbps", "nominal_kbps": 6.0, "tokens_per_second": None},
        {"unit_id": 6, "testset": "a", "condition_id": 7, "codec": "opus", "operating_point": "6 kbps", "nominal_kbps": 6.0, "tokens_per_second": None},
    ])
    score = {"metric": "pesq_wb", "protocol": "p", "metric_implementation": "pesq 0.0.4", "codecbench_version": "0.1.0"}
    scores = pd.DataFrame([
        {**score, "unit_id": 1, "value": 2.0, "error": None}, {**score, "unit_id": 2, "value": 3.0, "error": None},
        {**score, "unit_id": 3, "value": 4.5, "error": None}, {**score, "unit_id": 5, "value": None, "error": "silent"},
        {**score, "unit_id": 6, "metric": "stoi", "value": 0.9, "error": None},  # not this metric: neither n nor failure
    ])
    (cell,) = leaderboard_cells(units, scores, "pesq_wb", "p").to_dict("records")
    assert (cell["n"], cell["failures"]) == (3, 2)
    values = np.array([2.0, 3.0, 4.5])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert cell["mean"] == pytest.approx(values.mean()) and cell["ci95_high"] == pytest.approx(values.mean() + half)
    assert format_cell(pd.Series(cell)) == f"3.17 ± {half:.2f} (n=3, 2 failed)"
    assert format_cell(pd.Series({**cell, "n": 1, "ci95_low": math.nan, "failures": 0})) == "3.17 (n=1)"
    assert format_cell(pd.Series({**cell, "n": 0})) == "- (n=0, 2 failed)"
    assert math.isnan(confidence_interval(np.array([1.0]))[0])


def test_tables_and_charts_have_the_published_shape():
    rows = []
    for testset in ("mine", "librispeech-test-clean"):
        for condition_id, codec, point, kbps, tps in ((1, "funcodec_en_libritts_16k_nq32ds640", "2 kbps", 2.0, 200.0),
                                                     (2, "funcodec_en_libritts_16k_nq32ds640", "1 kbps", 1.0, 100.0),
                                                     (3, "opus", "6 kbps", 6.0, None), (4, "lowpass_3500", "3.5 kHz", None, None)):
            rows.append({"testset": testset, "condition_id": condition_id, "codec": codec, "operating_point": point,
                         "nominal_kbps": kbps, "tokens_per_second": tps})
    units = _units([{**row, "unit_id": index} for index, row in enumerate(rows)])
    scores = pd.DataFrame([{"unit_id": index, "metric": "visqol", "protocol": "speech", "value": 3.0 + index / 10,
                            "error": None, "metric_implementation": "v", "codecbench_version": "0.1.0"}
                           for index in range(len(rows))])
    from codecbench.evaluation.leaderboard import _ordered

    board = Leaderboard("visqol", "speech", _ordered(leaderboard_cells(units, scores, "visqol", "speech")))
    assert board.testsets == ["librispeech-test-clean", "mine"]  # named test sets first
    assert board.codecs == ["opus", "lowpass_3500", "funcodec_en_libritts_16k_nq32ds640"]  # registry order
    table = board.codec_table("funcodec_en_libritts_16k_nq32ds640")
    assert list(table.columns) == ["1 kbps · 100 tok/s", "2 kbps · 200 tok/s"] and list(table.index) == board.testsets
    assert table.loc["mine", "2 kbps · 200 tok/s"] == "3.00 (n=1)"
    cross = board.cross_codec_table()
    assert list(cross.columns) == board.testsets and "lowpass_3500 3.5 kHz" in cross.index
    text = board.text()
    assert text.startswith("visqol (speech; higher is better)") and "\nall codecs\n" in text
    figure = board.chart("mine")
    assert [trace.name for trace in figure.data] == ["opus", "funcodec_en_libritts_16k_nq32ds640"]
    assert list(figure.data[1].x) == [1.0, 2.0]
    assert all(trace.error_y.array is None for trace in figure.data)  # n=1: no interval, so no bar (not a zero-width one)
    cells = board.cells.copy()
    with_ci = (cells["testset"] == "mine") & (cells["operating_point"] == "1 kbps")
    cells.loc[with_ci, "ci95_low"], cells.loc[with_ci, "ci95_high"] = cells.loc[with_ci, "mean"] - 0.25, cells.loc[with_ci, "mean"] + 0.5
    barred = [trace for trace in Leaderboard("visqol", "speech", cells).chart("mine").data if trace.error_y.array is not None]
    (bars,) = barred
    assert bars.name == "funcodec_en_libritts_16k_nq32ds640 95 % CI" and list(bars.x) == [1.0]
    assert list(bars.error_y.array) == [pytest.approx(0.5)] and list(bars.error_y.arrayminus) == [pytest.approx(0.25)]
    assert any("lowpass_3500" in annotation.text for annotation in figure.layout.annotations)
    assert list(board.csv_frame().columns)[:3] == ["testset", "testset_kind", "testset_utterances"]


def _opus_unit(tmp_path, utterance_id: str = "a") -> WorkUnit:
    (condition,) = resolve_conditions([Condition("opus", 6.0)])
    return WorkUnit("mini", Utterance(utterance_id, AudioFile(tmp_path / f"{utterance_id}.wav")), condition, ScoringConfig(("sisnr",)))


def test_a_unit_outcome_refuses_a_failure_stage_that_is_not_one_of_the_stored_stages(tmp_path):
    unit = _opus_unit(tmp_path)
    for stage in FAILURE_STAGES:
        assert UnitOutcome(unit, error="broken", failure_stage=stage).failure_stage == stage
    with pytest.raises(ValueError, match="'decode' is not one of index, read, transcode, score"):
        UnitOutcome(unit, error="broken", failure_stage="decode")
