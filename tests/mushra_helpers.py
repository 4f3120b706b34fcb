"""Helpers for MUSHRA tests: a small test on disk, stored in a database, and a participant's steps."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import soundfile
import yaml

from codecbench.listening_test import flow, serving, submission
from codecbench.listening_test.design import PreparedTest, TestInfo, prepare_test, store_test
from codecbench.listening_test.spec_yaml import load_test_spec
from codecbench.storage import Database
from codecbench.storage.base import utc_now
from codecbench.synthetic import speech_like

ITEM_RATE_HZ = 16_000


def write_test_files(folder: Path, *, num_items: int = 4, duration_s: float = 1.5, **settings) -> Path:
    """Items (speech-like wav) and a test.yaml with opus@6 and codec2@3.2; returns the yaml path."""
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for index in range(num_items):
        path = folder / "clips" / f"utt{index}.wav"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, speech_like(duration_s, ITEM_RATE_HZ, seed=100 + index), ITEM_RATE_HZ)
        items.append(f"clips/{path.name}")
    document = {
        "name": "Opus against Codec 2",
        "items": items,
        "conditions": [{"codec": "opus", "bitrate_kbps": 6}, {"codec": "codec2", "bitrate_kbps": 3.2}],
        "items_per_participant": 2,
        **settings,
    }
    spec_path = folder / "test.yaml"
    spec_path.write_text(yaml.safe_dump(document, sort_keys=False))
    return spec_path


def prepare(spec_path: Path) -> PreparedTest:
    return prepare_test(load_test_spec(spec_path))


def store(database: Database, prepared: PreparedTest) -> TestInfo:
    with database.session() as session:
        return store_test(session, prepared)


def start(database: Database, test: TestInfo, **params: str) -> flow.SessionView:
    with database.session() as session:
        return flow.start_session(session, test.link_token, params)


def to_trials(database: Database, view: flow.SessionView) -> flow.SessionView:
    """Go through the instructions and the level check."""
    with database.session() as session:
        view = flow.advance(session, view.session_token, "instructions")
        if view.stage == "level_check":
            view = flow.advance(session, view.session_token, "level_check")
    return view


# When each trial's plays (simulated by play_all) ended: its ratings are submitted then, not
# sooner, as the server refuses ratings faster than the versions can be heard.
_PLAYED_UNTIL: dict[str, datetime] = {}


def serve_trial(database: Database, view: flow.SessionView, now: datetime | None = None) -> datetime:
    """Fetch every stimulus of the current trial as the player does; returns the time it was sent."""
    now = now or utc_now()
    with database.session() as session:
        for token in (view.trial.reference_token, *(s.token for s in view.trial.stimuli)):
            serving.stimulus_audio(session, token, now=now)
    return now


def play_all(database: Database, view: flow.SessionView, listened_s: float = 1.0) -> None:
    """Load the trial, then play each version for ``listened_s`` one after the other (in simulated time)."""
    moment = serve_trial(database, view, max(utc_now(), _PLAYED_UNTIL.get(view.trial.token, utc_now())))
    with database.session() as session:
        for stimulus in view.trial.stimuli:
            submission.log_play(session, view.session_token, stimulus.token, "start", position_s=0.0, now=moment)
            moment += timedelta(seconds=listened_s)
            submission.log_play(session, view.session_token, stimulus.token, "stop", position_s=listened_s,
                                listened_s=listened_s, now=moment)
    _PLAYED_UNTIL[view.trial.token] = moment


def submit(database: Database, view: flow.SessionView, ratings: dict[str, float]) -> submission.SubmitResult:
    """Submit ratings once the trial's simulated plays are over (or now, if it was not played here)."""
    now = max(utc_now(), _PLAYED_UNTIL.get(view.trial.token, utc_now()))
    with database.session() as session:
        return submission.submit_trial(session, view.session_token, view.trial.token, ratings, now=now)


def conditions_of(database: Database, view: flow.SessionView) -> dict[str, str]:
    """Stimulus token -> condition name for the current trial (what only the server knows)."""
    with database.session() as session:
        trial = flow.current_trial(flow.find_session(session, view.session_token))
        return {s.token: s.stimulus.condition.name for s in trial.stimuli}


def complete(database: Database, view: flow.SessionView, rate=lambda condition: 50.0) -> flow.SessionView:
    """Play and rate every remaining trial; ``rate`` maps a condition name to a score."""
    view = to_trials(database, view)
    while view.stage == "trials":
        play_all(database, view)
        names = conditions_of(database, view)
        view = submit(database, view, {s.token: rate(names[s.token]) for s in view.trial.stimuli}).view
    return view
