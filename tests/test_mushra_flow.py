"""The participant flow and submissions, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select, update

from codecbench.listening_test import flow, serving, submission
from codecbench.listening_test.assignment import item_rating_counts, least_rated_items
from codecbench.listening_test.design import list_tests, set_test_status
from codecbench.listening_test.ratings import load_ratings, progress_of
from codecbench.storage.listening_tables import PlayEventRow, RatingRow, StimulusAudioRow
from tests.mushra_helpers import (
    complete,
    play_all,
    prepare,
    serve_trial,
    start,
    store,
    submit,
    to_trials,
    write_test_files,
)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare(write_test_files(tmp_path_factory.mktemp("spec"), num_items=4))


@pytest.fixture(scope="module")
def prepared_crowd(tmp_path_factory):
    return prepare(write_test_files(
        tmp_path_factory.mktemp("crowd"), num_items=4, require_100=True, level_check=False,
        crowd={"completion_code": "C0MPLETE", "redirect_url": "https://app.prolific.com/done?cc=C0MPLETE"},
    ))


@pytest.fixture
def mushra_test(database, prepared):
    return store(database, prepared)


@pytest.fixture
def crowd_test(database, prepared_crowd):
    return store(database, prepared_crowd)


def test_the_design_is_stored_before_anyone_rates(database, mushra_test):
    assert mushra_test.items == ("utt0", "utt1", "utt2", "utt3")
    assert [(c.name, c.kind) for c in mushra_test.conditions] == [
        ("reference", "reference"), ("lowpass_3500", "anchor_low"), ("lowpass_7000", "anchor_mid"),
        ("opus@6", "system"), ("codec2@3.2", "system")]
    with database.session() as session:
        assert [t.id for t in list_tests(session)] == [mushra_test.id]
        assert session.scalar(select(func.count()).select_from(StimulusAudioRow)) == 4 * 5


def test_a_participant_goes_through_every_stage_in_order(database, mushra_test):
    view = start(database, mushra_test)
    assert view.stage == "instructions" and view.test_name == "Listening test"  # the name is internal
    assert "rate it 100" in view.instructions
    with database.session() as session:
        view = flow.advance(session, view.session_token, "instructions")
        assert view.stage == "level_check" and view.level_check_token
        level_check_token = view.level_check_token
        again = flow.advance(session, view.session_token, "instructions")  # a repeated click changes nothing
        assert again.stage == "level_check"
        view = flow.advance(session, view.session_token, "level_check")
    trial = view.trial
    assert view.stage == "trials" and trial.is_training and trial.number == 0 and trial.total == 2
    assert [s.label for s in trial.stimuli] == ["A", "B", "C", "D", "E"]
    assert trial.reference_token == level_check_token
    numbers = []
    while view.stage == "trials":
        numbers.append(view.trial.number)
        play_all(database, view)
        view = submit(database, view, {s.token: 40.0 for s in view.trial.stimuli}).view
    assert numbers == [0, 1, 2]
    assert view.stage == "complete" and len(view.completion_code) == 10 and view.redirect_url is None
    with database.session() as session:
        ratings = load_ratings(session, mushra_test.id)
        with_training = load_ratings(session, mushra_test.id, include_training=True)
    assert len(ratings) == 2 * 5 and len(with_training) == 3 * 5
    assert set(ratings["condition"]) == {"reference", "lowpass_3500", "lowpass_7000", "opus@6", "codec2@3.2"}


def test_the_view_never_names_a_condition_or_a_file(database, mushra_test):
    view = to_trials(database, start(database, mushra_test))
    text = repr(view.to_dict())
    for secret in ("opus", "codec2", "lowpass", "3500", "7000", "utt0", "utt1", "clips", ".wav"):
        assert secret not in text


def test_trials_and_stimuli_are_in_random_order_and_labels_blind(database, mushra_test):
    orders = set()
    for _ in range(6):
        view = to_trials(database, start(database, mushra_test))
        with database.session() as session:
            row = flow.find_session(session, view.session_token)
            orders.add(tuple(s.stimulus.condition.name for s in row.trials[0].stimuli[1:]))
            assert row.trials[0].stimuli[0].stimulus.condition.name == "reference"
    assert len(orders) > 1


def test_a_reload_resumes_where_the_participant_was(database, mushra_test):
    view = to_trials(database, start(database, mushra_test))
    play_all(database, view)
    view = submit(database, view, {s.token: 70.0 for s in view.trial.stimuli}).view
    first_test_trial = view.trial.token
    with database.session() as session:
        resumed = flow.start_session(session, mushra_test.link_token, {"test": mushra_test.link_token, "session": view.session_token})
    assert resumed.stage == "trials" and resumed.trial.token == first_test_trial and resumed.trial.number == 1


def test_plays_logged_before_a_reload_still_count(database, mushra_test):
    view = to_trials(database, start(database, mushra_test))
    play_all(database, view)
    with database.session() as session:
        resumed = flow.session_view(session, view.session_token)
    assert all(s.played for s in resumed.trial.stimuli)
    submit(database, resumed, {s.token: 10.0 for s in resumed.trial.stimuli})


def test_a_crowd_id_resumes_and_cannot_take_the_test_twice(database, crowd_test):
    view = start(database, crowd_test, PROLIFIC_PID="worker-1", STUDY_ID="s1", SESSION_ID="x")
    assert view.stage == "instructions"
    again = start(database, crowd_test, PROLIFIC_PID="worker-1")
    assert again.session_token == view.session_token
    done = complete(database, view, rate=lambda condition: 100.0)
    assert done.completion_code == "C0MPLETE" and done.redirect_url.endswith("cc=C0MPLETE")
    after = start(database, crowd_test, PROLIFIC_PID="worker-1")
    assert after.stage == "complete" and after.session_token == view.session_token
    assert start(database, crowd_test, PROLIFIC_PID="worker-2").session_token != view.session_token
    with database.session() as session:
        progress = progress_of(session, crowd_test.id)
    assert progress.started == 2 and progress.completed == 1


def test_a_crowd_link_without_the_id_is_refused(database, crowd_test):
    with pytest.raises(flow.ParticipantRefusedError, match=r"lacks your participant ID \(PROLIFIC_PID\)"):
        start(database, crowd_test, STUDY_ID="s1")


def test_unknown_links_and_closed_tests_are_refused(database, mushra_test):
    with database.session() as session:
        with pytest.raises(flow.LinkNotValidError, match="This test link is not valid"):
            flow.start_session(session, "no-such-link", {})
        with pytest.raises(flow.LinkNotValidError):
            flow.session_view(session, "no-such-session")
        set_test_status(session, mushra_test.id, "closed")
    with pytest.raises(flow.ParticipantRefusedError, match="closed"):
        start(database, mushra_test)


def test_submission_rules_are_checked_on_the_server(database, crowd_test):
    view = to_trials(database, start(database, crowd_test, PROLIFIC_PID="p"))
    tokens = [s.token for s in view.trial.stimuli]
    all_rated = {token: 100.0 if i == 0 else 50.0 for i, token in enumerate(tokens)}

    def refused(ratings, match):
        with pytest.raises(flow.SubmissionRefusedError, match=match):
            submit(database, view, ratings)

    refused(all_rated, r"play every version before going on \(not yet: A, B, C, D, E\)")
    serve_trial(database, view)
    with database.session() as session:  # play all but the last
        for token in tokens[:-1]:
            submission.log_play(session, view.session_token, token, "start", position_s=0.0)
    refused(all_rated, r"not yet: E\)")
    play_all(database, view)
    refused({t: 50.0 for t in tokens}, "rate at least one version 100")
    refused({**all_rated, tokens[1]: 100.5}, r"The rating of B is 100.5; ratings go from 0 to 100")
    refused({**all_rated, tokens[1]: -1}, "ratings go from 0 to 100")
    refused({**all_rated, tokens[1]: float("nan")}, "The rating of B is not a number")
    refused({**all_rated, tokens[1]: True}, "The rating of B is not a number")
    refused({**all_rated, tokens[1]: "80"}, "The rating of B is not a number")
    refused({t: v for t, v in all_rated.items() if t != tokens[2]}, r"rate every version \(missing: C\)")
    refused({**all_rated, "forged-token": 50.0}, "not in this trial")
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RatingRow)) == 0
    result = submit(database, view, all_rated)
    assert not result.duplicate and result.view.trial.number == 1


def test_a_repeated_submission_is_idempotent_and_a_changed_one_refused(database, mushra_test):
    view = to_trials(database, start(database, mushra_test))
    play_all(database, view)
    ratings = {s.token: 60.0 for s in view.trial.stimuli}
    first = submit(database, view, ratings)
    second = submit(database, view, ratings)
    assert second.duplicate and second.view.trial.token == first.view.trial.token
    with pytest.raises(flow.SubmissionRefusedError, match="already submitted; its ratings are final"):
        submit(database, view, {**ratings, view.trial.stimuli[0].token: 61.0})
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RatingRow)) == 5


def test_trials_of_another_session_or_out_of_order_are_refused(database, mushra_test):
    mine = to_trials(database, start(database, mushra_test))
    theirs = to_trials(database, start(database, mushra_test))
    play_all(database, theirs)
    with database.session() as session:
        with pytest.raises(flow.SubmissionRefusedError, match="not part of your session"):
            submission.submit_trial(session, mine.session_token, theirs.trial.token, {})
        with pytest.raises(flow.SubmissionRefusedError, match="not part of your session"):
            submission.log_play(session, mine.session_token, theirs.trial.stimuli[0].token, "start", position_s=0)
        later = flow.find_session(session, mine.session_token).trials[2].token
        with pytest.raises(flow.SubmissionRefusedError, match="in the order they are shown"):
            submission.submit_trial(session, mine.session_token, later, {})


def test_a_submission_before_the_instructions_is_refused(database, mushra_test):
    view = start(database, mushra_test)
    with database.session() as session:
        trial = flow.find_session(session, view.session_token).trials[0].token
        with pytest.raises(flow.SubmissionRefusedError, match="read the instructions"):
            submission.submit_trial(session, view.session_token, trial, {})


def test_a_minimum_listening_time_is_enforced_from_stop_events(database, tmp_path):
    test = store(database, prepare(write_test_files(tmp_path, num_items=2, min_listen_s=2.0, training=False)))
    view = to_trials(database, start(database, test))
    play_all(database, view, listened_s=1.5)
    with pytest.raises(flow.SubmissionRefusedError, match="listen for at least 2 s to every version"):
        submit(database, view, {s.token: 50.0 for s in view.trial.stimuli})
    play_all(database, view, listened_s=0.5)
    submit(database, view, {s.token: 50.0 for s in view.trial.stimuli})


def test_play_events_are_validated_and_late_ones_ignored(database, mushra_test):
    view = to_trials(database, start(database, mushra_test))
    token = view.trial.stimuli[0].token
    with database.session() as session:
        with pytest.raises(flow.FlowError, match="play event kind 'jump'"):
            submission.log_play(session, view.session_token, token, "jump", position_s=0)
        with pytest.raises(flow.FlowError, match="listened_s must be a number"):
            submission.log_play(session, view.session_token, token, "stop", position_s=0, listened_s=float("inf"))
    play_all(database, view)
    submit(database, view, {s.token: 50.0 for s in view.trial.stimuli})
    with database.session() as session:
        before = session.scalar(select(func.count()).select_from(PlayEventRow))
        submission.log_play(session, view.session_token, token, "start", position_s=0)
        assert session.scalar(select(func.count()).select_from(PlayEventRow)) == before


def test_stimulus_audio_is_served_by_token_and_checked(database, mushra_test):
    view = to_trials(database, start(database, mushra_test))
    with database.session() as session:
        audio = serving.stimulus_audio(session, view.trial.stimuli[0].token)
        assert audio.media_type == "audio/wav" and audio.data[:4] == b"RIFF"
        with pytest.raises(flow.LinkNotValidError):
            serving.stimulus_audio(session, "unknown")
        row = flow.find_session(session, view.session_token).trials[1].stimuli[1]
        stimulus_id = row.stimulus_id
        session.execute(update(StimulusAudioRow).where(StimulusAudioRow.stimulus_id == stimulus_id)
                        .values(data=b"RIFF tampered"))
        serving.clear_stimulus_cache()
        with pytest.raises(serving.StimulusIntegrityError, match="does not match its SHA-256"):
            serving.stimulus_audio(session, row.token)


def test_items_are_assigned_fewest_ratings_first(database, mushra_test):
    """Eight participants rating 2 of 4 items each: every item is rated exactly 4 times."""
    for _ in range(8):
        complete(database, start(database, mushra_test))
    with database.session() as session:
        counts = item_rating_counts(session, mushra_test.id)
        ratings = load_ratings(session, mushra_test.id)
    assert sorted(counts.values()) == [4, 4, 4, 4]
    assert ratings.groupby("item")["participant"].nunique().tolist() == [4, 4, 4, 4]
    assert len(ratings) == 8 * 2 * 5 and not ratings["training"].any()


def test_least_rated_items_breaks_ties_at_random():
    counts = {1: 3, 2: 0, 3: 0, 4: 5, 5: 0}
    picks = {tuple(sorted(least_rated_items(counts, 2, random.Random(seed)))) for seed in range(30)}
    assert picks == {(2, 3), (2, 5), (3, 5)}
    assert sorted(least_rated_items(counts, 4, random.Random(0))) == [1, 2, 3, 5]
    with pytest.raises(ValueError):
        least_rated_items(counts, 6, random.Random(0))
