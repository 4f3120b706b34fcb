"""End to end: a MUSHRA test run through the real app on 127.0.0.1, over HTTP and in chromium."""

from __future__ import annotations

import json
import re
import time

import httpx
import numpy as np
import pytest
from gradio_client import Client

from codecbench.app import AppSettings, launch
from codecbench.listening_test.ratings import load_ratings
from codecbench.storage import open_database
from codecbench.storage.listening_tables import SessionRow
from tests.browser import chromium_page, free_port
from tests.mushra_helpers import complete, prepare, start, store, write_test_files

ADMIN_PASSWORD = "correct horse battery staple"
# What the participant's browser must never receive: condition and codec names, item names, paths.
SECRETS = ("opus@6", "codec2@3.2", "lowpass_3500", "lowpass_7000", "hidden_reference", "codec2", "utt0", "utt1",
           "utt2", "clips/", "test.yaml")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mushra-app")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    spec_path = write_test_files(
        folder, num_items=3, duration_s=1.2,
        # every participant here comes from 127.0.0.1
        crowd={"completion_code": "C0DE4U", "redirect_url": f"{url}?returned=1", "sessions_per_address_per_hour": 100},
    )
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    test = store(database, prepare(spec_path))
    settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password=ADMIN_PASSWORD)
    server, url = launch(settings, host="127.0.0.1", port=port, block=False)
    yield {"url": url, "test": test, "database": database}
    server.close()
    database.close()


def participant_url(app, participant: str) -> str:
    return f"{app['url']}mushra/?test={app['test'].link_token}&PROLIFIC_PID={participant}&STUDY_ID=st1&SESSION_ID=se1"


# ------------------------------------------------------------------------------------ HTTP


