"""MUSHRA tests whose items are utterances of a test set the evaluation engine stored, and the
correlation of their MUSHRA means with the stored objective scores of the same conditions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.results import export_scores
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.listening_test.design import prepare_test
from codecbench.listening_test.report import compute_results
from codecbench.listening_test.screening import screening_rule
from codecbench.listening_test.sources import load_items, objective_scores
from codecbench.listening_test.spec import SpecError
from codecbench.listening_test.spec_yaml import parse_test_spec
from tests.corpora import make_librispeech
from tests.mushra_helpers import complete, start, store

UTTERANCES = ("1089-134686-0000", "1089-134686-0001", "121-121726-0000")
CONDITIONS = (Condition("opus", 6.0), Condition("opus", 12.0), Condition("lowpass_3500"), Condition("lowpass_7000"))
SPEC = f"""
name: from LibriSpeech
items: {{test_set: librispeech-test-clean, utterances: [{", ".join(UTTERANCES)}]}}
conditions: [{{codec: opus, bitrate_kbps: 6}}, {{codec: opus, bitrate_kbps: 12}}]
items_per_participant: 3
"""


@pytest.fixture(autouse=True)
def _private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "home"))


@pytest.fixture
def scored(tmp_path, database):
    """The database after `codecbench evaluate` on a mini LibriSpeech test-clean; the corpus."""
    corpus = make_librispeech(tmp_path / "corpora")["test-clean"]
    request = EvaluationRequest(
        testsets=(parse_testset_spec(f"librispeech-test-clean={tmp_path / 'corpora'}"),),
        conditions=CONDITIONS, scoring=ScoringConfig(("pesq", "sisnr")),
    )
    with LocalExecutor() as executor:
        run_evaluation(database, plan_evaluation(request), executor)
    return database, corpus


def test_items_are_read_from_the_test_set_the_database_holds(scored, tmp_path):
    database, corpus = scored
    spec = parse_test_spec(SPEC, base_dir=tmp_path)
    with database.session(read_only=True) as session:
        items = load_items(spec, session)
    assert [item.name for item in items] == list(UTTERANCES)
    for item in items:
        np.testing.assert_array_equal(item.audio.samples, corpus.audio[item.name])
        assert item.source == f"testset:librispeech-test-clean:{item.name}" and len(item.source_sha256) == 64


def test_unknown_test_sets_and_utterances_are_refused_with_what_the_database_holds(scored, tmp_path):
    database, _ = scored
    with database.session(read_only=True) as session:
        for text, message in (
            (SPEC.replace("test_set: librispeech-test-clean", "test_set: aishell1-test"),
             "test set 'aishell1-test' is not in the database \\(it holds: librispeech-test-clean\\)"),
            (SPEC.replace("121-121726-0000", "121-121726-0099"), "has no utterance '121-121726-0099'"),
            (SPEC.replace("121-121726-0000", "1089-134686-0042"), "was skipped by its loader"),
        ):
            with pytest.raises(SpecError, match=message):
                load_items(parse_test_spec(text, base_dir=tmp_path), session)
    with pytest.raises(SpecError, match="read from the database that holds the test set"):
        load_items(parse_test_spec(SPEC, base_dir=tmp_path), None)


def test_results_correlate_mushra_means_with_the_stored_scores_of_the_same_utterances(scored, tmp_path):
    database, _ = scored
    with database.session(read_only=True) as session:
        prepared = prepare_test(parse_test_spec(SPEC, base_dir=tmp_path), session)
        export = export_scores(session)
    test = store(database, prepared)
    with database.session(read_only=True) as session:
        scores = objective_scores(session, test.id)
    expected = (
        export[export["utterance"].isin(UTTERANCES) & (export["metric"] != "")]
        .assign(condition=lambda frame: frame["codec"] + np.where(frame["nominal_kbps"].notna(),
                                                                  "@" + frame["nominal_kbps"].map("{:g}".format), ""))
        .groupby(["condition", "metric"])["value"].mean()
    )
    assert set(scores["condition"]) == {"opus@6", "opus@12", "lowpass_3500", "lowpass_7000"}
    assert set(scores["metric"]) == {"pesq_wb", "sisnr"}
    for row in scores.itertuples():
        assert row.score == pytest.approx(expected[(row.condition, row.metric)], rel=1e-12)

    quality = {"reference": 100, "opus@12": 80, "lowpass_7000": 70, "opus@6": 40, "lowpass_3500": 20}
    for participant in range(2):
        complete(database, start(database, test, PROLIFIC_PID=f"p{participant}"),
                 rate=lambda condition, participant=participant: quality[condition] - participant)
    with database.session(read_only=True) as session:
        results = compute_results(session, test.id, screening_rule("none"))
    correlations = {c.metric: c for c in results.correlations}
    assert set(correlations) == {"pesq_wb", "sisnr"}
    assert correlations["pesq_wb"].n_conditions == 4 and -1 <= correlations["pesq_wb"].pearson_r <= 1


def test_a_test_from_files_has_no_objective_scores(scored, tmp_path):
    from tests.mushra_helpers import prepare, write_test_files

    database, _ = scored
    test = store(database, prepare(write_test_files(tmp_path / "files")))
    with database.session(read_only=True) as session:
        assert objective_scores(session, test.id) is None
        assert isinstance(export_scores(session), pd.DataFrame)
