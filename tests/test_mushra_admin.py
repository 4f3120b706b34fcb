"""What the researcher reads about a MUSHRA test with few raters: `mushra results` and the Admin page.

Two assessors: one careful, one who rates everything 100 (low anchor included). BS.1534's item
guard (more than 25 % of an item's assessors rate the mid anchor above 90) then switches the
mid-anchor criterion off on every item, which must be said; the intervals of two raters run far
beyond the scale, which must not be shown.
"""

from __future__ import annotations

import re

import pytest

from codecbench.app import AppSettings, launch
from codecbench.listening_test.design import get_test
from codecbench.storage import open_database
from tests.browser import chromium_page, free_port
from tests.cli_runner import run_cli
from tests.mushra_helpers import complete, prepare, start, store, write_test_files

ADMIN_PASSWORD = "admin page test password"
CAREFUL = {"reference": 100.0, "lowpass_3500": 15.0, "lowpass_7000": 50.0, "opus@6": 80.0, "codec2@3.2": 30.0}


@pytest.fixture(scope="module")
def two_raters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mushra-admin")
    spec_path = write_test_files(folder, num_items=2, duration_s=1.2)
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    test = store(database, prepare(spec_path))
    complete(database, start(database, test), rate=CAREFUL.get)
    complete(database, start(database, test), rate=lambda condition: 100.0)
    with database.session() as session:
        test = get_test(session, test.id)
    yield {"folder": folder, "url": database_url, "database": database, "test": test}
    database.close()


def test_results_say_whom_the_item_guard_kept_and_clip_the_intervals(two_raters):
    completed = run_cli("mushra", "results", str(two_raters["test"].id), "--db", two_raters["url"],
                        "--screening", "bs1534", "--per-item")
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "excluded 0 of 2 assessor(s)" in out
    assert re.search(r"! P\d+ \(kept\): mid-anchor criterion switched off by the item guard on 2 of their 2 items "
                     r"\(they rate the mid anchor > 90 on 2 of those\); low anchor > 90 in 2 of 2 items", out)
    assert "the bs1534-low-anchor rule excludes this" in out
    assert "guarded with fewer than 5 assessors" in out
    # opus@6 rated 80 and 100 on each item: the bare interval of the two is far beyond 0-100.
    assert re.search(r"^  opus@6\s+system\s+4\s+2\s+90\.0\s+\d+\.\d-100\.0\s", out, re.M)
    assert "fewer than 3 raters" in out
    for low, high in re.findall(r"(-?\d+\.\d)-(-?\d+\.\d)", out):
        assert 0 <= float(low) <= float(high) <= 100


def test_the_low_anchor_rule_excludes_the_rater_who_rates_everything_100(two_raters):
    completed = run_cli("mushra", "results", str(two_raters["test"].id), "--db", two_raters["url"],
                        "--screening", "bs1534-low-anchor")
    assert completed.returncode == 0, completed.stderr
    assert "excluded 1 of 2 assessor(s)" in completed.stdout
    assert re.search(r"- P\d+: low anchor > 90 in 2 of 2 items \(100% > 15%\)", completed.stdout)


@pytest.fixture(scope="module")
def admin_app(two_raters):
    port = free_port()
    settings = AppSettings(work_dir=two_raters["folder"] / "work", database_url=two_raters["url"],
                           admin_password=ADMIN_PASSWORD)
    server, url = launch(settings, host="127.0.0.1", port=port, block=False)
    yield url
    server.close()


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "mobile"])
def test_the_admin_page_shows_no_empty_tables_before_login_and_marks_thin_cells_after(admin_app, two_raters, viewport):
    with chromium_page() as page:
        page.set_viewport_size(viewport)
        page.goto(f"{admin_app}admin/?test={two_raters['test'].id}")
        page.locator("#admin-show").wait_for()
        page.wait_for_function(
            f"document.querySelector('#admin-test textarea, #admin-test input').value === '{two_raters['test'].id}'")
        assert not page.locator("#admin-details").is_visible()
        assert page.locator("table:visible").count() == 0  # no placeholder headers "1 2 3"

        page.locator("#admin-password input").fill(ADMIN_PASSWORD)
        page.click("#admin-show")
        page.locator("#admin-progress").get_by_text("completed").wait_for()
        open_tab(page, "Screening")
        page.wait_for_function("document.querySelector('#admin-exclusions').innerText.includes('kept, flagged')")
        assert "switched off by the item guard" in page.inner_text("#admin-exclusions")
        open_tab(page, "Results")
        page.wait_for_function("document.querySelector('#admin-items').innerText.includes('fewer than 3 raters')")
        shown = page.inner_text("#admin-items") + page.inner_text("#admin-conditions")
        intervals = re.findall(r"(-?\d+\.\d+)-(-?\d+\.\d+)", shown)
        assert intervals and all(0 <= float(low) <= float(high) <= 100 for low, high in intervals)


