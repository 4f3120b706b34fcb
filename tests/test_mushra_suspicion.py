"""The report of suspicious sessions: too fast, flat, one pattern, copied ratings, shared address."""

from __future__ import annotations

import pytest

from codecbench.listening_test import flow
from codecbench.listening_test.report import compute_results, results_text
from codecbench.listening_test.screening import screening_rule
from codecbench.listening_test.suspicion import suspicious_sessions
from codecbench.storage import open_database
from tests.mushra_helpers import (
    complete,
    conditions_of,
    play_all,
    prepare,
    start,
    store,
    submit,
    to_trials,
    write_test_files,
)

EXPERT = {"reference": 100.0, "lowpass_3500": 20.0, "lowpass_7000": 55.0, "opus@6": 70.0, "codec2@3.2": 40.0}
SCRIPT = {"reference": 100.0, "lowpass_3500": 10.0, "lowpass_7000": 30.0, "opus@6": 35.0, "codec2@3.2": 75.0}


@pytest.fixture(scope="module")
def rated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("suspicion")
    database = open_database(f"sqlite:///{folder / 'db.sqlite3'}")
    test = store(database, prepare(write_test_files(folder, num_items=2, duration_s=4.0, training=False)))
    complete(database, start(database, test), rate=EXPERT.get)  # participant 1: careful
    complete(database, start(database, test), rate=SCRIPT.get)  # 2 and 3: the same script
    complete(database, start(database, test), rate=SCRIPT.get)
    complete(database, start(database, test), rate=lambda condition: 50.0)  # 4: flat

    hasty = to_trials(database, start(database, test))  # 5: each version half a second, then rates
    while hasty.stage == "trials":
        play_all(database, hasty, listened_s=0.55)
        names = conditions_of(database, hasty)
        hasty = submit(database, hasty, {s.token: EXPERT[names[s.token]] - 1 for s in hasty.trial.stimuli}).view

    for key in ("a", "b", "c"):  # 6-8: three browsers behind one address, not rating yet
        with database.session() as session:
            flow.start_session(session, test.link_token, {}, browser_key=key, address="203.0.113.9")
    with database.session() as session:
        flags = suspicious_sessions(session, test.id).set_index("participant")["flags"]
    yield flags, database, test
    database.close()


def test_careful_raters_are_not_flagged(rated):
    flags, _, _ = rated
    assert "P1" not in flags.index


def test_a_script_rating_like_another_is_flagged(rated):
    flags, _, _ = rated
    assert "same ratings as P3 on every shared item" in flags["P2"]
    assert "same ratings as P2 on every shared item" in flags["P3"]


def test_flat_and_too_fast_sessions_are_flagged(rated):
    flags, _, _ = rated
    assert "flat: all 10 ratings are 50" in flags["P4"]
    assert "too fast: median trial 2.8 s, shorter than the item (4.0 s)" in flags["P5"]
    assert "too fast" not in flags.get("P2", "")


def test_sessions_from_one_address_are_flagged(rated):
    flags, _, _ = rated
    for participant in ("P6", "P7", "P8"):
        assert "shared address: 3 sessions of this test came from the same address" in flags[participant]


def test_the_results_report_lists_them_without_excluding_anyone(rated):
    _, database, test = rated
    with database.session() as session:
        results = compute_results(session, test.id, screening_rule("none"))
    text = results_text(results)
    assert "Suspicious sessions (7; flagged for you to check, not excluded):" in text
    assert set(results.ratings["participant"]) == {"P1", "P2", "P3", "P4", "P5"}
