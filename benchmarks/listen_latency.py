"""Time the Listen page: a 10 s real clip through 7 classical conditions, as a user sees it.

Two measurements:

1. In a real browser against the real app (127.0.0.1): from the click on Compare until the
   lockstep player is ready (the original and every reconstruction decoded in the browser's
   audio context) and until every condition's scores are shown.
2. At library level, the work behind the first number: transcoding plus spectrograms,
   written to disk as the page does (target on a 2-core machine: below 0.3 x the clip).

    python benchmarks/listen_latency.py [CLIP] [--repeats N]

CLIP defaults to ../shared/speech's 10.32 s WenetSpeech clip (cut to 10 s); without it a
synthetic clip is used, and the output says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from codecbench.audio import Audio, fit_length, load_audio, prepare_audio, write_audio
from codecbench.codecs import load_codec
from codecbench.codecs.condition import Condition
from codecbench.comparison import compare, show_original
from codecbench.synthetic import speech_like

CONDITIONS = [
    Condition("opus", 6.0),
    Condition("opus", 12.0),
    Condition("opus", 24.0),
    Condition("codec2", 3.2),
    Condition("codec2", 1.6),
    Condition("lowpass_3500"),
    Condition("lowpass_7000"),
]
# The checkbox each condition is ticked with on the page: (picker id, label).
LABELS = {
    "opus@6": ("opus", "6 kbps"), "opus@12": ("opus", "12 kbps"), "opus@24": ("opus", "24 kbps"),
    "codec2@3.2": ("codec2", "3200"), "codec2@1.6": ("codec2", "1600"),
    "lowpass_3500": ("lowpass_3500", "3.5 kHz"), "lowpass_7000": ("lowpass_7000", "7 kHz"),
}
DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared/speech/zh/zh_wenetspeech_testnet_Y0000000028_S00207.wav"
CLIP_S = 10.0
SCORES_SHOWN = "document.querySelectorAll('.condition-card .condition-scores table').length === {count}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    audio = _clip(args.clip)
    print(f"clip: {audio.source} ({audio.duration_s:.2f} s at {audio.sample_rate_hz} Hz)")
    print(f"conditions: {', '.join(str(c) for c in CONDITIONS)}")
    with tempfile.TemporaryDirectory() as folder:
        clip_path = write_audio(Path(folder) / "clip_10s.wav", audio.samples, audio.sample_rate_hz)
        _browser_timings(clip_path, Path(folder) / "work", args.repeats, audio.duration_s)
    _library_timings(audio, args.repeats)


def _clip(path: Path) -> Audio:
    if path.exists():
        loaded = load_audio(path)
        samples = fit_length(loaded.samples, int(CLIP_S * loaded.sample_rate_hz))
        return prepare_audio(samples, loaded.sample_rate_hz, source=str(path))
    return prepare_audio(speech_like(CLIP_S, 16_000), 16_000, source="synthetic speech (real clip not found)")


def _browser_timings(clip_path: Path, work_dir: Path, repeats: int, duration_s: float) -> None:
    """Click Compare ``repeats + 1`` times (the first warms the scoring process up) and time it."""
    from playwright.sync_api import sync_playwright

    from codecbench.app import AppSettings, launch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests/browser.py
    from tests.browser import CHROMIUM, CHROMIUM_FLAGS, free_port

    running, url = launch(AppSettings(work_dir=work_dir), host="127.0.0.1", port=free_port(), block=False)
    players, scores = [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(url)
            for picker, label in LABELS.values():
                page.locator(f"#picker-{picker}").get_by_label(label, exact=True).set_checked(True)
            for attempt in range(repeats + 1):
                page.locator("#listen-input input[type=file]").set_input_files(str(clip_path))
                previous = page.evaluate("window.codecbenchListen.run()?.id ?? null")
                started = time.perf_counter()
                page.get_by_role("button", name="Compare", exact=True).click()
                page.wait_for_function(
                    "prev => { const run = window.codecbenchListen.run(); return run && run.id !== prev && run.ready; }",
                    arg=previous, polling=20)
                ready = time.perf_counter() - started
                page.wait_for_function(SCORES_SHOWN.format(count=len(CONDITIONS)), polling=20)
                scored = time.perf_counter() - started
                label = "warm-up" if attempt == 0 else f"run {attempt}"
                print(f"  browser {label}: players ready {ready:.2f} s, scores shown {scored:.2f} s")
                if attempt:
                    players.append(ready)
                    scores.append(scored)
                page.locator("#listen-input").get_by_role("button", name="Clear", exact=True).click()
            browser.close()
    finally:
        running.close()
    print(f"browser, click on Compare -> lockstep player ready (all {len(CONDITIONS) + 1} tracks decoded): "
          f"median {statistics.median(players):.2f} s ({statistics.median(players) / duration_s:.2f} x clip)")
    print(f"browser, click on Compare -> every condition's scores shown: "
          f"median {statistics.median(scores):.2f} s ({statistics.median(scores) / duration_s:.2f} x clip)")


def _library_timings(audio: Audio, repeats: int) -> None:
    for condition in CONDITIONS:  # loading is a one-off per process, not part of a comparison
        load_codec(condition.codec)
    totals = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            original = show_original(audio, Path(folder))
            outcomes = list(compare(audio, CONDITIONS, Path(folder), scale=original.scale))
            totals.append(time.perf_counter() - started)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise SystemExit(f"conditions failed: {[(str(o.condition), o.error) for o in failed]}")
    codec_s = sum(o.summary["processing_s"] for o in outcomes)
    print(f"library, transcode + spectrograms: median {statistics.median(totals):.3f} s over {repeats} runs "
          f"({statistics.median(totals) / audio.duration_s:.3f} x clip, target < 0.3); "
          f"of which codecs {codec_s:.3f} s")


if __name__ == "__main__":
    main()
