"""The antiphase headphone check: the tones, grading on the server, storage, and the HTTP
routes as a stranger would call them (issue 14)."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
import soundfile

from codecbench.app import AppSettings, launch
from codecbench.listening_test import headphone_check
from codecbench.listening_test.errors import LinkNotValidError, SubmissionRefusedError
from codecbench.listening_test.flow import find_session
from codecbench.storage import open_database
from codecbench.storage.listening_tables import HeadphoneCheckRow
from tests.browser import free_port
from tests.mushra_helpers import prepare, start, store, write_test_files


def rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x**2)))


def test_the_tones_are_normal_quiet_and_antiphase():
    audio, rate = soundfile.read(io.BytesIO(headphone_check.tones_wav("AQN")))
    assert rate == headphone_check.SAMPLE_RATE_HZ and audio.shape[1] == 2
    n, gap = rate, rate // 2
    antiphase, quiet, normal = audio[:n], audio[n + gap:2 * n + gap], audio[2 * n + 2 * gap:]
    assert np.allclose(antiphase[:, 0], -antiphase[:, 1], atol=1e-4)  # cancels when the channels mix
    assert np.allclose(normal[:, 0], normal[:, 1])
    assert rms_db(quiet[:, 0]) - rms_db(normal[:, 0]) == pytest.approx(-6.0, abs=0.05)
    assert rms_db(antiphase[:, 0]) == pytest.approx(rms_db(normal[:, 0]), abs=0.05)  # per ear, equally loud
    spectrum = np.abs(np.fft.rfft(normal[:, 0]))
    assert np.argmax(spectrum) * rate / len(normal) == pytest.approx(200, abs=1)
    with pytest.raises(ValueError, match="N, Q and A"):
        headphone_check.tones_wav("NNQ")


@pytest.fixture(scope="module")
def prepared_check(tmp_path_factory):
    return prepare(write_test_files(tmp_path_factory.mktemp("hp"), num_items=2, headphone_check=True, title="Speech"))


@pytest.fixture(scope="module")
def prepared_plain(tmp_path_factory):
    return prepare(write_test_files(tmp_path_factory.mktemp("plain"), num_items=2, title="Speech"))


def answers(database, token: str) -> list[int]:
    with database.session() as session:
        row = find_session(session, token)
        check = session.query(HeadphoneCheckRow).filter_by(session_id=row.id).one()
        return [order.index("Q") + 1 for order in check.layout.split(",")]


@pytest.mark.parametrize("wrong, passed", [(0, True), (1, True), (2, False), (6, False)])
def test_five_of_six_pass_and_the_result_is_stored(database, prepared_check, wrong, passed):
    test = store(database, prepared_check)
    view = start(database, test)
    with database.session() as session:
        assert headphone_check.start_check(session, view.session_token) == 6
    right = answers(database, view.session_token)
    picks = [(a % 3) + 1 if i < wrong else a for i, a in enumerate(right)]
    with database.session() as session:
        row = find_session(session, view.session_token)
        assert headphone_check.headphone_check_passed(session, row) is None  # not answered yet
        result = headphone_check.grade(session, view.session_token, picks)
        assert (result.num_correct, result.passed) == (6 - wrong, passed)
    with database.session() as session:
        assert headphone_check.headphone_check_passed(session, find_session(session, view.session_token)) is passed
        # the first answer is final: a repeat is acknowledged, a change refused
        assert headphone_check.grade(session, view.session_token, picks).passed is passed
        with pytest.raises(SubmissionRefusedError, match="first answer is final"):
            headphone_check.grade(session, view.session_token, [(p % 3) + 1 for p in picks])


def test_layouts_differ_between_sessions(database, prepared_check):
    test = store(database, prepared_check)
    layouts = set()
    for _ in range(4):
        view = start(database, test)
        with database.session() as session:
            headphone_check.start_check(session, view.session_token)
        layouts.add(tuple(answers(database, view.session_token)))
    assert len(layouts) > 1  # 4 sessions with the same 6 answers: 1 in 729^3


def test_a_test_without_the_check_refuses_it(database, prepared_plain):
    view = start(database, store(database, prepared_plain))
    with database.session() as session, pytest.raises(LinkNotValidError, match="no headphone check"):
        headphone_check.start_check(session, view.session_token)


# ------------------------------------------------------------------------------ over HTTP


@pytest.fixture(scope="module")
def app(tmp_path_factory, prepared_check, prepared_plain):
    folder = tmp_path_factory.mktemp("hp-app")
    port = free_port()
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    with_check, plain = store(database, prepared_check), store(database, prepared_plain)
    settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password="x" * 20)
    server, url = launch(settings, host="127.0.0.1", port=port, block=False)
    yield {"api": url + "mushra-api", "with_check": with_check, "plain": plain, "database": database}
    server.close()
    database.close()


def new_session(client: httpx.Client, app, test) -> str:
    response = client.post(f"{app['api']}/sessions", json={"test": test.link_token, "params": {}})
    assert response.status_code == 200, response.text
    return response.json()["session_token"]


def test_the_routes_play_and_grade_without_giving_the_answer_away(app):
    with httpx.Client(timeout=30) as client:
        token = new_session(client, app, app["with_check"])
        base = f"{app['api']}/sessions/{token}/headphone-check"
        assert client.get(f"{base}/1").status_code == 409  # not started
        started = client.post(base)
        assert started.json() == {"trials": 6, "answered": False}
        bodies = [client.get(f"{base}/{n}") for n in range(1, 7)]
        assert all(b.status_code == 200 and b.headers["content-type"] == "audio/wav" for b in bodies)
        assert len({len(b.content) for b in bodies}) == 1  # the same size whatever the order
        again = client.get(f"{base}/1").content
        assert again != bodies[0].content and len(again) == len(bodies[0].content)  # no hash to look up
        right = answers(app["database"], token)
        graded = client.post(f"{base}/answer", json={"responses": right})
        assert graded.json() == {"passed": True}
        assert client.post(base).json() == {"trials": 6, "answered": True}  # says only that, not how


@pytest.mark.parametrize("body", [
    {"responses": [1, 2, 3]}, {"responses": [0, 1, 1, 1, 1, 1]}, {"responses": [4] * 6},
    {"responses": [1] * 7}, {"responses": [1] * 100_000}, {"responses": "111111"}, {"responses": [1.5] * 6}, {},
    {"responses": ["1"] * 6}, {"responses": [True] * 6}, {"responses": [1.0] * 6},  # picks are numbers 1-3, nothing else
])
def test_bad_answers_are_refused_and_store_nothing(app, body):
    with httpx.Client(timeout=30) as client:
        token = new_session(client, app, app["with_check"])
        base = f"{app['api']}/sessions/{token}/headphone-check"
        client.post(base)
        assert client.post(f"{base}/answer", json=body).status_code in (409, 413, 422)
    with app["database"].session() as session:
        assert headphone_check.headphone_check_passed(session, find_session(session, token)) is None


def test_another_browser_cannot_take_or_hear_the_check(app):
    with httpx.Client(timeout=30) as owner, httpx.Client(timeout=30) as stranger:
        token = new_session(owner, app, app["with_check"])
        base = f"{app['api']}/sessions/{token}/headphone-check"
        owner.post(base)
        new_session(stranger, app, app["with_check"])  # the stranger has a key, just not this one
        assert stranger.post(base).status_code == 403
        assert stranger.get(f"{base}/1").status_code == 403
        assert stranger.post(f"{base}/answer", json={"responses": [1] * 6}).status_code == 403
        assert httpx.get(f"{base}/1").status_code == 403  # no key at all


@pytest.mark.parametrize("path", ["0", "7", "-1", "99999999999999999999999", "x", "1%00"])
def test_trial_numbers_out_of_range_are_refused(app, path):
    with httpx.Client(timeout=30) as client:
        token = new_session(client, app, app["with_check"])
        client.post(f"{app['api']}/sessions/{token}/headphone-check")
        assert client.get(f"{app['api']}/sessions/{token}/headphone-check/{path}").status_code in (404, 422)


def test_unknown_sessions_and_tests_without_the_check_are_refused(app):
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{app['api']}/sessions/{'A' * 24}/headphone-check").status_code == 404
        assert client.post(f"{app['api']}/sessions/{'%00' * 3}/headphone-check").status_code == 404
        token = new_session(client, app, app["plain"])
        assert client.post(f"{app['api']}/sessions/{token}/headphone-check").status_code == 404


# ------------------------------------------------------------------------------ in chromium


@pytest.mark.browser
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_participant_takes_the_check_between_level_check_and_trials(app, viewport):
    from tests.test_mushra_player_ui import DESKTOP, PHONE, browser_page

    with browser_page(**(PHONE if viewport == "phone" else DESKTOP)) as page:
        page.goto(f"{app['api'].removesuffix('mushra-api')}mushra/?test={app['with_check'].link_token}")
        page.locator("#mushra-start").wait_for(state="visible")
        page.click("#mushra-start")
        page.locator("#mushra-level-continue").wait_for(state="visible")
        page.check("#mushra-level-ok input")
        page.click("#mushra-level-continue")
        page.get_by_role("heading", name="Headphone check 1 of 6").wait_for()
        token = page.evaluate("new URL(location.href).searchParams.get('session')")
        right = answers(app["database"], token)
        for number, answer in enumerate(right, start=1):
            page.get_by_role("heading", name=f"Headphone check {number} of 6").wait_for()
            assert page.locator(".mushra-hp-choice").first.is_disabled()  # listen first
            page.click(".mushra-hp-play")
            page.locator(".mushra-hp-choice").nth(answer - 1).click()  # waits until playback has ended
            page.click(".mushra-next")
        page.locator(".mushra-slider").first.wait_for()
        assert "Training trial" in page.locator(".mushra-trial-title").inner_text()
    with app["database"].session() as session:
        assert headphone_check.headphone_check_passed(session, find_session(session, token)) is True


def test_two_first_requests_at_once_share_one_check(database, prepared_check):
    """The second of two simultaneous first requests finds the first's row instead of failing."""
    from codecbench.listening_test.headphone_check import _check_row

    test = store(database, prepared_check)
    view = start(database, test)
    with database.session() as session:
        row = find_session(session, view.session_token)
        first = _check_row(session, row, create=True)
        session.expunge(first)  # as if another request had made it: this one's lookup comes up empty
        with patch_lookup_empty(session):
            second = _check_row(session, row, create=True)
        assert second.layout == first.layout and second.id == first.id