def test_the_participant_api_checks_every_step(app):
    api = app["url"] + "mushra-api"
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{api}/sessions", json={"test": "nope", "params": {}}).status_code == 404
        refused = client.post(f"{api}/sessions", json={"test": app["test"].link_token, "params": {}})
        assert refused.status_code == 403 and "PROLIFIC_PID" in refused.json()["detail"]
        view = client.post(f"{api}/sessions", json={"test": app["test"].link_token, "params": {"PROLIFIC_PID": "api-1"}}).json()
        token = view["session_token"]
        view = client.post(f"{api}/sessions/{token}/advance", json={"from_stage": "instructions"}).json()
        view = client.post(f"{api}/sessions/{token}/advance", json={"from_stage": "level_check"}).json()
        trial = view["trial"]
        ratings = {s["token"]: 50 for s in trial["stimuli"]}
        early = client.post(f"{api}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
        assert early.status_code == 409 and "play every version" in early.json()["detail"]

        sizes = set()
        for stimulus in [trial["reference_token"], *(s["token"] for s in trial["stimuli"])]:
            audio = client.get(f"{api}/stimuli/{stimulus}")
            assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
            assert "etag" not in audio.headers
            sizes.add(len(audio.content))
        assert len(sizes) == 1  # equal sizes: the hidden reference does not stand out

        for stimulus in trial["stimuli"]:
            played = client.post(f"{api}/sessions/{token}/plays", json={"stimulus": stimulus["token"], "kind": "start", "position_s": 0})
            assert played.status_code == 204
        bad = client.post(f"{api}/sessions/{token}/plays", json={"stimulus": "x", "kind": "start", "position_s": 0})
        assert bad.status_code == 409
        out_of_range = client.post(f"{api}/sessions/{token}/trials/{trial['token']}", json={"ratings": {**ratings, trial["stimuli"][0]["token"]: 101}})
        assert out_of_range.status_code == 409 and "ratings go from 0 to 100" in out_of_range.json()["detail"]
        too_fast = client.post(f"{api}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
        assert too_fast.status_code == 409 and "Please listen to every version before rating" in too_fast.json()["detail"]
        time.sleep(len(trial["stimuli"]) * 0.5)  # each version can be heard in part
        accepted = client.post(f"{api}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
        assert accepted.status_code == 200 and accepted.json()["duplicate"] is False
        again = client.post(f"{api}/sessions/{token}/trials/{trial['token']}", json={"ratings": ratings})
        assert again.status_code == 200 and again.json()["duplicate"] is True
        for response in (refused, early, accepted, again):
            assert not any(secret in response.text for secret in SECRETS)


def test_admin_routes_refuse_without_the_password(app):
    client = Client(app["url"] + "admin/", verbose=False)
    for password in ("", "wrong"):
        for endpoint in ("/show", "/export"):
            with pytest.raises(Exception, match="Wrong or missing admin password"):
                client.predict(password, str(app["test"].id), "bs1534", False, api_name=endpoint)
    status, *_, suspicious, _, _, _, _, _, _, _, _ = client.predict(ADMIN_PASSWORD, str(app["test"].id), "bs1534", False,
                                                                 api_name="/show")
    assert f"Test **{app['test'].id}: Opus against Codec 2**" in status
    assert suspicious["headers"] == ["participant", "trials", "median_trial_s", "item_s", "flags"]  # the report's panel


def test_a_link_without_the_slash_is_redirected_keeping_the_query(app):
    response = httpx.get(app["url"] + "mushra?test=abc", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/mushra/?test=abc"


# ------------------------------------------------------------------------------------ browser


class Traffic:
    """Every response body the page received (heartbeat streams excluded: they never end)."""

    def __init__(self, page) -> None:
        self.page = page
        self.bodies: list[tuple[str, bytes]] = []
        page.on("response", self._record)

    def stop(self) -> None:
        self.page.remove_listener("response", self._record)

    def _record(self, response) -> None:
        if "/heartbeat/" in response.url:
            return
        try:
            self.bodies.append((response.url, response.body()))
        except Exception:  # a response cut short by a reload or by closing the page has no body
            pass

    def leaks(self) -> list[str]:
        found = []
        for url, body in self.bodies:
            text = body.decode("utf-8", errors="ignore")
            found += [f"{secret!r} in {url}" for secret in SECRETS if secret in text or secret in url]
        return found


def play_every_stimulus(page) -> None:
    """Switch through all stimuli with the number keys while playing, as a listener does."""
    page.locator(".mushra-slider").first.wait_for()
    count = page.locator(".mushra-slider").count()
    page.keyboard.press("r")
    page.wait_for_timeout(150)
    for key in range(1, count + 1):  # half a second each: the server refuses ratings faster than that
        page.keyboard.press(str(key))
        page.wait_for_timeout(550)
    page.keyboard.press(" ")  # pause: the last stimulus's listening time is reported
    page.wait_for_function(f"document.querySelectorAll('.mushra-column.is-played').length === {count}")


def rate_and_submit(page, value: int) -> str:
    for slider in page.locator(".mushra-slider").all():
        slider.fill(str(value))
    heading = page.locator(".mushra-trial-title").inner_text()
    page.click(".mushra-next")
    return heading


def wait_for_next_screen(page, previous_heading: str) -> None:
    page.wait_for_function(
        "h => { const el = document.querySelector('.mushra-trial-title');"
        " const done = document.querySelector('#mushra-complete');"
        " return (el && el.innerText !== h) || (done && done.offsetParent !== null && done.innerText.includes('code')); }",
        arg=previous_heading,
    )


@pytest.mark.browser
def test_three_participants_one_reloading_midway_and_nothing_leaks(app):
    database, test = app["database"], app["test"]
    with chromium_page() as page:
        traffic = Traffic(page)
        for participant in ("crowd-1", "crowd-2", "crowd-3"):
            page.goto(participant_url(app, participant))
            page.locator("#mushra-start").wait_for(state="visible")
            assert "rate it 100" in page.inner_text("#mushra-instructions")
            page.click("#mushra-start")

            page.locator("#mushra-level-continue").wait_for(state="visible")
            page.locator(".mushra-play").click()
            page.wait_for_timeout(200)
            page.click("#mushra-level-continue")  # not yet confirmed: refused
            page.get_by_text("Please tick the box to confirm").first.wait_for()
            page.check("#mushra-level-ok input")
            page.click("#mushra-level-continue")

            page.locator(".mushra-slider").first.wait_for()
            assert "Training trial" in page.locator(".mushra-trial-title").inner_text()
            if participant == "crowd-1":
                # Rated but nothing played: the server refuses, and says why.
                rate_and_submit(page, 40)
                page.wait_for_function("document.querySelector('.mushra-message').innerText.includes('play every version')")
                assert "Training" in page.locator(".mushra-trial-title").inner_text()
            trial_number = 0
            while True:
                play_every_stimulus(page)
                heading = rate_and_submit(page, 30 + 20 * trial_number)
                wait_for_next_screen(page, heading)
                trial_number += 1
                if participant == "crowd-2" and trial_number == 2:
                    session_url = page.url
                    assert "session=" in session_url
                    page.reload()
                    page.locator(".mushra-slider").first.wait_for()
                    assert page.locator(".mushra-trial-title").inner_text() == "Trial 2 of 2"
                if page.locator("#mushra-complete").is_visible():
                    break
            assert "C0DE4U" in page.inner_text("#mushra-complete")
            assert page.locator(".mushra-slider").count() == 0
            html = page.content()
            assert not [secret for secret in SECRETS if secret in html]
        assert traffic.leaks() == []
        assert any("/mushra-api/stimuli/" in url for url, _ in traffic.bodies)
        traffic.stop()
        page.wait_for_url(re.compile(r"\?returned=1$"), timeout=15_000)  # the completion redirect

    with database.session() as session:
        ratings = load_ratings(session, test.id)
        with_training = load_ratings(session, test.id, include_training=True)
        sessions = {row.participant.external_id: row for row in session.query(SessionRow)}
        assert sessions["crowd-2"].stage == "complete"
        params = json.loads(sessions["crowd-3"].participant.link_params_json)
    assert params == {"PROLIFIC_PID": "crowd-3", "STUDY_ID": "st1", "SESSION_ID": "se1"}
    browser_ratings = ratings[ratings["participant"].str.startswith("crowd-")]
    assert len(browser_ratings) == 3 * 2 * 5  # three people, two items, five stimuli: nothing lost, nothing twice
    assert not browser_ratings.duplicated(["participant", "item", "condition"]).any()
    assert sorted(browser_ratings.groupby("participant")["rating"].apply(lambda r: sorted(set(r))).tolist()) == [[50.0, 70.0]] * 3
    assert len(with_training[with_training["participant"].str.startswith("crowd-")]) == 3 * 3 * 5

    with chromium_page() as page:  # the same ID from another browser: refused, neither the session nor a second test
        page.goto(participant_url(app, "crowd-1"))
        page.get_by_text("This study was started in another browser").wait_for()
        assert "C0DE4U" not in page.content()


@pytest.mark.browser
def test_admin_page_refuses_without_the_password_and_shows_results_with_it(app):
    expert = {"reference": 100.0, "lowpass_3500": 15.0, "lowpass_7000": 50.0, "opus@6": 70.0, "codec2@3.2": 45.0}
    complete(app["database"], start(app["database"], app["test"], PROLIFIC_PID="admin-check"), rate=expert.get)
    with chromium_page() as page:
        page.goto(f"{app['url']}admin/?test={app['test'].id}")
        page.locator("#admin-test input, #admin-test textarea").first.wait_for()
        page.wait_for_function(f"document.querySelector('#admin-test textarea, #admin-test input').value === '{app['test'].id}'")
        page.click("#admin-show")
        page.get_by_text("Wrong or missing admin password").first.wait_for()
        assert "opus@6" not in page.content()
        page.locator("#admin-password input").fill(ADMIN_PASSWORD)
        page.click("#admin-show")
        page.locator("#admin-progress").get_by_text("completed").wait_for()
        page.get_by_role("tab", name="Screening").click()
        page.wait_for_function("document.querySelector('#admin-exclusions').innerText.includes('encodec')")
        page.get_by_role("tab", name="Results").click()
        page.wait_for_function("document.querySelector('#admin-conditions').innerText.includes('opus@6')")
        page.get_by_role("tab", name="Export").click()
        page.click("#admin-export")
        page.locator("#admin-export-file a").first.wait_for()


@pytest.mark.browser
def test_the_player_switches_gap_free_at_the_same_position_in_dual_mono(app):
    """Render the player's engine offline in chromium and inspect every output sample."""
    with chromium_page() as page:
        page.goto(participant_url(app, "engine-check"))
        page.wait_for_function("window.CodecbenchMushra !== undefined")
        result = page.evaluate(
            """async () => {
              const rate = 16000, seconds = 1.0;
              const ctx = new OfflineAudioContext(2, rate * seconds, rate);
              const make = (f, amplitude) => {
                const b = ctx.createBuffer(1, rate * seconds, rate);
                const d = b.getChannelData(0);
                for (let i = 0; i < d.length; i++) d[i] = amplitude * Math.sin(2 * Math.PI * f * i / rate);
                return b;
              };
              const a = make(220, 0.5), b = make(330, 0.4);
              const engine = new window.CodecbenchMushra.MushraEngine(ctx, [a, b]);
              engine.play(0);
              ctx.suspend(0.5).then(() => { engine.select(1); ctx.resume(); });
              const out = await ctx.startRendering();
              const tinyLoop = new window.CodecbenchMushra.MushraEngine(new OfflineAudioContext(1, rate, rate), [a, b]);
              tinyLoop.setLoop(0.2, 0.3);
              return {left: Array.from(out.getChannelData(0)), right: Array.from(out.getChannelData(1)),
                      a: Array.from(a.getChannelData(0)), b: Array.from(b.getChannelData(0)),
                      loop: [tinyLoop.loopStart, tinyLoop.loopEnd]};
            }"""
        )
    left, right = np.array(result["left"]), np.array(result["right"])
    a, b = np.array(result["a"]), np.array(result["b"])
    rate = 16_000
    np.testing.assert_array_equal(left, right)  # mono on both channels
    fade = int(0.005 * rate)
    matches_a = np.abs(left - a) < 1e-4
    matches_b = np.abs(left - b) < 1e-4
    last_a = np.flatnonzero(~matches_a[fade:])[0] + fade - 1  # A, sample for sample, until the switch
    first_b = np.flatnonzero(~matches_b)[-1] + 1  # B, sample for sample, from here to the end
    assert 0.5 * rate <= last_a < 0.52 * rate
    assert first_b < 0.53 * rate  # so B continues at the same position: no restart, no offset
    assert abs((first_b - last_a) - 2 * fade) <= 3  # 5 ms out, 5 ms in, no longer gap
    switch = slice(last_a + 1, first_b)
    assert np.all(np.abs(left[switch]) <= np.maximum(np.abs(a[switch]), np.abs(b[switch])) + 1e-4)  # only fades
    assert result["loop"] == pytest.approx([0.0, 0.5])  # a loop shorter than 0.5 s is widened to 0.5 s