def open_tab(page, name: str) -> None:
    """Click a tab; on a narrow screen Gradio puts the last tabs behind its "More tabs" button."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.is_visible():
        tab.click()
        return
    page.get_by_role("button", name="More tabs").click()
    page.locator(".overflow-dropdown button", has_text=name).click()


# ---------------------------------------------------- headphone check and questionnaire in the results


def take_headphone_check_and_rate(database, test, *, wrong: int, device: str, rate) -> None:
    """A participant who answers the questionnaire, gets ``wrong`` of six headphone trials wrong, and rates."""
    from codecbench.listening_test import flow, headphone_check, participant_info
    from codecbench.storage.listening_tables import HeadphoneCheckRow

    view = start(database, test)
    with database.session() as session:
        participant_info.record(session, view.session_token, consent_given=True,
                                answers={"age_range": "25-34", "device": device})
        flow.advance(session, view.session_token, "instructions")
        flow.advance(session, view.session_token, "level_check")
        headphone_check.start_check(session, view.session_token)
    with database.session() as session:
        row = flow.find_session(session, view.session_token)
        layout = session.query(HeadphoneCheckRow).filter_by(session_id=row.id).one().layout
        right = [order.index("Q") + 1 for order in layout.split(",")]
        picks = [(answer % 3) + 1 if index < wrong else answer for index, answer in enumerate(right)]
        headphone_check.grade(session, view.session_token, picks)
        view = flow.advance(session, view.session_token, "headphone_check")
    complete(database, view, rate=rate)


@pytest.fixture(scope="module")
def with_headphone_check(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mushra-headphones")
    spec_path = write_test_files(folder, num_items=2, duration_s=1.2, headphone_check=True, questionnaire=True,
                                 title="Speech quality")
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    test = store(database, prepare(spec_path))
    take_headphone_check_and_rate(database, test, wrong=0, device="over-ear headphones", rate=CAREFUL.get)
    take_headphone_check_and_rate(database, test, wrong=3, device="loudspeakers", rate=CAREFUL.get)
    database.close()
    return database_url, test


def test_who_failed_the_headphone_check_is_excluded_on_request_and_every_answer_is_exported(with_headphone_check,
                                                                                            tmp_path):
    import pandas as pd

    database_url, test = with_headphone_check
    plain = run_cli("mushra", "results", str(test.id), "--db", database_url, "--screening", "bs1534")
    assert plain.returncode == 0, plain.stderr
    assert "excluded 0 of 2 assessor(s)" in plain.stdout
    assert re.search(r"Headphone check and questionnaire:\n.*\n\s*P\d+\s+passed\s+6\s+25-34\s+over-ear headphones",
                     plain.stdout)
    assert re.search(r"P\d+\s+failed\s+3\s+25-34\s+loudspeakers", plain.stdout)

    strict = run_cli("mushra", "results", str(test.id), "--db", database_url, "--screening", "bs1534",
                     "--require-headphone-check")
    assert strict.returncode == 0, strict.stderr
    assert "bs1534 + headphones" in strict.stdout and "excluded 1 of 2 assessor(s)" in strict.stdout
    assert re.search(r"- P\d+: failed the headphone check \(3 of 6 right\)", strict.stdout)

    exported = run_cli("mushra", "export", str(test.id), "--db", database_url, "-o", str(tmp_path / "all.csv"))
    assert exported.returncode == 0, exported.stderr
    table = pd.read_csv(tmp_path / "all.csv", keep_default_na=False)
    by_participant = table.drop_duplicates("participant").set_index("device")
    assert by_participant.loc["loudspeakers", "headphone_check"] == "failed"
    assert by_participant.loc["loudspeakers", "headphone_correct"] == 3
    assert by_participant.loc["over-ear headphones", "headphone_check"] == "passed"
    assert set(table["age_range"]) == {"25-34"} and set(table["hearing_problems"]) == {""}
    kept = run_cli("mushra", "export", str(test.id), "--db", database_url, "-o", str(tmp_path / "kept.csv"),
                   "--require-headphone-check")
    assert kept.returncode == 0 and "excluded 1" in kept.stderr
    assert set(pd.read_csv(tmp_path / "kept.csv", keep_default_na=False)["device"]) == {"over-ear headphones"}


def test_the_admin_page_shows_the_answers_and_excludes_failed_headphone_checks_when_ticked(with_headphone_check,
                                                                                           tmp_path):
    from gradio_client import Client

    database_url, test = with_headphone_check
    settings = AppSettings(work_dir=tmp_path / "work", database_url=database_url, admin_password=ADMIN_PASSWORD)
    server, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    try:
        client = Client(url + "admin/", verbose=False)
        outputs = {}
        for ticked in (False, True):
            outputs[ticked] = client.predict(ADMIN_PASSWORD, str(test.id), "bs1534", ticked, api_name="/show")
    finally:
        server.close()
    notes, participants = outputs[False][5], outputs[False][7]
    assert "excluded 0 of 2" in notes
    assert participants["headers"] == ["participant", "headphone_check", "headphone_correct", "age_range",
                                       "hearing_problems", "device"]
    assert sorted(row[1] for row in participants["data"]) == ["failed", "passed"]
    assert "bs1534 + headphones" in outputs[True][5] and "failed the headphone check (3 of 6 right)" in outputs[True][5]