class patch_lookup_empty:
    """Make the session's first SELECT of a check find nothing, like a request that raced another."""

    def __init__(self, session) -> None:
        self.session, self.original = session, session.scalars

    def __enter__(self):
        calls = []

        def scalars(statement, *args, **kwargs):
            result = self.original(statement, *args, **kwargs)
            calls.append(statement)
            if len(calls) == 1:
                result.all()
                return self.original(statement.where(False), *args, **kwargs)
            return result

        self.session.scalars = scalars
        return self

    def __exit__(self, *exc):
        self.session.scalars = self.original


@pytest.mark.browser
def test_a_page_reloaded_after_the_answer_goes_on_instead_of_asking_again(app):
    """The answer was stored but the page reloaded before it moved on: its picks are gone, and
    answering again (differently) would be refused forever; the page goes on to the trials."""
    from tests.test_mushra_player_ui import PHONE, browser_page

    with browser_page(**PHONE) as page:
        page.goto(f"{app['api'].removesuffix('mushra-api')}mushra/?test={app['with_check'].link_token}")
        page.locator("#mushra-start").wait_for(state="visible")
        page.click("#mushra-start")
        page.locator("#mushra-level-continue").wait_for(state="visible")
        page.check("#mushra-level-ok input")
        page.click("#mushra-level-continue")
        page.get_by_role("heading", name="Headphone check 1 of 6").wait_for()
        token = page.evaluate("new URL(location.href).searchParams.get('session')")
        wrong = [(answer % 3) + 1 for answer in answers(app["database"], token)]
        stored = page.request.post(f"{app['api']}/sessions/{token}/headphone-check/answer", data={"responses": wrong})
        assert stored.ok and stored.json() == {"passed": False}
        page.reload()
        page.locator(".mushra-slider").first.wait_for(timeout=30_000)
        assert page.get_by_role("heading", name="Headphone check 1 of 6").count() == 0
    with app["database"].session() as session:
        assert headphone_check.headphone_check_passed(session, find_session(session, token)) is False


def test_the_same_tone_order_never_gives_the_same_bytes():
    """A script must not look the answer up by the hash of a trial's file."""
    first, second = headphone_check.tones_wav("NQA"), headphone_check.tones_wav("NQA")
    assert first != second and len(first) == len(second)
