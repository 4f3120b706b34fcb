"""The evaluation runner: units of work into the database (SQLite and PostgreSQL), resumption,
failures, samples and kept audio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile
from sqlalchemy import func, select

from codecbench.audio import load_audio
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import (
    AudioFile,
    SkippedUtterance,
    TestSet,
    Utterance,
    draw_sample,
    load_testset,
    parse_testset_spec,
    sampled_skipped,
)
from codecbench.evaluation.executor import Executor, LocalExecutor
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.progress import ProgressCounter
from codecbench.evaluation.runner import (
    EvaluationRequest,
    missing_scoring,
    plan_evaluation,
    run_evaluation,
)
from codecbench.evaluation.store import StoredUnit
from codecbench.storage.evaluation_tables import EvalScoreRow, EvalTestSetRow, EvalUnitRow, EvalUtteranceRow
from tests.corpora import clip, make_aishell1, make_folder, make_librispeech, write_pcm

CHEAP = ScoringConfig(("pesq", "stoi", "sisnr"))
OPUS_AND_ANCHOR = (Condition("opus", 6.0), Condition("opus", 12.0), Condition("lowpass_3500"))
OPUS_AND_ANCHORS = (*OPUS_AND_ANCHOR, Condition("lowpass_7000"))


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "home"))


class CountingExecutor(Executor):
    """A real :class:`LocalExecutor` that also records the units it was given."""

    def __init__(self, workers: int = 1) -> None:
        self.inner = LocalExecutor(workers, batch_size=2)
        self.units = []

    def run(self, units):
        units = list(units)
        self.units += units
        yield from self.inner.run(units)

    def close(self) -> None:
        self.inner.close()


def run(database, request: EvaluationRequest, workers: int = 1) -> tuple:
    with CountingExecutor(workers) as executor:
        progress = ProgressCounter()
        summary = run_evaluation(database, plan_evaluation(request), executor, progress)
    return summary, executor.units, progress


def count(database, table) -> int:
    with database.session(read_only=True) as session:
        return session.scalar(select(func.count()).select_from(table))


def test_a_run_with_opus_and_anchors_over_two_mini_test_sets_fills_the_database(tmp_path, database):
    librispeech = make_librispeech(tmp_path / "corpora")["test-clean"]
    aishell = make_aishell1(tmp_path / "aishell", packed=True)
    request = EvaluationRequest(
        testsets=(parse_testset_spec(f"librispeech-test-clean={tmp_path / 'corpora'}"),
                  parse_testset_spec(f"aishell1-test={tmp_path / 'aishell'}")),
        conditions=OPUS_AND_ANCHORS, scoring=ScoringConfig(("visqol", *CHEAP.metrics)), keep_audio_dir=tmp_path / "kept",
    )
    summary, units, progress = run(database, request)

    usable = len(librispeech.texts) + len(aishell.texts)
    skipped = len(librispeech.skipped) + len(aishell.skipped)
    assert len(units) == usable * 4 and progress.done == progress.total == (usable + skipped) * 4
    assert count(database, EvalUnitRow) == (usable + skipped) * 4
    assert count(database, EvalScoreRow) == usable * 4 * 4  # visqol (speech), pesq_wb, stoi, sisnr
    with database.session(read_only=True) as session:
        testsets = {row.name: row for row in session.scalars(select(EvalTestSetRow))}
        assert testsets["aishell1-test"].total_utterances == len(aishell.texts)
        assert testsets["librispeech-test-clean"].skipped_utterances == len(librispeech.skipped)
        texts = dict(session.execute(select(EvalUtteranceRow.name, EvalUtteranceRow.text)).all())
        assert all(texts[name] == text for name, text in {**librispeech.texts, **aishell.texts}.items())
        failures = session.scalars(select(EvalUnitRow).where(EvalUnitRow.error.is_not(None))).all()
        assert len(failures) == skipped * 4
        assert all(unit.failure_stage == "index" and "skipped by the test-set loader" in unit.error for unit in failures)
        scores = session.scalars(select(EvalScoreRow)).all()
    assert all(score.error is None and math.isfinite(score.value) for score in scores)
    assert {(s.metric, s.protocol) for s in scores} == {
        ("visqol", "speech"), ("pesq_wb", "p862.2-wb-16k"), ("stoi", "aligned-10k"), ("sisnr", "aligned")}
    cells = {(cell.testset, cell.condition): cell for cell in summary.cells}
    assert cells[("aishell1-test", "opus@6")].complete == len(aishell.texts)
    assert cells[("aishell1-test", "opus@6")].failed == len(aishell.skipped)
    assert summary.failed == skipped * 4
    assert cells[("librispeech-test-clean", "lowpass_7000")].complete == len(librispeech.texts)

    utterance = next(iter(aishell.texts))
    kept = tmp_path / "kept" / "aishell1-test" / "opus@12" / f"{utterance}.flac"
    reconstruction = load_audio(kept)
    assert reconstruction.num_samples == aishell.audio[utterance].size
    assert np.corrcoef(reconstruction.samples, aishell.audio[utterance])[0, 1] > 0.9


def test_the_same_run_again_computes_nothing_and_new_metrics_compute_only_themselves(tmp_path, database):
    make_folder(tmp_path / "clips", 3)
    spec = parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}")
    request = EvaluationRequest(testsets=(spec,), conditions=OPUS_AND_ANCHOR[:2], scoring=ScoringConfig(("sisnr",)))
    first, units, _ = run(database, request)
    assert first.computed == len(units) == 6
    with database.session(read_only=True) as session:
        before = {(s.unit_id, s.metric): (s.id, s.value, s.created_at) for s in session.scalars(select(EvalScoreRow))}

    again, units, progress = run(database, request)
    assert again.computed == 0 and units == [] and progress.done == progress.total == 6

    more = EvaluationRequest(testsets=(spec,), conditions=OPUS_AND_ANCHOR[:2], scoring=ScoringConfig(("sisnr", "stoi")))
    extended, units, _ = run(database, more)
    assert extended.computed == 6 and {unit.scoring.metrics for unit in units} == {("stoi",)}
    with database.session(read_only=True) as session:
        after = {(s.unit_id, s.metric): (s.id, s.value, s.created_at) for s in session.scalars(select(EvalScoreRow))}
    assert len(after) == 12 and all(after[key] == value for key, value in before.items())


def test_failures_are_stored_with_their_error_and_retried_only_when_asked(tmp_path, database):
    folder = tmp_path / "clips"
    make_folder(folder, 2)
    (folder / "garbage.wav").write_bytes(b"not audio at all")
    write_pcm(folder / "short.wav", clip(5, seconds=0.3))
    write_pcm(folder / "silent.wav", np.zeros(16_000, dtype=np.float32))
    request = EvaluationRequest(testsets=(parse_testset_spec(f"mini=folder:{folder}"),),
                                conditions=(Condition("opus", 6.0),), scoring=ScoringConfig(("sisnr", "stoi")))
    summary, units, progress = run(database, request)
    assert len(units) == 5 and progress.failed == 3
    (cell,) = summary.cells
    assert (cell.units, cell.complete, cell.failed) == (5, 2, 3)
    with database.session(read_only=True) as session:
        errors = {
            name: (stage, error)
            for name, stage, error in session.execute(
                select(EvalUtteranceRow.name, EvalUnitRow.failure_stage, EvalUnitRow.error).join(EvalUnitRow)
            )
        }
        silent_scores = session.scalars(
            select(EvalScoreRow).join(EvalUnitRow).join(EvalUtteranceRow).where(EvalUtteranceRow.name == "silent")
        ).all()
    assert errors["garbage"][0] == "read" and "not an audio file" in errors["garbage"][1]
    assert errors["short"][0] == "read" and "0.5" in errors["short"][1]
    assert errors["silent"] == (None, None)  # read and transcoded; every metric refuses silence
    assert {s.metric for s in silent_scores} == {"sisnr", "stoi"}
    assert all(s.value is None and "silent" in s.error for s in silent_scores)
    assert "3x" not in summary.describe() and "not an audio file" in summary.describe()

    assert run(database, request)[0].computed == 0
    write_pcm(folder / "short.wav", clip(5, seconds=1.0))
    retried, units, _ = run(database, EvaluationRequest(**{**request.__dict__, "retry_failed": True}))
    assert sorted(unit.utterance.id for unit in units) == ["garbage", "short", "silent"]
    (cell,) = retried.cells
    assert (cell.complete, cell.failed) == (3, 2)
    assert count(database, EvalScoreRow) == 3 * 2 + 2  # silent's two failed scores replaced, not duplicated


def test_a_pool_of_two_workers_stores_what_one_process_does(tmp_path, database):
    if database.dialect != "sqlite":
        pytest.skip("the pool is independent of the database; once is enough")
    make_folder(tmp_path / "clips", 4)
    spec = parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}")
    request = EvaluationRequest(testsets=(spec,), conditions=OPUS_AND_ANCHOR, scoring=CHEAP)
    summary, units, _ = run(database, request, workers=2)
    assert summary.computed == 12 and summary.failed == 0
    with database.session(read_only=True) as session:
        pooled = {(s.unit_id, s.metric): s.value for s in session.scalars(select(EvalScoreRow))}
    request_here = EvaluationRequest(testsets=(spec,), conditions=OPUS_AND_ANCHOR, scoring=CHEAP, retry_failed=True)
    assert run(database, request_here)[0].computed == 0  # nothing failed, so nothing to retry
    with database.session() as session:
        session.execute(EvalScoreRow.__table__.delete())
    run(database, request_here, workers=1)
    with database.session(read_only=True) as session:
        here = {(s.unit_id, s.metric): s.value for s in session.scalars(select(EvalScoreRow))}
    assert here.keys() == pooled.keys()
    assert all(here[key] == pytest.approx(pooled[key], abs=1e-6) for key in here)


def test_a_sample_of_n_holds_exactly_n_usable_and_skipped_utterances_and_samples_stay_nested(tmp_path):
    whole = TestSet(
        "mini", "folder", tmp_path,
        utterances=tuple(Utterance(f"u{index}", AudioFile(tmp_path / f"u{index}.wav")) for index in range(12)),
        skipped=tuple(SkippedUtterance(f"s{index}", f"s{index}.wav", "missing") for index in range(12)),
    )
    previous: set[str] = set()
    for limit in range(1, 25):
        sample = draw_sample(whole, limit, seed=5)
        ids = {u.id for u in sample.utterances} | {s.id for s in sampled_skipped(sample)}
        assert len(sample.utterances) + len(sampled_skipped(sample)) == len(ids) == limit
        assert previous <= ids
        previous = ids
    assert sampled_skipped(draw_sample(whole, 30, seed=5)) == whole.skipped


def test_a_sample_counts_the_skipped_utterances_the_draw_picked(tmp_path):
    corpus = make_librispeech(tmp_path)["test-clean"]
    spec = parse_testset_spec(f"librispeech-test-clean={tmp_path}")
    whole = load_testset(spec)
    assert sampled_skipped(whole) == whole.skipped
    for limit in (1, 2):
        sample = load_testset(spec, limit=limit, seed=3)
        in_scope = {record.id for record in sampled_skipped(sample)}
        assert in_scope <= corpus.skipped
        larger = {record.id for record in sampled_skipped(load_testset(spec, limit=limit + 1, seed=3))}
        assert in_scope <= larger  # nested, like the sample itself


def test_missing_scoring_asks_only_for_what_a_unit_lacks():
    config = ScoringConfig(("visqol", "pesq", "sisnr"), ("speech", "audio"))
    assert missing_scoring(config, None, None) is config
    done = StoredUnit(1, None, None, {("visqol", "speech"): True, ("visqol", "audio"): True,
                                      ("pesq_wb", "p862.2-wb-16k"): True, ("sisnr", "aligned"): False})
    assert missing_scoring(config, done, 16_000) is None
    retry = missing_scoring(config, done, 16_000, retry_failed=True)
    assert retry.metrics == ("sisnr",)
    partial = StoredUnit(1, None, None, {("visqol", "speech"): True, ("sisnr", "aligned"): True})
    needed = missing_scoring(config, partial, 16_000)
    assert needed.metrics == ("visqol", "pesq") and needed.visqol_protocols == ("audio",)
    narrow = missing_scoring(config, StoredUnit(1, None, None, {**done.scores}), 8_000)
    assert narrow.metrics == ("pesq",)  # at 8 kHz pesq means pesq_nb, which is not stored
    failed = StoredUnit(1, "cannot read", "read")
    assert missing_scoring(config, failed, None) is None
    assert missing_scoring(config, failed, None, retry_failed=True) is config
    assert missing_scoring(config, StoredUnit(1, "skipped by the loader", "index"), None) is config


def test_an_unknown_codec_or_a_wrong_root_fails_before_anything_runs(tmp_path):
    make_folder(tmp_path / "clips", 1)
    spec = parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}")
    with pytest.raises(ValueError, match="unknown codec 'opsu'.*Did you mean opus"):
        plan_evaluation(EvaluationRequest(testsets=(spec,), conditions=(Condition("opsu", 6.0),)))
    with pytest.raises(ValueError, match="does not run at 3 kbps"):
        plan_evaluation(EvaluationRequest(testsets=(spec,), conditions=(Condition("opus", 3.0),)))
    from codecbench.evaluation.datasets import TestSetError

    with pytest.raises(TestSetError, match="no such file or folder"):
        plan_evaluation(EvaluationRequest(testsets=(parse_testset_spec(f"librispeech-test-clean={tmp_path / 'nope'}"),),
                                          conditions=OPUS_AND_ANCHOR))
    with pytest.raises(ValueError, match="given more than once"):
        EvaluationRequest(testsets=(spec, spec), conditions=OPUS_AND_ANCHOR)


def test_a_stored_sample_rate_lets_a_16_khz_and_an_8_khz_test_set_share_one_run(tmp_path, database):
    soundfile.write(tmp_path / "narrow.wav", clip(1, sample_rate_hz=8_000), 8_000)
    make_folder(tmp_path / "wide", 1)
    narrow = tmp_path / "narrowset"
    narrow.mkdir()
    (tmp_path / "narrow.wav").rename(narrow / "a.wav")
    request = EvaluationRequest(
        testsets=(parse_testset_spec(f"wide=folder:{tmp_path / 'wide'}"), parse_testset_spec(f"narrow=folder:{narrow}")),
        conditions=(Condition("opus", 6.0),), scoring=ScoringConfig(("pesq",)),
    )
    run(database, request)
    with database.session(read_only=True) as session:
        metrics = dict(session.execute(
            select(EvalUtteranceRow.name, EvalScoreRow.metric).join(EvalUnitRow, EvalUnitRow.utterance_id == EvalUtteranceRow.id)
            .join(EvalScoreRow, EvalScoreRow.unit_id == EvalUnitRow.id)
        ).all())
    assert metrics == {"utt_0000": "pesq_wb", "a": "pesq_nb"}
    assert run(database, request)[0].computed == 0


def test_a_second_file_with_the_same_id_is_skipped_under_its_own_id_and_the_kept_one_completes(tmp_path, database):
    folder = tmp_path / "clips"
    write_pcm(folder / "a.wav", clip(1))
    soundfile.write(folder / "a.flac", clip(2), 16_000)
    spec = parse_testset_spec(f"mini=folder:{folder}")
    testset = load_testset(spec)
    assert [u.id for u in testset.utterances] == ["a"]
    assert [(s.id, s.location.endswith("a.wav")) for s in testset.skipped] == [("a#dup1", True)]
    request = EvaluationRequest(testsets=(spec,), conditions=(Condition("opus", 6.0),), scoring=ScoringConfig(("sisnr",)))
    summary, _, progress = run(database, request)
    (cell,) = summary.cells
    assert (cell.units, cell.complete, cell.failed) == (2, 1, 1)
    assert progress.total == progress.done == 2
    with database.session(read_only=True) as session:
        units = dict(session.execute(select(EvalUtteranceRow.name, EvalUnitRow.failure_stage).join(EvalUnitRow)).all())
    assert units == {"a": None, "a#dup1": "index"}


def test_kept_audio_names_are_unique_per_utterance_id_and_per_checkpoint(tmp_path):
    from dataclasses import replace

    from codecbench.evaluation.conditions import resolve_conditions
    from codecbench.evaluation.work import kept_audio_path

    (opus,) = resolve_conditions([Condition("opus", 6.0)])
    ids = ["clip.v1", "clip.v2", "a b", "a_b", "a%20b", "sub/a", "sub%2Fa", ".", ".."]
    paths = [kept_audio_path(tmp_path, "mini", opus, utterance_id) for utterance_id in ids]
    assert len(set(paths)) == len(ids)
    assert all(path.parent == tmp_path / "mini" / "opus@6" and path.suffix == ".flac" for path in paths)
    assert paths[0].name == "clip.v1.flac"
    first = replace(opus, checkpoint="hub:owner/model@0123456789abcdef")
    second = replace(opus, checkpoint="sha256:fedcba9876543210")
    folders = {kept_audio_path(tmp_path, "mini", condition, "a").parent.name for condition in (opus, first, second)}
    assert folders == {"opus@6", "opus@6+0123456", "opus@6+sha256-fedcba98"}


def test_a_keep_audio_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    make_folder(tmp_path / "clips", 1)
    (tmp_path / "a_file").write_text("not a folder")
    request = EvaluationRequest(testsets=(parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}"),),
                                conditions=(Condition("opus", 6.0),), keep_audio_dir=tmp_path / "a_file" / "kept")
    with pytest.raises(ValueError, match="--keep-audio .*a_file/kept: cannot write reconstructions there"):
        plan_evaluation(request)


def test_a_reconstruction_that_cannot_be_kept_leaves_its_scores_and_is_reported(tmp_path, database):
    if database.dialect != "sqlite":
        pytest.skip("about the kept files, not the database")
    make_folder(tmp_path / "clips", 2)
    request = EvaluationRequest(testsets=(parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}"),),
                                conditions=(Condition("opus", 6.0),), scoring=ScoringConfig(("sisnr",)),
                                keep_audio_dir=tmp_path / "kept")
    plan = plan_evaluation(request)
    (tmp_path / "kept" / "mini").write_text("the test set's folder is taken by a file")  # e.g. a full disk later
    with LocalExecutor(1, batch_size=2) as executor:
        summary = run_evaluation(database, plan, executor)
    (cell,) = summary.cells
    assert (cell.complete, cell.failed) == (2, 0)
    assert len(summary.unkept_audio) == 2
    assert "2 reconstruction(s) could not be kept (--keep-audio); their scores are stored" in summary.describe()
    with database.session(read_only=True) as session:
        units = session.scalars(select(EvalUnitRow)).all()
    assert all(unit.error is None and unit.audio_path is None for unit in units)


def test_a_failed_unit_counts_only_under_the_metrics_that_were_asked_of_it(tmp_path, database):
    from codecbench.evaluation.leaderboard import Leaderboard
    from codecbench.evaluation.results import export_scores

    folder = tmp_path / "clips"
    make_folder(folder, 2)
    (folder / "garbage.wav").write_bytes(b"not audio at all")
    spec = parse_testset_spec(f"mini=folder:{folder}")

    def evaluate(kbps: float, metric: str) -> None:
        run(database, EvaluationRequest(testsets=(spec,), conditions=(Condition("opus", kbps),),
                                        scoring=ScoringConfig((metric,))))

    def stoi_cells() -> dict:
        with database.session(read_only=True) as session:
            board = Leaderboard.from_database(session, "stoi")
            exported = export_scores(session, metrics=["stoi"])
        failed_rows = exported[exported["metric"] == ""]
        return ({row.operating_point: (row.n, row.failures) for row in board.cells.itertuples()},
                sorted(failed_rows["operating_point"]))

    evaluate(6.0, "sisnr")
    evaluate(12.0, "stoi")
    assert stoi_cells() == ({"12 kbps": (2, 1)}, ["12 kbps"])  # opus at 6 kbps was never asked for STOI
    evaluate(6.0, "stoi")  # the garbage unit stays failed (not retried), now asked for STOI too
    assert stoi_cells() == ({"6 kbps": (2, 1), "12 kbps": (2, 1)}, ["12 kbps", "6 kbps"])
    with database.session(read_only=True) as session:
        sisnr = Leaderboard.from_database(session, "sisnr").cells
    assert [(row.operating_point, row.n, row.failures) for row in sisnr.itertuples()] == [("6 kbps", 2, 1)]


def test_units_in_flight_when_a_scoring_worker_dies_are_left_for_the_next_run(tmp_path, database):
    import threading
    import time

    from codecbench.evaluation.metrics.pool import score_batch_pair

    if database.dialect != "sqlite":
        pytest.skip("about the worker pool, not the database")
    make_folder(tmp_path / "clips", 3)
    request = EvaluationRequest(testsets=(parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}"),),
                                conditions=OPUS_AND_ANCHOR, scoring=ScoringConfig(("sisnr",)))
    executor = LocalExecutor(2, batch_size=3)
    killed = []

    def kill_the_first_workers() -> None:  # as the kernel's OOM killer would, with pairs queued
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            pool = executor._pool
            queued = list(pool._executor._pending_work_items.values()) if pool is not None else []
            # Only once a pair is queued: workers killed while merely warming up are replaced
            # at the next submission, and then nothing is in flight to be left over.
            if any(item.fn is score_batch_pair for item in queued):
                for process in (pool._executor._processes or {}).values():
                    process.kill()
                    killed.append(process.pid)
            time.sleep(0.002)

    killer = threading.Thread(target=kill_the_first_workers)
    killer.start()
    with executor:
        summary = run_evaluation(database, plan_evaluation(request), executor)
    killer.join()
    assert killed
    left = len(summary.unfinished)
    assert left >= 1 and summary.computed == 9 - left and summary.failed == 0
    assert f"{left} unit(s) were left uncomputed because a scoring worker process died" in summary.describe()
    assert "run the same command again" in summary.describe()
    assert count(database, EvalUnitRow) == count(database, EvalScoreRow) == 9 - left
    again, units, _ = run(database, request)
    assert len(units) == left and again.computed == left and again.failed == 0
    assert count(database, EvalScoreRow) == 9


def test_exports_say_which_sample_a_result_came_from(tmp_path, database):
    from codecbench.evaluation.leaderboard import Leaderboard
    from codecbench.evaluation.results import export_scores

    make_folder(tmp_path / "clips", 4)
    make_folder(tmp_path / "more", 2, first_seed=10)
    sampled = EvaluationRequest(testsets=(parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}"),),
                                conditions=(Condition("opus", 6.0),), scoring=ScoringConfig(("sisnr",)), limit=2, seed=7)
    whole = EvaluationRequest(testsets=(parse_testset_spec(f"more=folder:{tmp_path / 'more'}"),),
                              conditions=(Condition("opus", 6.0),), scoring=ScoringConfig(("sisnr",)))
    run(database, sampled)
    run(database, whole)
    with database.session(read_only=True) as session:
        exported = export_scores(session)
        board = Leaderboard.from_database(session, "sisnr").csv_frame()
    assert dict(exported.groupby("testset")["sample"].agg(lambda values: set(values))) == {
        "mini": {"--limit 2 --seed 7"}, "more": {"all"}}
    assert dict(zip(board["testset"], board["sample"])) == {"mini": "--limit 2 --seed 7", "more": "all"}
    assert list(exported.columns[:4]) == list(board.columns[:4]) == ["testset", "testset_kind", "testset_utterances", "sample"]


def hold_leases(database, plan, run_id: int, how_many: int) -> list[tuple[int, int]]:
    """Claim the first ``how_many`` units of the plan's first condition for another run, as a
    second ``evaluate`` on the same database would while computing them."""
    from codecbench.evaluation.store import claim_unit, sync_condition, sync_testset

    with database.session() as session:
        condition_id = sync_condition(session, plan.conditions[0])
        _, utterances = sync_testset(session, plan.testsets[0], plan.skipped[plan.testsets[0].name])
        held = [(condition_id, row.row_id) for row in list(utterances.values())[:how_many]]
        for condition, utterance in held:
            assert claim_unit(session, run_id, condition, utterance)
    return held


def test_units_another_run_is_computing_are_left_to_it_and_taken_once_it_ends(tmp_path, database):
    from codecbench.evaluation.store import create_run, finish_run
    from codecbench.storage.evaluation_tables import EvalUnitLeaseRow

    make_librispeech(tmp_path / "corpora")
    request = EvaluationRequest(testsets=(parse_testset_spec(f"librispeech-test-clean={tmp_path / 'corpora'}"),),
                                conditions=OPUS_AND_ANCHOR, scoring=CHEAP)
    plan = plan_evaluation(request)
    with database.session() as session:
        other_run = create_run(session, "test", {})
    held = hold_leases(database, plan, other_run, 2)

    summary, planned, _ = run(database, request)
    assert summary.left_to_other_runs == 2
    assert "2 unit(s) were being computed by another run on this database" in summary.describe()
    with database.session(read_only=True) as session:
        stored = set(session.execute(select(EvalUnitRow.condition_id, EvalUnitRow.utterance_id)))
        leases = set(session.execute(select(EvalUnitLeaseRow.condition_id, EvalUnitLeaseRow.utterance_id)))
    assert not stored & set(held)  # not computed twice
    assert leases == set(held)  # this run's own leases ended with it; the other's stand

    with database.session() as session:
        finish_run(session, other_run)
    again, _, _ = run(database, request)
    assert again.left_to_other_runs == 0 and again.computed == 2
    assert count(database, EvalUnitLeaseRow) == 0


def test_a_killed_runs_lease_ends_when_its_process_is_gone_here_or_at_its_expiry_elsewhere(tmp_path, database):
    import socket
    import subprocess
    import sys
    from datetime import timedelta

    from sqlalchemy import update

    from codecbench.evaluation.store import claim_unit, create_run
    from codecbench.storage.base import utc_now
    from codecbench.storage.evaluation_tables import EvalUnitLeaseRow

    make_librispeech(tmp_path / "corpora")
    plan = plan_evaluation(EvaluationRequest(
        testsets=(parse_testset_spec(f"librispeech-test-clean={tmp_path / 'corpora'}"),),
        conditions=OPUS_AND_ANCHOR, scoring=CHEAP))
    with database.session() as session:
        killed, later = create_run(session, "test", {}), create_run(session, "test", {})
    [(condition_id, utterance_id)] = hold_leases(database, plan, killed, 1)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with database.session() as session:
        assert not claim_unit(session, later, condition_id, utterance_id)  # its process (this one) is alive
        session.execute(update(EvalUnitLeaseRow).values(host="another-host", pid=gone.pid))
        assert not claim_unit(session, later, condition_id, utterance_id)  # a pid on another host says nothing
        session.execute(update(EvalUnitLeaseRow).values(expires_at=utc_now() - timedelta(seconds=1)))
        assert claim_unit(session, later, condition_id, utterance_id)  # until the lease expires

        session.execute(update(EvalUnitLeaseRow).values(run_id=killed, host=socket.gethostname(), pid=gone.pid,
                                                        expires_at=utc_now() + timedelta(hours=1)))
        assert claim_unit(session, later, condition_id, utterance_id)  # here, a dead process frees it at once


def test_an_utterances_reference_is_analysed_once_for_all_its_conditions(tmp_path, database, monkeypatch):
    """In one process the executor's windows keep an utterance's conditions together, so ViSQOL's
    reference analysis is made once per utterance, not once per condition."""
    from codecbench.evaluation.metrics.visqol import fast_engine

    if database.dialect != "sqlite":
        pytest.skip("about the scoring, not the database")
    engine = fast_engine()
    engine.clear_reference_cache()
    analysed = []
    original = engine.analyse_reference
    monkeypatch.setattr(engine, "analyse_reference", lambda *args: analysed.append(1) or original(*args))
    make_folder(tmp_path / "clips", 3, seconds=2.0)
    request = EvaluationRequest(testsets=(parse_testset_spec(f"mini=folder:{tmp_path / 'clips'}"),),
                                conditions=OPUS_AND_ANCHOR, scoring=ScoringConfig(("visqol",)))
    summary, units, _ = run(database, request)
    assert summary.computed == 9 and summary.failed == 0
    assert len(analysed) == 3
