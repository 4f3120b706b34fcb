"""Attacks on a crowd MUSHRA test over HTTP, against the real app on 127.0.0.1: session theft,
forged plays, spotting the hidden reference by its bytes, and scripted enrolment."""

from __future__ import annotations

import io
import time

import httpx
import numpy as np
import pytest
import soundfile

from codecbench.app import AppSettings, launch
from codecbench.storage import open_database
from tests.browser import free_port
from tests.mushra_helpers import conditions_of, prepare, store, write_test_files


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mushra-attacks")
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    roomy = store(database, prepare(write_test_files(
        folder / "roomy", num_items=2, duration_s=1.2, training=False, level_check=False,
        crowd={"sessions_per_address_per_hour": 50, "new_sessions_per_minute": 50})))
    capped = store(database, prepare(write_test_files(
        folder / "capped", num_items=2, duration_s=1.2, crowd={"sessions_per_address_per_hour": 2})))
    settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password="x" * 20)
    server, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    yield {"api": url + "mushra-api", "roomy": roomy, "capped": capped, "database": database}
    server.close()
    database.close()


def start(client: httpx.Client, app, test_key: str, participant: str) -> httpx.Response:
    return client.post(f"{app['api']}/sessions", json={"test": app[test_key].link_token,
                                                       "params": {"PROLIFIC_PID": participant}})


def to_trials(client: httpx.Client, app, participant: str) -> dict:
    """Start a session in the roomy test and leave its instructions."""
    view = start(client, app, "roomy", participant).json()
    response = client.post(f"{app['api']}/sessions/{view['session_token']}/advance", json={"from_stage": "instructions"})
    assert response.status_code == 200 and response.json()["trial"] is not None
    return response.json()


def test_a_crowd_id_from_another_browser_gets_a_refusal_not_the_session(app):
    with httpx.Client(timeout=30) as alice, httpx.Client(timeout=30) as mallory:
        mine = start(alice, app, "roomy", "alice")
        assert mine.status_code == 200 and "codecbench_mushra_key" in alice.cookies
        set_cookie = mine.headers["set-cookie"]
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
        view = to_trials(alice, app, "alice")
        token, trial = view["session_token"], view["trial"]
        stolen = start(mallory, app, "roomy", "alice")
        assert stolen.status_code == 403 and "started in another browser" in stolen.json()["detail"]
        assert token not in stolen.text and trial["token"] not in stolen.text and "completion" not in stolen.text
        # Nor does a leaked session token or stimulus token work from elsewhere.
        assert mallory.get(f"{app['api']}/sessions/{token}").status_code == 403
        assert mallory.get(f"{app['api']}/stimuli/{trial['reference_token']}").status_code == 403
        forged = mallory.post(f"{app['api']}/sessions/{token}/trials/{trial['token']}", json={"ratings": {}})
        assert forged.status_code == 403
        # Alice resumes in her own browser.
        again = start(alice, app, "roomy", "alice")
        assert again.status_code == 200 and again.json()["session_token"] == token


