"""The Listen page's lockstep player, layout, repeated comparisons and shared links, in a real
browser against the real app on 127.0.0.1, with real speech clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecbench.app import AppSettings, launch
from codecbench.codecs import load_codec
from codecbench.paths import HOME_ENV
from tests.browser import chromium_page, free_port
from tests.speech_clips import speech_clip

pytestmark = pytest.mark.browser

ENGLISH = speech_clip("en/en_ls_2412-153948-0001.flac", seconds=10.5, seed=21)
MANDARIN = speech_clip("zh/zh_aishell1_dev_BAC009S0724W0121.wav", seconds=4.5, seed=22)
# Picker id and checkbox label of each condition the tests tick.
LABELS = {
    "opus@6": ("opus", "6 kbps"), "opus@12": ("opus", "12 kbps"), "opus@24": ("opus", "24 kbps"),
    "codec2@3.2": ("codec2", "3200"), "codec2@1.2": ("codec2", "1200"),
    "lowpass_3500": ("lowpass_3500", "3.5 kHz"), "lowpass_7000": ("lowpass_7000", "7 kHz"),
}
MOBILE = {"width": 390, "height": 844}

# Records every toast Gradio shows (they vanish after a while), with its text.
WATCH_TOASTS = """() => {
  window.toasts = [];
  new MutationObserver(() => {
    for (const toast of document.querySelectorAll('[data-testid="toast-body"]')) {
      if (!toast.dataset.seen) { toast.dataset.seen = '1'; window.toasts.push(toast.innerText); }
    }
  }).observe(document.body, { childList: true, subtree: true });
}"""
CARDS_WITH_RESULTS = (
    "[...document.querySelectorAll('.condition-card')].filter(card => card.querySelector('.condition-result')).length"
)
CARDS_WITH_SCORES = (
    "[...document.querySelectorAll('.condition-card')]"
    ".filter(card => card.querySelector('.condition-scores table')).length"
)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("codecbench-home")  # no neural weights: only classical codecs are ready
    settings = AppSettings(max_duration_s=30.0, work_dir=tmp_path_factory.mktemp("app"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        load_codec.cache_clear()
        app, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
        yield url
        app.close()
        load_codec.cache_clear()


def tick(page, conditions: list[str]) -> None:
    """Tick exactly ``conditions`` among the classical codecs and anchors."""
    for condition, (picker, label) in LABELS.items():
        box = page.locator(f"#picker-{picker}").get_by_label(label, exact=True)
        box.set_checked(condition in conditions)


def compare(page, clip: Path, conditions: list[str]) -> None:
    page.locator("#listen-input input[type=file], #listen-input button[aria-label=Clear]").first.wait_for(
        state="attached")
    if page.locator("#listen-input input[type=file]").count() == 0:  # the clip of the last run: clear it
        page.locator("#listen-input button[aria-label=Clear]").click()
    page.locator("#listen-input input[type=file]").set_input_files(str(clip))
    tick(page, conditions)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_selector(f"#listen-status:has-text('Done: {len(conditions)} condition(s).')")
    page.wait_for_function(f"{CARDS_WITH_SCORES} === {len(conditions)}")


def test_five_compares_in_a_row_show_every_result_and_no_error(app_url, capfd):
    runs = [
        (ENGLISH, ["opus@6", "opus@12"]),
        (MANDARIN, ["opus@6", "opus@12", "codec2@3.2"]),
        (ENGLISH, ["opus@6", "codec2@3.2", "lowpass_3500", "lowpass_7000"]),
        (MANDARIN, ["opus@6", "opus@12", "opus@24", "codec2@3.2", "lowpass_3500", "lowpass_7000"]),
        (ENGLISH, list(LABELS)),
    ]
    with chromium_page() as page:
        page.goto(app_url)
        page.evaluate(WATCH_TOASTS)
        run_ids = []
        for clip, conditions in runs:
            compare(page, clip, conditions)
            assert page.evaluate(CARDS_WITH_RESULTS) == len(conditions)
            assert page.locator(".condition-card").count() == len(conditions)
            titles = page.locator(".condition-card h3").all_inner_texts()
            assert len(set(titles)) == len(conditions), titles
            for table in page.locator(".condition-scores").all_inner_texts():
                assert "ViSQOL (speech)" in table and "PESQ-WB" in table and "STOI" in table, table
            assert clip.name in page.locator(".original-card").inner_text()
            run_ids.append(page.evaluate("window.codecbenchListen.run().id"))
        assert page.evaluate("window.toasts") == []
    assert len(set(run_ids)) == len(runs)
    assert "KeyError" not in capfd.readouterr().err


def test_codec2_si_snr_is_marked_not_applicable_and_says_why(app_url):
    with chromium_page() as page:
        page.goto(app_url)
        compare(page, MANDARIN, ["opus@6", "codec2@3.2"])
        cards = {card.locator("h3").inner_text(): card for card in page.locator(".condition-card").all()}
        codec2 = cards["codec2 3200"].locator(".condition-scores td.metric-na")
        assert codec2.count() == 1 and codec2.inner_text() == "n/a"
        assert "synthesises its own phase" in codec2.get_attribute("title")
        assert cards["opus 6 kbps"].locator(".condition-scores td.metric-na").count() == 0
        assert "dB" in cards["opus 6 kbps"].locator(".condition-scores table").inner_text()


@pytest.mark.parametrize("viewport", [None, MOBILE], ids=["desktop", "mobile"])
def test_the_lockstep_player_switches_at_the_same_position_and_loops(app_url, viewport):
    with chromium_page() as page:
        if viewport:
            page.set_viewport_size(viewport)
        page.goto(app_url)
        compare(page, MANDARIN, ["opus@6", "codec2@3.2", "lowpass_3500"])
        page.wait_for_function("window.codecbenchListen.run().ready")
        engine = "window.codecbenchListen.engine()"
        # One audio context holds the original and the three reconstructions.
        assert page.evaluate(f"{engine}.tracks.filter(Boolean).length") == 4
        assert page.locator(".listen-track").all_inner_texts() == [
            "1 original", "2 opus 6 kbps", "3 codec2 3200", "4 lowpass_3500 3.5 kHz"]
        assert page.locator(".listen-strip img").count() == 4

        page.locator(".listen-play").click()
        page.wait_for_function(f"{engine}.playing && {engine}.position() > 0.3")
        page.evaluate(f"window.generation = {engine}.generation")
        before = page.evaluate(f"{engine}.position()")
        page.keyboard.press("3")
        assert page.evaluate(f"{engine}.selected") == 2
        page.locator(".listen-track", has_text="opus 6 kbps").click()
        assert page.evaluate(f"{engine}.selected") == 1
        assert page.locator(".listen-track.selected").inner_text() == "2 opus 6 kbps"
        # Switching kept the running sources (same generation): no restart, no gap.
        assert page.evaluate(f"{engine}.generation === window.generation")
        page.wait_for_function(f"{engine}.position() > {before}")

        # Drag across the middle half of the spectrograms: that part loops.
        strips = page.locator(".listen-strips").bounding_box()
        y = strips["y"] + strips["height"] / 2
        page.mouse.move(strips["x"] + 0.25 * strips["width"], y)
        page.mouse.down()
        page.mouse.move(strips["x"] + 0.75 * strips["width"], y, steps=5)
        page.mouse.up()
        duration = page.evaluate(f"{engine}.duration")
        start, end = page.evaluate(f"[{engine}.loopStart, {engine}.loopEnd]")
        assert start == pytest.approx(0.25 * duration, abs=0.05 * duration)
        assert end == pytest.approx(0.75 * duration, abs=0.05 * duration)
        page.wait_for_function(f"{engine}.playing && {engine}.position() >= {start} && {engine}.position() < {end}")
        # The cursor sits on the spectrograms at the playing position (it is moved on the next
        # animation frame, which a loaded machine may deliver late: wait for it).
        strips = page.locator(".listen-strips").bounding_box()
        page.wait_for_function(
            """([low, high]) => {
                const x = document.querySelector(".listen-cursor").getBoundingClientRect().x;
                return low < x && x < high;
            }""",
            arg=[strips["x"] + 0.2 * strips["width"], strips["x"] + 0.8 * strips["width"]],
        )

        page.locator(".listen-play").click()
        page.wait_for_function(f"!{engine}.playing")
        # Nothing on the page is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

        # On the Leaderboard tab the number keys leave the hidden player alone.
        page.get_by_role("tab", name="Leaderboard").click()
        page.keyboard.press("4")
        assert page.evaluate(f"{engine}.selected") == 1
        page.get_by_role("tab", name="Listen").click()
        page.keyboard.press("4")
        assert page.evaluate(f"{engine}.selected") == 3


@pytest.mark.parametrize("viewport", [None, MOBILE], ids=["desktop", "mobile"])
def test_compare_is_near_the_upload_and_the_results_come_into_view(app_url, viewport):
    with chromium_page() as page:
        if viewport:
            page.set_viewport_size(viewport)
        page.goto(app_url)
        height = page.evaluate("window.innerHeight")
        compare_box = page.get_by_role("button", name="Compare", exact=True).bounding_box()
        assert compare_box["y"] + compare_box["height"] <= height  # visible without scrolling
        # Codecs that cannot run sit folded in one section that says how to get them.
        unready = page.locator("#listen-unready")
        assert "codecs need their weights" in unready.inner_text()
        assert not page.locator("#picker-dac_16khz").is_visible()
        unready.get_by_text("codecs need their weights").click()
        page.locator("#picker-dac_16khz").wait_for(state="visible")
        assert "codecbench download" in unready.inner_text()

        compare(page, MANDARIN, ["opus@6", "lowpass_3500"])
        page.wait_for_function(
            "(() => { const r = document.querySelector('.listen-board').getBoundingClientRect();"
            " return r.top >= -1 && r.top < window.innerHeight / 2; })()"
        )


def test_a_shared_link_preselects_its_conditions_and_protocol(app_url):
    with chromium_page() as page:
        page.goto(app_url + "?c=opus@24,codec2@3.2,lowpass_7000&protocol=speech-exp")
        codec2 = page.locator("#picker-codec2").get_by_label("3200", exact=True)
        page.wait_for_function("box => box.checked", arg=codec2.element_handle())
        checked = {condition for condition, (picker, label) in LABELS.items()
                   if page.locator(f"#picker-{picker}").get_by_label(label, exact=True).is_checked()}
        assert checked == {"opus@24", "codec2@3.2", "lowpass_7000"}
        assert "speech-exp" in page.locator("#listen-visqol-protocol input").input_value()

        page.locator("#listen-input input[type=file]").set_input_files(str(MANDARIN))
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_selector("#listen-status:has-text('Done: 3 condition(s).')")
        share = page.locator(".listen-share").input_value()
        assert share.endswith("/?c=opus@24,codec2@3.2,lowpass_7000&protocol=speech-exp")
        assert "zh_aishell1" not in share  # the audio is not shared


def test_a_shared_link_naming_unknown_conditions_warns_and_ticks_the_rest(app_url):
    with chromium_page() as page:
        page.goto(app_url + "?c=opus@6,nonsense@9,<script>&protocol=bogus")
        page.get_by_text("cannot run: nonsense@9 and 1 unreadable name(s)").first.wait_for()
        assert page.locator("#picker-opus").get_by_label("6 kbps", exact=True).is_checked()
        assert not page.locator("#picker-opus").get_by_label("12 kbps", exact=True).is_checked()
