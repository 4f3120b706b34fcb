"""End to end: FACodec on the Listen page in a real browser (code streams, voice conversion)."""

from __future__ import annotations

import pytest
import soundfile

from codecbench.app import AppSettings, launch
from codecbench.codecs import get_entry, load_codec
from codecbench.paths import HOME_ENV
from codecbench.synthetic import speech_like
from tests.browser import chromium_page, free_port
from tests.checkpoints import install_in_hub_cache, save_tiny_dac
from tests.facodec_fixtures import use_tiny_facodec_for_the_hub_entry, write_tiny_facodec

pytestmark = pytest.mark.browser

CARDS_WITH_RESULTS = (
    "[...document.querySelectorAll('.condition-card')].filter(card => card.querySelector('.condition-result')).length"
)


def _start_app(tmp_path_factory, *, with_redecoder: bool):
    """The app on a free port, with a codecbench home whose Hub cache holds a tiny FACodec
    (with or without its redecoder) and a DAC 16 kHz whose weights file is corrupt."""
    home = tmp_path_factory.mktemp("codecbench-home")
    facodec = get_entry("facodec").weights.hub
    source = tmp_path_factory.mktemp("facodec")
    write_tiny_facodec(source, with_redecoder=with_redecoder)
    install_in_hub_cache(home / "hub", facodec.repo_id, facodec.revision, source)
    dac = get_entry("dac_16khz").weights.hub
    broken = save_tiny_dac(tmp_path_factory.mktemp("dac"), [2, 4, 5, 8], 12)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    install_in_hub_cache(home / "hub", dac.repo_id, dac.revision, broken)
    settings = AppSettings(max_duration_s=30.0, work_dir=tmp_path_factory.mktemp("app"))
    patch = pytest.MonkeyPatch()
    patch.setenv(HOME_ENV, str(home))
    use_tiny_facodec_for_the_hub_entry(patch)
    load_codec.cache_clear()
    app, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)

    def stop() -> None:
        app.close()
        load_codec.cache_clear()
        patch.undo()

    return url, stop


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    url, stop = _start_app(tmp_path_factory, with_redecoder=True)
    yield url
    stop()


@pytest.fixture
def clips(tmp_path):
    content, timbre = tmp_path / "content.wav", tmp_path / "timbre.wav"
    soundfile.write(content, speech_like(2.0, 22_050, seed=21), 22_050)
    soundfile.write(timbre, speech_like(1.5, 16_000, seed=22), 16_000)
    return content, timbre


def _audio_duration_s(page, player) -> float:
    player.wait_for(state="attached")
    return page.wait_for_function(
        "a => a.readyState >= 1 && a.duration > 0 ? a.duration : null", arg=player.element_handle()
    ).json_value()


def test_facodec_operating_points_show_their_code_streams_and_a_broken_codec_fails_alone(app_url, clips):
    content, _ = clips
    with chromium_page() as page:
        page.goto(app_url)
        picker = page.locator("#picker-facodec")
        for label in ("2.4 kbps", "3.2 kbps", "4 kbps", "4.8 kbps"):
            assert picker.get_by_label(label, exact=True).is_enabled()
        page.locator("#listen-input input[type=file]").set_input_files(str(content))
        opus = page.locator("#picker-opus")
        opus.get_by_label("12 kbps", exact=True).uncheck()  # opus 6 kbps stays ticked
        picker.get_by_label("2.4 kbps", exact=True).check()
        picker.get_by_label("4.8 kbps", exact=True).check()
        page.locator("#picker-dac_16khz").get_by_label("1 kbps", exact=True).check()
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_selector("#listen-status:has-text('Done: 4 condition(s), 1 failed')")

        cards = {card.locator("h3").first.inner_text(): card for card in page.locator(".condition-card").all()}
        assert set(cards) == {"opus 6 kbps", "facodec 2.4 kbps", "facodec 4.8 kbps", "dac_16khz 1 kbps"}
        assert "cannot load the DAC model" in cards["dac_16khz 1 kbps"].inner_text()
        assert cards["opus 6 kbps"].locator(".condition-codes").count() == 0  # no code streams for Opus
        for kbps in ("2.4", "4.8"):
            card = cards[f"facodec {kbps} kbps"]
            text = card.locator(".condition-result").first.inner_text()
            # 3 or 6 codebooks x 80 frames/s x 10 bits; the tiny model's 16-value timbre vector apart.
            assert f"{float(kbps):.2f} kbps measured (nominal {kbps})" in text
            assert "+ 512 bits of side information per clip" in text
            assert _audio_duration_s(page, card.locator("audio[src]").first) == pytest.approx(2.0, abs=0.02)
            codes = card.locator(".condition-codes img").first
            codes.wait_for()
            page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=codes.element_handle())
        # Prosody + content only at 2.4 kbps: the image of 4.8 kbps has three more rows (residual).
        heights = [
            page.evaluate("img => img.naturalHeight", cards[f"facodec {kbps} kbps"].locator(".condition-codes img").first.element_handle())
            for kbps in ("2.4", "4.8")
        ]
        assert heights[1] > heights[0]


def test_voice_conversion_box_speaks_the_content_clip_in_the_other_voice(app_url, clips):
    content, timbre = clips
    with chromium_page() as page:
        page.goto(app_url)
        assert "Not available" not in page.locator("#voice-conversion-info").first.inner_text()
        page.get_by_role("button", name="Convert voice", exact=True).click()
        page.get_by_text("Upload or record both clips").first.wait_for()

        page.locator("#voice-conversion-content input[type=file]").set_input_files(str(content))
        page.locator("#voice-conversion-timbre input[type=file]").set_input_files(str(timbre))
        page.get_by_role("button", name="Convert voice", exact=True).click()
        page.wait_for_selector("#voice-conversion-status:has-text('Converted 2.00 s at 22.05 kHz')")
        output = page.locator("#voice-conversion-output audio[src]").first
        assert _audio_duration_s(page, output) == pytest.approx(2.0, abs=0.02)


def test_without_the_redecoder_the_box_says_how_to_get_it(tmp_path_factory):
    url, stop = _start_app(tmp_path_factory, with_redecoder=False)
    try:
        with chromium_page() as page:
            page.goto(url)
            info = page.locator("#voice-conversion-info").first.inner_text()
            assert "Not available: voice conversion needs FACodec's redecoder" in info
            assert "has no ns3_facodec_redecoder.bin at revision" in info and "pass --model-dir DIR" in info
            assert page.get_by_role("button", name="Convert voice", exact=True).is_disabled()
            # FACodec itself still runs at every operating point.
            assert page.locator("#picker-facodec").get_by_label("4.8 kbps", exact=True).is_enabled()
    finally:
        stop()
