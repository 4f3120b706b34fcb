"""Consent and the optional questionnaire: stored with the participant, checked on the server,
over HTTP as a stranger would send it, and in chromium (issue 14)."""

from __future__ import annotations

import httpx
import pytest

from codecbench.app import AppSettings, launch
from codecbench.listening_test import flow, participant_info
from codecbench.listening_test.errors import SubmissionRefusedError
from codecbench.storage import open_database
from tests.browser import free_port
from tests.mushra_helpers import prepare, start, store, write_test_files

CONSENT = "Your answers are stored without your name. You may stop at any time."


@pytest.fixture(scope="module")
def prepared_asking(tmp_path_factory):
    return prepare(write_test_files(tmp_path_factory.mktemp("ask"), num_items=2, title="Speech", consent=CONSENT,
                                    questionnaire=True, crowd={"require_id": False, "sessions_per_address_per_hour": 1000,
                                                            "new_sessions_per_minute": 1000}))


@pytest.fixture(scope="module")
def prepared_plain(tmp_path_factory):
    return prepare(write_test_files(tmp_path_factory.mktemp("plain"), num_items=2, title="Speech"))


def stored(database, token):
    with database.session() as session:
        return participant_info.participant_answers(session, flow.find_session(session, token))


def test_consent_is_required_and_answers_are_stored(database, prepared_asking):
    view = start(database, store(database, prepared_asking))
    assert view.consent == CONSENT and view.questionnaire
    with database.session() as session, pytest.raises(SubmissionRefusedError, match="consent"):
        flow.advance(session, view.session_token, "instructions")
    with database.session() as session, pytest.raises(SubmissionRefusedError, match="consent"):
        participant_info.record(session, view.session_token, consent_given=False, answers={})
    with database.session() as session:
        participant_info.record(session, view.session_token, consent_given=True,
                                answers={"age_range": "25-34", "device": "earbuds / in-ear", "hearing_problems": ""})
        assert flow.advance(session, view.session_token, "instructions").stage == "level_check"
    assert stored(database, view.session_token) == participant_info.ParticipantAnswers(
        consent_given=True, age_range="25-34", hearing_problems=None, device="earbuds / in-ear")


@pytest.mark.parametrize("answers, message", [
    ({"age_range": "12"}, "Your age: please choose"),
    ({"device": "x" * 1000}, "listening with"),
    ({"shoe_size": "42"}, "no such question"),
    ({"age_range": 30}, "Your age"),
    ({"age_range": "25-34", "device": "other", "hearing_problems": "no", "extra": "1"}, "could not be read"),
])
def test_answers_outside_the_choices_are_refused(database, prepared_asking, answers, message):
    view = start(database, store(database, prepared_asking))
    with database.session() as session, pytest.raises(SubmissionRefusedError, match=message):
        participant_info.record(session, view.session_token, consent_given=True, answers=answers)
    assert stored(database, view.session_token) is None


def test_a_test_without_them_asks_nothing(database, prepared_plain):
    view = start(database, store(database, prepared_plain))
    assert view.consent is None and not view.questionnaire
    with database.session() as session:
        participant_info.record(session, view.session_token, consent_given=False, answers={"age_range": "25-34"})
        assert flow.advance(session, view.session_token, "instructions").stage == "level_check"
    assert stored(database, view.session_token).age_range is None  # not asked: not kept


# ------------------------------------------------------------------------------ over HTTP


@pytest.fixture(scope="module")
def app(tmp_path_factory, prepared_asking):
    folder = tmp_path_factory.mktemp("info-app")
    port = free_port()
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    test = store(database, prepared_asking)
    settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password="x" * 20)
    server, url = launch(settings, host="127.0.0.1", port=port, block=False)
    yield {"url": url, "api": url + "mushra-api", "test": test, "database": database}
    server.close()
    database.close()


def new_session(client, app) -> str:
    response = client.post(f"{app['api']}/sessions", json={"test": app["test"].link_token, "params": {}})
    assert response.status_code == 200, response.text
    return response.json()["session_token"]


@pytest.mark.parametrize("body, status", [
    ({"consent": True, "answers": {"age_range": "18-24"}}, 204),
    ({"consent": False, "answers": {}}, 409),
    ({"consent": True, "answers": {"age_range": "<script>"}}, 409),
    ({"consent": True, "answers": {f"q{i}": "x" for i in range(10)}}, 422),
    ({"consent": True, "answers": {f"q{i}": "x" for i in range(10_000)}}, 413),  # the app's body limit
    ({"consent": True, "answers": {"age_range": ["18-24"]}}, 422),
    ({"consent": "yes please", "answers": {}}, 422),
    ({"consent": "yes", "answers": {}}, 422),  # consent is the box's true, not a word that reads as one
    ({"consent": 1, "answers": {}}, 422),
    ({"consent": True, "answers": "age=18"}, 422),
])
def test_the_route_checks_what_it_is_sent(app, body, status):
    with httpx.Client(timeout=30) as client:
        token = new_session(client, app)
        assert client.post(f"{app['api']}/sessions/{token}/participant", json=body).status_code == status
        advanced = client.post(f"{app['api']}/sessions/{token}/advance", json={"from_stage": "instructions"})
        assert advanced.status_code == (200 if status == 204 else 409)


def test_another_browser_cannot_answer_for_a_session(app):
    with httpx.Client(timeout=30) as owner, httpx.Client(timeout=30) as stranger:
        token = new_session(owner, app)
        new_session(stranger, app)
        refused = stranger.post(f"{app['api']}/sessions/{token}/participant", json={"consent": True, "answers": {}})
        assert refused.status_code == 403
    assert stored(app["database"], token) is None


@pytest.mark.browser
def test_a_participant_agrees_and_answers_in_the_page(app):
    from tests.test_mushra_player_ui import PHONE, browser_page

    with browser_page(**PHONE) as page:
        page.goto(f"{app['url']}mushra/?test={app['test'].link_token}")
        page.locator("#mushra-start").wait_for(state="visible")
        assert CONSENT in page.inner_text("#mushra-consent")
        page.click("#mushra-start")  # not agreed: refused, and said so
        page.get_by_text("tick the box to take part").wait_for()
        page.check("#mushra-consent-ok input")
        page.locator("#mushra-q-device input").click()
        page.get_by_role("option", name="loudspeakers").click()
        page.click("#mushra-start")
        page.locator("#mushra-level-continue").wait_for(state="visible")
        token = page.evaluate("new URL(location.href).searchParams.get('session')")
    answers = stored(app["database"], token)
    assert answers.consent_given and answers.device == "loudspeakers" and answers.age_range is None


@pytest.mark.browser
def test_the_consent_message_goes_as_soon_as_the_box_is_ticked(app):
    """A refusal for want of consent is stale once the box is ticked (like the level check's hint)."""
    from tests.test_mushra_player_ui import DESKTOP, browser_page

    with browser_page(**DESKTOP) as page:
        page.goto(f"{app['url']}mushra/?test={app['test'].link_token}")
        page.locator("#mushra-start").wait_for(state="visible")
        page.click("#mushra-start")
        page.get_by_text("tick the box to take part").wait_for()
        page.check("#mushra-consent-ok input")
        page.get_by_text("tick the box to take part").wait_for(state="detached", timeout=10_000)
        page.uncheck("#mushra-consent-ok input")  # unticked again: nothing reappears by itself
        page.wait_for_timeout(500)
        assert page.get_by_text("tick the box to take part").count() == 0
