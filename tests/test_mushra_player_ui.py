"""The participant page in chromium, on a desktop and on a phone: layout, headings, unset
sliders and their keys, messages that follow the state (issue 14)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

import pytest

from codecbench.app import AppSettings, launch
from codecbench.storage import open_database
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, free_port
from tests.mushra_helpers import prepare, store, write_test_files

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 3}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mushra-ui")
    port = free_port()
    spec_path = write_test_files(
        folder, num_items=2, duration_s=1.2, title="Speech quality",
        # three systems + three anchors: six sliders, A to F
        conditions=[{"codec": "opus", "bitrate_kbps": 6}, {"codec": "opus", "bitrate_kbps": 8},
                    {"codec": "codec2", "bitrate_kbps": 3.2}],
        crowd={"sessions_per_address_per_hour": 100, "new_sessions_per_minute": 100},
    )
    database_url = f"sqlite:///{folder / 'db.sqlite3'}"
    database = open_database(database_url)
    test = store(database, prepare(spec_path))
    settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password="x" * 20)
    server, url = launch(settings, host="127.0.0.1", port=port, block=False)
    yield {"url": url, "test": test}
    server.close()
    database.close()


@contextmanager
def browser_page(**context_options):
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_context(**context_options).new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def open_training_trial(app, page, participant: str) -> None:
    page.goto(f"{app['url']}mushra/?test={app['test'].link_token}&PROLIFIC_PID={participant}")
    page.locator("#mushra-start").wait_for(state="visible")
    page.click("#mushra-start")
    page.locator("#mushra-level-continue").wait_for(state="visible")
    page.check("#mushra-level-ok input")
    page.click("#mushra-level-continue")
    page.locator(".mushra-slider").first.wait_for()


def play_every_stimulus(page) -> None:
    count = page.locator(".mushra-slider").count()
    page.locator(".mushra-play").click()
    for index in range(count):
        page.locator(".mushra-select").nth(index + 1).click()  # 0 is the reference
        page.wait_for_function(f"document.querySelectorAll('.mushra-column.is-played').length >= {index + 1}")
    page.locator(".mushra-play").click()


def message(page) -> str:
    return page.locator(".mushra-message").inner_text()


def test_on_a_phone_every_slider_fits_the_screen(app):
    with browser_page(**PHONE) as page:
        open_training_trial(app, page, "phone-1")
        assert page.locator(".mushra-slider").count() == 6
        width = page.evaluate("window.innerWidth")
        assert width == 390
        for node in (*page.locator(".mushra-slider").all(), *page.locator(".mushra-column .mushra-select").all()):
            box = node.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        rating = page.locator(".mushra-rating")
        assert rating.evaluate("r => r.scrollWidth <= r.clientWidth")
        # touch: a tap on a slider sets it
        page.locator(".mushra-slider").nth(5).tap()
        assert "unset" not in page.locator(".mushra-slider").nth(5).get_attribute("class")


def test_the_trial_title_is_a_heading_with_progress(app):
    with browser_page(**DESKTOP) as page:
        open_training_trial(app, page, "desk-1")
        heading = page.get_by_role("heading", name="Training trial (practice)")
        assert heading.evaluate("h => h.tagName") == "H2"
        assert float(heading.evaluate("h => getComputedStyle(h).fontSize").removesuffix("px")) >= 20
        assert page.locator(".mushra-progress").get_attribute("max") == "2"
        assert "not scored" in page.locator(".mushra-progress-text").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_unset_sliders_look_unset_and_every_key_sets_a_value(app):
    with browser_page(**DESKTOP) as page:
        open_training_trial(app, page, "desk-2")
        sliders = page.locator(".mushra-slider")
        values = page.locator(".mushra-value")
        assert values.nth(0).inner_text() == "not rated" and sliders.nth(0).get_attribute("aria-valuetext") == "not rated"
        unset_style = sliders.nth(0).evaluate("s => getComputedStyle(s).opacity")
        sliders.nth(0).focus()
        page.keyboard.press("Home")  # the browser alone changes nothing at the resting 0
        assert values.nth(0).inner_text() == "0" and "unset" not in sliders.nth(0).get_attribute("class")
        assert sliders.nth(0).evaluate("s => getComputedStyle(s).opacity") != unset_style
        sliders.nth(1).focus()
        page.keyboard.press("End")
        assert values.nth(1).inner_text() == "100"
        sliders.nth(2).focus()
        page.keyboard.press("ArrowDown")
        assert values.nth(2).inner_text() == "0"
        sliders.nth(3).focus()
        page.keyboard.press("ArrowUp")
        assert values.nth(3).inner_text() == "1"
        page.keyboard.press("End")  # a set slider keeps the browser's own keys
        assert values.nth(3).inner_text() == "100"
        assert values.nth(4).inner_text() == "not rated"


def test_messages_follow_the_state(app):
    with browser_page(**DESKTOP) as page:
        page.goto(f"{app['url']}mushra/?test={app['test'].link_token}&PROLIFIC_PID=desk-3")
        page.locator("#mushra-start").wait_for(state="visible")
        page.click("#mushra-start")
        page.locator("#mushra-level-continue").wait_for(state="visible")
        page.click("#mushra-level-continue")  # not confirmed: a hint next to the box
        page.get_by_text("Please tick the box to confirm").wait_for()
        page.check("#mushra-level-ok input")  # the hint goes as soon as the box is ticked
        page.get_by_text("Please tick the box to confirm").wait_for(state="detached")
        page.click("#mushra-level-continue")
        page.locator(".mushra-slider").first.wait_for()
        assert page.get_by_text("Please tick the box").count() == 0
        assert page.locator(".toast-body").count() == 0  # no toast left over the trial

        page.click(".mushra-next")
        page.wait_for_function("document.querySelector('.mushra-message').innerText.includes('missing: A, B')")
        page.locator(".mushra-play").click()
        page.locator(".mushra-select").nth(1).click()  # A is played: the message says so at once
        page.wait_for_function("document.querySelector('.mushra-message').innerText.includes('(not yet: B, C, D, E, F)')")
        play_every_stimulus(page)
        assert message(page) == "Please rate every version (missing: A, B, C, D, E, F)."
        sliders = page.locator(".mushra-slider").all()
        for slider in sliders[:-1]:
            slider.fill("40")
        assert message(page) == "Please rate every version (missing: F)."
        sliders[-1].fill("70")
        assert message(page) == ""