def test_plays_and_ratings_are_checked_against_the_servers_clock(app):
    with httpx.Client(timeout=30) as client:
        view = to_trials(client, app, "hasty")
        token, trial = view["session_token"], view["trial"]
        stimuli = [s["token"] for s in trial["stimuli"]]

        def play(stimulus: str, kind: str, listened_s: float = 0.0) -> httpx.Response:
            return client.post(f"{app['api']}/sessions/{token}/plays",
                               json={"stimulus": stimulus, "kind": kind, "position_s": 0, "listened_s": listened_s})

        unloaded = play(stimuli[0], "start")
        assert unloaded.status_code == 409 and "not been loaded" in unloaded.json()["detail"]
        for stimulus in [trial["reference_token"], *stimuli]:
            assert client.get(f"{app['api']}/stimuli/{stimulus}").status_code == 200
        assert play(stimuli[0], "start").status_code == 204
        inflated = play(stimuli[0], "stop", listened_s=60.0)
        assert inflated.status_code == 409 and "reports 60.0 s of listening" in inflated.json()["detail"]
        for stimulus in stimuli:
            assert play(stimulus, "start").status_code == 204
        ratings = {stimulus: 100.0 for stimulus in stimuli}
        fast = client.post(f"{app['api']}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
        assert fast.status_code == 409 and f"each of its {len(stimuli)} versions takes at least" in fast.json()["detail"]
        time.sleep(0.5 * len(stimuli))
        accepted = client.post(f"{app['api']}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
        assert accepted.status_code == 200


def test_the_hidden_reference_is_not_the_open_references_bytes(app):
    with httpx.Client(timeout=30) as client:
        view = to_trials(client, app, "byte-comparer")
        trial = view["trial"]
        reference = client.get(f"{app['api']}/stimuli/{trial['reference_token']}").content
        versions = {s["token"]: client.get(f"{app['api']}/stimuli/{s['token']}").content for s in trial["stimuli"]}
        assert client.get(f"{app['api']}/stimuli/{trial['reference_token']}").content == reference  # stable per token
    assert reference not in versions.values() and len(set(versions.values())) == len(versions)
    assert {len(data) for data in versions.values()} == {len(reference)}  # equal sizes
    names = conditions_of(app["database"], _view(view))
    hidden = next(token for token, name in names.items() if name == "reference" and token != trial["reference_token"])
    open_samples = _int16(reference)
    hidden_samples = _int16(versions[hidden])
    difference = hidden_samples - open_samples
    # The two differ only by their dithers (each within one 16-bit step): inaudible, far below the signal.
    assert np.abs(difference).max() <= 2 and np.count_nonzero(difference) > 0.3 * difference.size
    level_db = 20 * np.log10(np.sqrt(np.mean((difference / 32768.0) ** 2)))
    signal_db = 20 * np.log10(np.sqrt(np.mean((open_samples / 32768.0) ** 2)))
    assert level_db < -85 and signal_db - level_db > 50


def test_new_sessions_are_capped_per_address(app):
    with httpx.Client(timeout=30) as client:
        first = [start(httpx.Client(timeout=30), app, "capped", f"bot-{i}") for i in range(2)]
        assert [response.status_code for response in first] == [200, 200]
        third = start(client, app, "capped", "bot-3")
        assert third.status_code == 429 and "started several times from your network" in third.json()["detail"]


def _int16(wav: bytes) -> np.ndarray:
    samples, _ = soundfile.read(io.BytesIO(wav), dtype="int16")
    return samples.astype(np.int64)


def _view(view: dict):
    from codecbench.listening_test import flow

    trial = view["trial"]
    return flow.SessionView(stage=view["stage"], session_token=view["session_token"], test_name="", instructions="",
                            trial=flow.TrialView(**{**trial, "stimuli": tuple(trial["stimuli"])}))


def test_nul_bytes_and_giant_numbers_get_clear_answers_not_server_errors(database_url, tmp_path):
    """On PostgreSQL a NUL byte in a query parameter fails the driver, and a 401-digit rating
    overflows float(): both must be refusals, on either database."""
    database = open_database(database_url)
    test = store(database, prepare(write_test_files(tmp_path / "t", num_items=2, duration_s=1.2, training=False,
                                                    level_check=False, crowd={})))
    server, url = launch(AppSettings(work_dir=tmp_path / "work", database_url=database_url),
                         host="127.0.0.1", port=free_port(), block=False)
    api = url + "mushra-api"
    try:
        with httpx.Client(timeout=30) as client:
            nul_id = client.post(f"{api}/sessions", json={"test": test.link_token, "params": {"PROLIFIC_PID": "a\x00b"}})
            assert nul_id.status_code == 403 and "control characters" in nul_id.json()["detail"]
            nul_test = client.post(f"{api}/sessions", json={"test": "ab\x00c", "params": {"PROLIFIC_PID": "p"}})
            assert nul_test.status_code == 404
            nul_session = client.post(f"{api}/sessions", json={"test": test.link_token,
                                                               "params": {"PROLIFIC_PID": "p", "session": "s\x00"}})
            assert nul_session.status_code == 404
            for path in ("/sessions/ab%00cd", "/stimuli/ab%00cd"):
                assert client.get(api + path).status_code == 404, path

            view = client.post(f"{api}/sessions", json={"test": test.link_token, "params": {"PROLIFIC_PID": "p"}}).json()
            token = view["session_token"]
            view = client.post(f"{api}/sessions/{token}/advance", json={"from_stage": "instructions"}).json()
            trial = view["trial"]
            played = client.post(f"{api}/sessions/{token}/plays",
                                 json={"stimulus": "x\x00", "kind": "start", "position_s": 0})
            assert played.status_code == 404
            for stimulus in [trial["reference_token"], *(s["token"] for s in trial["stimuli"])]:
                client.get(f"{api}/stimuli/{stimulus}")
                if stimulus != trial["reference_token"]:
                    client.post(f"{api}/sessions/{token}/plays", json={"stimulus": stimulus, "kind": "start", "position_s": 0})
            giant = "{" + ", ".join(f'"{s["token"]}": {"9" * 401}' for s in trial["stimuli"]) + "}"
            rated = client.post(f"{api}/sessions/{token}/trials/{trial['token']}",
                                content='{"ratings": ' + giant + "}", headers={"content-type": "application/json"})
            assert rated.status_code == 409 and "is inf; ratings go from 0 to 100" in rated.json()["detail"]
    finally:
        server.close()
        database.close()
