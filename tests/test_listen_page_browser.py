"""End to end: the Listen page in a real browser, against the real app on 127.0.0.1."""

from __future__ import annotations

import pytest
import soundfile

from codecbench.app import AppSettings, launch
from codecbench.codecs import get_entry, load_codec
from codecbench.paths import HOME_ENV
from codecbench.synthetic import speech_like
from tests.browser import chromium_page, free_port
from tests.checkpoints import install_in_hub_cache, save_tiny_encodec_24khz
from tests.freqcodec_checkpoints import write_funcodec_model_dir

pytestmark = pytest.mark.browser

FREQCODEC_GR1 = "freqcodec_magphase_en_libritts_16k_gr1nq32ds320"
FREQCODEC_GR8 = "freqcodec_magphase_en_libritts_16k_gr8nq32ds320"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    # A codecbench home whose Hub cache holds (tiny) EnCodec 24 kHz and FreqCodec gr1 weights and nothing else.
    home = tmp_path_factory.mktemp("codecbench-home")
    hub = get_entry("encodec_24khz").weights.hub
    install_in_hub_cache(home / "hub", hub.repo_id, hub.revision, save_tiny_encodec_24khz(tmp_path_factory.mktemp("encodec")))
    hub = get_entry(FREQCODEC_GR1).weights.hub
    install_in_hub_cache(home / "hub", hub.repo_id, hub.revision, write_funcodec_model_dir(tmp_path_factory.mktemp("freqcodec")))
    settings = AppSettings(max_duration_s=30.0, work_dir=tmp_path_factory.mktemp("app"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(home))
        load_codec.cache_clear()
        app, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
        yield url
        app.close()
        load_codec.cache_clear()


@pytest.fixture
def clip_path(tmp_path):
    path = tmp_path / "my_clip.wav"
    soundfile.write(path, speech_like(4.0, 16_000, seed=11), 16_000)
    return path


def open_unready_codecs(page) -> None:
    """Unfold the section of codecs that cannot run yet (folded, so that Compare stays in view)."""
    page.locator("#listen-unready").get_by_text("codecs need their weights").click()
    page.locator("#listen-unready .condition-picker").first.wait_for(state="visible")


# (Gradio puts a Markdown's classes on two nested elements, so count cards, not matches.)
CARDS_WITH_RESULTS = (
    "[...document.querySelectorAll('.condition-card')].filter(card => card.querySelector('.condition-result')).length"
)
CARDS_WITH_SCORES = (
    "[...document.querySelectorAll('.condition-card')]"
    ".filter(card => card.querySelector('.condition-scores table')).length"
)

# Watches every <audio> element the page shows, including the ones players keep in shadow
# roots: when the first appeared, when each started playing; and when the first score table
# appeared.
WATCH_PLAYERS_AND_SCORES = """() => {
  window.firstPlayerAt = null; window.firstScoresAt = null; window.firstPlayingAt = null;
  const players = (root) => [...root.querySelectorAll('*')].flatMap(
    (el) => [...(el.tagName === 'AUDIO' ? [el] : []), ...(el.shadowRoot ? players(el.shadowRoot) : [])]);
  window.allPlayers = () => players(document);
  setInterval(() => {
    for (const player of players(document)) {
      if (!player.dataset.seen) {
        player.dataset.seen = '1';
        window.firstPlayerAt ??= performance.now();
        player.addEventListener('playing', () => {
          player.startedAt ??= performance.now(); window.firstPlayingAt ??= player.startedAt;
        });
      }
    }
    if (document.querySelector('.condition-scores table')) window.firstScoresAt ??= performance.now();
  }, 20);
}"""


def test_upload_run_opus_6_and_low_anchor_shows_players_spectrograms_and_kbps(app_url, clip_path):
    with chromium_page() as page:
        page.goto(app_url)
        page.evaluate(WATCH_PLAYERS_AND_SCORES)
        page.locator("#listen-input input[type=file]").set_input_files(str(clip_path))
        opus = page.locator("#picker-opus")
        opus.get_by_label("6 kbps", exact=True).check()
        opus.get_by_label("12 kbps", exact=True).uncheck()
        page.get_by_label("3.5 kHz", exact=True).check()
        page.get_by_role("button", name="Compare", exact=True).click()

        page.wait_for_function(f"{CARDS_WITH_RESULTS} === 2")
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

        # Scores fill in under each player, after the players are shown.
        page.wait_for_function(f"{CARDS_WITH_SCORES} === 2")
        for card in (opus, anchor):
            table = card.locator(".condition-scores").first.inner_text()
            assert "ViSQOL (speech)" in table and "PESQ-WB" in table and "STOI" in table and "SI-SNR" in table
            cells = table.split("\n")[-1].split()
            assert len(cells) == 5 and cells[-1] == "dB", table  # four numbers, SI-SNR in dB
            visqol, pesq, stoi = (float(cell) for cell in cells[:3])
            assert 1.0 <= visqol <= 5.0 and 1.0 <= pesq <= 4.7 and 0.5 <= stoi <= 1.0
        assert page.evaluate("window.firstPlayerAt < window.firstScoresAt")


def test_the_lockstep_player_keeps_playing_while_the_scores_fill_in(app_url, tmp_path):
    # A long clip, so that scoring (about 0.1 s per second of audio and condition) lasts
    # well beyond the moment playback starts.
    clip = tmp_path / "long_clip.wav"
    soundfile.write(clip, speech_like(25.0, 16_000, seed=12, peak=0.3), 16_000)
    with chromium_page() as page:
        page.goto(app_url)
        page.evaluate(WATCH_PLAYERS_AND_SCORES)
        page.locator("#listen-input input[type=file]").set_input_files(str(clip))
        page.locator("#picker-opus").get_by_label("12 kbps", exact=True).uncheck()
        page.get_by_label("7 kHz", exact=True).check()
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_function("window.codecbenchListen.run() && window.codecbenchListen.run().ready")
        page.locator(".listen-play").click()
        page.wait_for_function("window.codecbenchListen.engine().playing")
        page.evaluate("window.startedGeneration = window.codecbenchListen.engine().generation")

        page.wait_for_function(f"{CARDS_WITH_SCORES} === 2")
        # Scores arriving did not stop or restart playback (a restart makes a new generation).
        assert page.evaluate("window.codecbenchListen.engine().generation === window.startedGeneration")
        assert page.evaluate("window.codecbenchListen.engine().playing")


def test_the_chosen_visqol_protocol_is_the_one_scored(app_url, clip_path):
    with chromium_page() as page:
        page.goto(app_url)
        page.locator("#listen-input input[type=file]").set_input_files(str(clip_path))
        page.locator("#picker-opus").get_by_label("12 kbps", exact=True).uncheck()
        page.locator("#listen-visqol-protocol input").click()
        page.get_by_role("option", name="audio-native", exact=False).click()
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_function(f"{CARDS_WITH_SCORES} === 1")
        assert "ViSQOL (audio-native)" in page.locator(".condition-scores").first.inner_text()


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


def test_a_downloaded_neural_codec_runs_and_one_without_weights_says_how_to_get_them(app_url, clip_path):
    with chromium_page() as page:
        page.goto(app_url)
        open_unready_codecs(page)
        missing = page.locator("#picker-dac_16khz")
        assert "codecbench download dac_16khz" in missing.inner_text()
        assert missing.get_by_label("6 kbps", exact=True).is_disabled()

        page.locator("#listen-input input[type=file]").set_input_files(str(clip_path))
        opus = page.locator("#picker-opus")
        opus.get_by_label("6 kbps", exact=True).uncheck()
        opus.get_by_label("12 kbps", exact=True).uncheck()
        page.locator("#picker-encodec_24khz").get_by_label("1.5 kbps", exact=True).check()
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_selector("#listen-status:has-text('Done: 1 condition(s).')")

        card = page.locator(".condition-card").first
        text = card.locator(".condition-result").first.inner_text()
        assert "encodec_24khz 1.5 kbps" in card.inner_text()
        measured = float(text.split("kbps measured")[0].split()[-1])
        assert 1.5 <= measured < 1.52  # 75 frames/s x 2 codebooks x 10 bits, last frame paid in full
        tokens = card.locator(".condition-tokens").first.inner_text()  # under the reconstruction: its token figures
        assert "kbps entropy-coded · 1.50 kbps measured · 1.5 kbps nominal" in tokens and "codebook utilisation" in tokens
        player = card.locator("audio[src]").first
        player.wait_for(state="attached")
        duration = page.wait_for_function(
            "a => a.readyState >= 1 && a.duration > 0 ? a.duration : null", arg=player.element_handle()
        ).json_value()
        assert duration == pytest.approx(4.0, abs=0.05)


def test_a_freqcodec_picker_runs_its_model_and_the_one_without_weights_says_how_to_get_them(app_url, clip_path):
    with chromium_page() as page:
        page.goto(app_url)
        open_unready_codecs(page)
        missing = page.locator(f"#picker-{FREQCODEC_GR8}")
        assert f"codecbench download {FREQCODEC_GR8}" in missing.inner_text()
        assert missing.get_by_label("2 kbps", exact=True).is_disabled()

        page.locator("#listen-input input[type=file]").set_input_files(str(clip_path))
        opus = page.locator("#picker-opus")
        opus.get_by_label("6 kbps", exact=True).uncheck()
        opus.get_by_label("12 kbps", exact=True).uncheck()
        picker = page.locator(f"#picker-{FREQCODEC_GR1}")
        assert [picker.get_by_label(label, exact=True).is_enabled() for label in ("0.5 kbps", "2 kbps", "16 kbps")] == [True] * 3
        picker.get_by_label("2 kbps", exact=True).check()
        page.get_by_role("button", name="Compare", exact=True).click()
        page.wait_for_selector("#listen-status:has-text('Done: 1 condition(s).')")

        card = page.locator(".condition-card").first
        assert f"{FREQCODEC_GR1} 2 kbps" in card.inner_text()
        text = card.locator(".condition-result").first.inner_text()
        # 4 s: 1 + 64000 // 160 = 401 STFT frames, 201 code frames of 4 x 10 bits = 2.01 kbps.
        assert float(text.split("kbps measured")[0].split()[-1]) == pytest.approx(2.01, abs=0.005)
        player = card.locator("audio[src]").first
        player.wait_for(state="attached")
        duration = page.wait_for_function(
            "a => a.readyState >= 1 && a.duration > 0 ? a.duration : null", arg=player.element_handle()
        ).json_value()
        assert duration == pytest.approx(4.0, abs=0.05)
