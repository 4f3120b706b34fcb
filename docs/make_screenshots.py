"""Make the README's screenshots: the real app on 127.0.0.1, real data, headless chromium.

    .venv/bin/python docs/make_screenshots.py [--speech ../shared/speech] [-o docs/screenshots]

With ``--speech`` (a folder of clips in ``en/`` and ``zh/``, as the team's shared speech folder
has them) the pages show real speech; without it, generated speech-like clips. The Leaderboard
is filled by a real evaluation (Opus, Codec 2 and the anchors over two small folder test sets),
the MUSHRA test by simulated participants through the library's own participant flow.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' helpers build the MUSHRA test and its participants

import soundfile  # noqa: E402

from codecbench.app import AppSettings, launch  # noqa: E402
from codecbench.audio import load_audio  # noqa: E402
from codecbench.codecs.condition import Condition  # noqa: E402
from codecbench.evaluation.datasets import parse_testset_spec  # noqa: E402
from codecbench.evaluation.executor import LocalExecutor  # noqa: E402
from codecbench.evaluation.metrics import ScoringConfig  # noqa: E402
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation  # noqa: E402
from codecbench.storage import open_database  # noqa: E402
from codecbench.synthetic import speech_like  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, free_port  # noqa: E402
from tests.mushra_helpers import complete, prepare, start, store, write_test_files  # noqa: E402

ADMIN_PASSWORD = "screenshots"
CONDITIONS = ("opus@6", "opus@12", "codec2@3.2", "codec2@1.2", "lowpass_3500", "lowpass_7000")
DESKTOP = {"width": 1360, "height": 900}
PHONE = {"width": 390, "height": 844}


def clips(speech: Path | None, folder: Path, language: str, count: int) -> Path:
    """A folder test set of ``count`` clips (3 to 8 s, 16 kHz mono)."""
    target = folder / language
    target.mkdir(parents=True)
    sources = sorted((speech / language).glob("*.*"))[:count] if speech else []
    for index in range(count):
        if index < len(sources):
            audio = load_audio(sources[index])
            samples = audio.samples[: 8 * audio.sample_rate_hz]
            soundfile.write(target / f"{sources[index].stem}.wav", samples, audio.sample_rate_hz)
        else:
            soundfile.write(target / f"clip{index}.wav", speech_like(4.0, 16_000, seed=index), 16_000)
    return target


def fill_leaderboard(database_url: str, folder: Path, speech: Path | None) -> None:
    database = open_database(database_url)
    request = EvaluationRequest(
        testsets=(parse_testset_spec(f"english=folder:{clips(speech, folder, 'en', 4)}"),
                  parse_testset_spec(f"mandarin=folder:{clips(speech, folder, 'zh', 4)}")),
        conditions=tuple(Condition.parse(value) for value in CONDITIONS),
        scoring=ScoringConfig(("visqol", "pesq_wb", "stoi", "sisnr")),
    )
    with LocalExecutor() as executor:
        run_evaluation(database, plan_evaluation(request), executor)
    database.close()


def fill_mushra(database_url: str, folder: Path) -> int:
    database = open_database(database_url)
    test = store(database, prepare(write_test_files(folder / "mushra", num_items=4, duration_s=3.0)))
    typical = {"reference": 98.0, "lowpass_3500": 22.0, "lowpass_7000": 55.0, "opus@6": 74.0, "codec2@3.2": 38.0}
    for offset in (-6.0, 0.0, 5.0):
        complete(database, start(database, test), rate=lambda condition, o=offset: min(100.0, typical[condition] + o))
    database.close()
    return test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", type=Path, default=None, help="folder with en/ and zh/ clips")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.output.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="codecbench-screenshots-"))
    try:
        database_url = f"sqlite:///{folder / 'db.sqlite3'}"
        fill_leaderboard(database_url, folder, args.speech)
        test = fill_mushra(database_url, folder)
        settings = AppSettings(work_dir=folder / "work", database_url=database_url, admin_password=ADMIN_PASSWORD)
        server, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
        example = next(iter(sorted((folder / "en").glob("*.wav"))))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                shoot_pages(browser, url, test, example, args.output)
                browser.close()
        finally:
            server.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for path in sorted(args.output.glob("*.png")):
        print(f"{path.relative_to(REPO)}\t{path.stat().st_size // 1024} KB")


def shoot_pages(browser, url: str, test, example: Path, output: Path) -> None:
    """One PNG per page (the MUSHRA trial also on a phone)."""
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(180_000)
    conditions = "opus@6,opus@12,codec2@3.2,lowpass_3500"
    page.goto(f"{url}?c={conditions}&protocol=speech")  # a shared link: those conditions ticked
    page.wait_for_function("document.querySelectorAll('#picker-codec2 input:checked, "
                           "#picker-lowpass_3500 input:checked').length === 2")
    page.locator("#listen-input input[type=file]").set_input_files(str(example))
    page.click("#listen-run")
    page.wait_for_function("window.codecbenchListen && window.codecbenchListen.run() "
                           "&& window.codecbenchListen.run().ready")
    page.wait_for_function("(() => { const cards = [...document.querySelectorAll('.condition-card')];"
                           " return cards.length >= 3 && cards.every(c => c.querySelector('.condition-scores table'))"
                           " })()")
    page.keyboard.press("3")
    page.locator(".listen-player").scroll_into_view_if_needed()
    page.screenshot(path=output / "listen.png", full_page=True)

    page.goto(url)
    page.get_by_role("tab", name="Leaderboard").click()
    page.locator("#leaderboard-table-ranking").wait_for()
    page.locator(".leaderboard-chart").first.wait_for()
    page.wait_for_timeout(1500)  # the charts draw
    page.screenshot(path=output / "leaderboard.png", full_page=True)

    page.goto(f"{url}admin/?test={test.id}")
    page.wait_for_function(f"document.querySelector('#admin-test textarea, #admin-test input')?.value === '{test.id}'")
    page.locator("#admin-password input").fill(ADMIN_PASSWORD)
    page.click("#admin-show")
    page.locator("#admin-progress").get_by_text("completed").wait_for()
    page.get_by_role("tab", name="Results").click()
    page.locator("#admin-conditions table").wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=output / "admin-results.png", full_page=True)
    page.close()

    for name, viewport in (("mushra-trial.png", DESKTOP), ("mushra-trial-phone.png", PHONE)):
        context = browser.new_context(viewport=viewport, has_touch=viewport is PHONE)
        participant = context.new_page()
        participant.set_default_timeout(60_000)
        participant.goto(f"{url}mushra/?test={test.link_token}")
        to_first_trial(participant)
        participant.screenshot(path=output / name, full_page=True)
        context.close()


def to_first_trial(page) -> None:
    """Through the participant's first screens (instructions, level check) to the training trial."""
    page.locator("#mushra-start").wait_for(state="visible")
    page.click("#mushra-start")
    page.locator("#mushra-level-continue").wait_for(state="visible")
    page.locator(".mushra-play").first.click()
    page.check("#mushra-level-ok input")
    page.click("#mushra-level-continue")
    page.locator(".mushra-slider").first.wait_for()
    sliders = page.locator(".mushra-slider").all()
    for slider, value in zip(sliders[:2], (85, 40)):  # two rated, the others still unset
        slider.fill(str(value))


if __name__ == "__main__":
    main()
