"""End to end: the Listen page in a real browser, against the real app on 127.0.0.1."""

from __future__ import annotations

import pytest
import soundfile

from codecbench.app import AppSettings, launch
from codecbench.synthetic import speech_like
from tests.browser import chromium_page, free_port

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    settings = AppSettings(max_duration_s=30.0, work_dir=tmp_path_factory.mktemp("app"))
    app, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    yield url
    app.close()


@pytest.fixture
def clip_path(tmp_path):
    path = tmp_path / "my_clip.wav"
    soundfile.write(path, speech_like(4.0, 16_000, seed=11), 16_000)
    return path


def test_upload_run_opus_6_and_low_anchor_shows_players_spectrograms_and_kbps(app_url, clip_path):
    with chromium_page() as page:
        page.goto(app_url)
        page.locator("#listen-input input[type=file]").set_input_files(str(clip_path))
        page.get_by_label("6 kbps", exact=True).check()
        page.get_by_label("12 kbps", exact=True).uncheck()
        page.get_by_label("3.5 kHz", exact=True).check()
        page.get_by_role("button", name="Compare", exact=True).click()

        page.wait_for_function(
            "document.querySelectorAll('.condition-card .condition-result').length === 2"
        )
        page.wait_for_selector("#listen-status:has-text('Done: 2 condition(s).')")

        cards = page.locator(".condition-card")
        assert cards.count() == 2
        opus, anchor = cards.nth(0), cards.nth(1)
        assert "opus 6 kbps" in opus.inner_text()
        assert "lowpass_3500 3.5 kHz" in anchor.inner_text()
        opus_text = opus.locator(".condition-result").first.inner_text()
        measured = float(opus_text.split("kbps measured")[0].split()[-1])
        assert 4.0 < measured < 7.0
        assert "nominal 6" in opus_text
        assert "no bitstream (anchor)" in anchor.inner_text()

        for card in (opus, anchor):
            spectrogram = card.locator("img").first
            spectrogram.wait_for()
            page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=spectrogram.element_handle())
            player = card.locator("audio[src]").first
            player.wait_for(state="attached")
            duration = page.wait_for_function(
                "a => a.readyState >= 1 && a.duration > 0 ? a.duration : null", arg=player.element_handle()
            ).json_value()
            assert duration == pytest.approx(4.0, abs=0.05)

        # The original is shown above the conditions, with its name and rate.
        assert "my_clip.wav · 4.00 s · 16 kHz (mono)" in page.locator(".original-card").inner_text()


def test_compare_without_a_clip_says_what_to_do(app_url):
    with chromium_page() as page:
        page.goto(app_url)
        page.get_by_role("button", name="Compare", exact=True).click()
        page.get_by_text("Upload or record a speech clip first.").first.wait_for()
        assert page.locator(".condition-card").count() == 0


def test_a_file_that_is_not_audio_gets_a_clear_error(app_url, tmp_path):
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio at all\n" * 50)
    with chromium_page() as page:
        page.goto(app_url)
        page.locator("#listen-input input[type=file]").set_input_files(str(bogus))
        page.get_by_role("button", name="Compare", exact=True).click()
        page.get_by_text("not an audio file codecbench can read").first.wait_for()
        assert page.locator(".condition-card").count() == 0
