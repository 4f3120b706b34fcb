"""End to end: the Leaderboard page in a real browser, against the real app and a database
filled by the evaluation runner."""

from __future__ import annotations

import re
import sqlite3

import pytest

from codecbench.app import AppSettings, launch
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.paths import HOME_ENV
from codecbench.storage import open_database
from tests.browser import chromium_page, free_port
from tests.corpora import make_folder, make_librispeech
from tests.test_app_attacks import gradio_event

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "let me run"
EVIL = "z<img src=x onerror=window.injected=1>**bold**"
MOBILE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaderboard")
    make_folder(root / "mine", 4)
    (root / "mine" / "broken.wav").write_bytes(b"no audio here")
    make_folder(root / "evil", 2, first_seed=30)
    make_librispeech(root / "corpora")
    url = f"sqlite:///{root / 'results.sqlite3'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(root / "home"))
        database = open_database(url)
        request = EvaluationRequest(
            testsets=(parse_testset_spec(f"mine=folder:{root / 'mine'}"),
                      parse_testset_spec(f"librispeech-test-clean={root / 'corpora'}")),
            conditions=(Condition("opus", 6.0), Condition("opus", 12.0), Condition("lowpass_3500")),
            scoring=ScoringConfig(("stoi", "sisnr")), keep_audio_dir=root / "kept",
        )
        with LocalExecutor() as executor:
            run_evaluation(database, plan_evaluation(request), executor)
            # ViSQOL too; opus@24 and a test set whose stored name is HTML on one condition only
            run_evaluation(database, plan_evaluation(EvaluationRequest(
                testsets=request.testsets, conditions=request.conditions, scoring=ScoringConfig(("visqol", "stoi")),
            )), executor)
            run_evaluation(database, plan_evaluation(EvaluationRequest(
                testsets=(parse_testset_spec(f"evil=folder:{root / 'evil'}"),), conditions=(Condition("opus", 24.0),),
                scoring=ScoringConfig(("visqol", "stoi")),
            )), executor)
        database.close()
        with sqlite3.connect(root / "results.sqlite3") as connection:  # names in the database are untrusted
            connection.execute("UPDATE eval_testsets SET name = ? WHERE name = 'evil'", (EVIL,))
        for kept in (root / "kept" / "mine" / "opus@6").iterdir():  # these must be made again on demand
            kept.unlink()
        make_folder(root / "more", 2, first_seed=50)
        settings = AppSettings(work_dir=root / "app", database_url=url, admin_password=ADMIN_PASSWORD)
        app, address = launch(settings, host="127.0.0.1", port=free_port(), block=False)
        yield address, root
        app.close()


def test_the_leaderboard_shows_tables_and_a_cell_click_lists_its_worst_utterances_with_players(app_url):
    app_url, root = app_url
    with chromium_page() as page:
        page.goto(app_url)
        page.get_by_role("tab", name="Leaderboard").click()
        page.locator("#leaderboard-table-opus").wait_for()  # the default board (ViSQOL), drawn when the tab opens
        drawn = page.locator("#leaderboard-table-opus").inner_text()
        page.locator("#leaderboard-metric input").click()
        page.get_by_role("option", name="sisnr", exact=True).click()
        page.locator("#leaderboard-show").click()
        page.wait_for_function("drawn => document.querySelector('#leaderboard-table-opus').innerText !== drawn",
                               arg=drawn)  # the SI-SNR board replaced it

        opus = page.locator("#leaderboard-table-opus")
        opus.wait_for()
        assert page.locator("#leaderboard-status").inner_text().startswith("sisnr (aligned; higher is better)")
        headers = [text.strip() for text in opus.locator("thead th").all_inner_texts()]
        assert headers[:3] == ["test set", "6 kbps", "12 kbps"]
        def cell(row: int, column: int):
            return opus.locator(f"[role=gridcell][data-testid='cell-{row}-{column}']")

        assert [cell(row, 0).inner_text().strip() for row in range(2)] == ["librispeech-test-clean", "mine"]
        assert "(n=4, 1 failed)" in cell(1, 1).inner_text() and "(n=3, 3 failed)" in cell(0, 2).inner_text()
        page.locator("#leaderboard-table-ranking").wait_for()  # every condition across test sets
        assert page.locator(".leaderboard-chart").count() == 2
        assert page.locator("#leaderboard-csv").is_visible() and page.locator("#leaderboard-scores-csv").is_visible()

        cell(1, 1).click()  # mine · opus 6 kbps: reconstructions made again
        title = page.locator("#leaderboard-cell-title")
        title.wait_for()
        assert re.search(r"mine · opus 6 kbps: .* \(n=4, 1 failed\)", title.inner_text())
        utterances = page.locator(".leaderboard-utterance")
        utterances.first.wait_for()
        assert utterances.count() == 4
        values = [float(re.search(r"sisnr = (-?[0-9.]+)", text).group(1))
                  for text in page.locator(".leaderboard-utterance-title").all_inner_texts()]
        assert values == sorted(values)  # worst first
        first = utterances.first
        assert first.locator("audio").count() + first.locator("[data-testid='waveform-reference']").count() >= 1
        assert "made again now" in first.inner_text() and "stoi" in first.inner_text()
        assert "broken" in page.locator("#leaderboard-cell-failures").inner_text()
        assert str(root) not in page.locator("body").inner_text()  # no server path on a public page

        cell(1, 2).click()  # mine · opus 12 kbps: reconstructions kept on disk
        page.wait_for_function(
            "document.querySelector('#leaderboard-cell-title')?.innerText.includes('opus 12 kbps')")
        page.locator(".leaderboard-utterance").first.wait_for()
        assert "kept by --keep-audio (…/" in page.locator(".leaderboard-utterance").first.inner_text()
        assert str(root) not in page.locator("body").inner_text()
        assert page.locator(".leaderboard-utterance").first.get_by_text("reconstruction").count() >= 1


def test_an_evaluation_run_from_the_page_needs_the_password_and_adds_its_test_set(app_url):
    app_url, root = app_url
    with chromium_page() as page:
        page.goto(app_url)
        page.get_by_role("tab", name="Leaderboard").click()
        page.locator("#evaluate-panel").get_by_text("Run an evaluation").click()
        limit = page.locator("#evaluate-limit input, #evaluate-limit textarea").first
        assert limit.input_value() == "" and limit.get_attribute("placeholder") == "all"  # "empty: all", not 0
        testsets = page.locator("#evaluate-testsets textarea")
        assert testsets.input_value() == ""  # the stored roots are server paths: not sent with the page
        page.locator("#evaluate-fill").click()
        page.get_by_text("The stored test sets are shown with the admin password").first.wait_for()
        page.locator("#evaluate-password input").fill(ADMIN_PASSWORD)
        page.locator("#evaluate-fill").click()
        page.wait_for_function("document.querySelector('#evaluate-testsets textarea').value.includes('mine=folder:')")
        assert f"mine=folder:{root / 'mine'}" in testsets.input_value()  # the stored test sets, ready to run again
        testsets.fill(f"more=folder:{root / 'more'}")
        page.locator("#evaluate-codecs textarea").fill("opus@6 lowpass_3500")
        for metric in ("visqol", "pesq", "stoi"):
            page.locator("#evaluate-metrics").get_by_label(metric, exact=True).uncheck()
        limit.fill("0")
        page.locator("#evaluate-password input").fill(ADMIN_PASSWORD)
        page.locator("#evaluate-run").click()
        page.get_by_text("The utterance limit must be a whole number of at least 1, or empty for all").first.wait_for()
        limit.fill("")
        page.locator("#evaluate-password input").fill("not the password")
        page.locator("#evaluate-run").click()
        page.get_by_text("Running an evaluation needs the admin password").first.wait_for()

        page.locator("#evaluate-password input").fill(ADMIN_PASSWORD)
        page.locator("#evaluate-run").click()
        page.wait_for_function("document.querySelector('#evaluate-summary')?.innerText.includes('computed now')")
        summary = page.locator("#evaluate-summary").inner_text()
        assert "4 unit(s) computed now; 0 failed in all" in summary and "more · lowpass_3500" in summary
        page.wait_for_function(
            "[...document.querySelectorAll('#leaderboard-testsets label')].some(l => l.innerText.trim() === 'more')")
        page.locator("#leaderboard-metric input").click()
        page.get_by_role("option", name="sisnr", exact=True).click()  # the run scored SI-SNR only
        page.locator("#leaderboard-show").click()
        page.wait_for_function("document.querySelector('#leaderboard-status')?.innerText.startsWith('sisnr')")
        # the board drawn when the tab opened is replaced by the new one, with the new test set
        page.wait_for_function("document.querySelector('#leaderboard-table-opus')?.innerText.includes('more')")


def test_no_public_page_sends_a_server_path_with_its_config(app_url):
    import httpx

    app_url, root = app_url
    for base in ("", "mushra/", "admin/"):
        config = httpx.get(f"{app_url}{base}config", timeout=30).text
        assert str(root) not in config, base


def _open_board(page, app_url: str) -> list[str]:
    """Open the Leaderboard tab with every request off this machine refused; returns those requests."""
    refused: list[str] = []

    def route(route):
        if route.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.goto(app_url)
    page.get_by_role("tab", name="Leaderboard").click()
    return refused


def _ranking_rows(table) -> list[list[str]]:
    """The ranking's cells in the order shown (after any sorting), row by row."""
    columns = table.locator("thead th").count()
    texts = [text.strip() for text in table.locator("[role=gridcell]").all_inner_texts()]
    return [texts[index:index + columns] for index in range(0, len(texts), columns)]


def _sort(page, table, heading: int, order: str) -> None:
    header = table.locator(f"th[data-testid='header-{heading}']")
    header.hover()
    header.locator("button.cell-menu-button").click(force=True)
    page.locator("[role=menu]").first.get_by_text(order, exact=True).click()


@pytest.mark.parametrize("viewport", [None, MOBILE], ids=["desktop", "mobile"])
def test_the_page_opens_on_visqol_with_a_sortable_ranking_averages_bitrates_best_highlighted_and_offline_charts(
        app_url, viewport):
    app_url, root = app_url
    with chromium_page() as page:
        if viewport:
            page.set_viewport_size(viewport)
        refused = _open_board(page, app_url)
        assert page.locator("#leaderboard-metric input").input_value() == "visqol"
        assert page.locator("#leaderboard-protocol input").input_value() == "speech"
        ranking = page.locator("#leaderboard-table-ranking")
        ranking.wait_for()  # drawn when the tab opens, without pressing Show
        assert page.locator("#leaderboard-status").inner_text().startswith("visqol (speech; higher is better)")
        headers = [text.strip() for text in ranking.locator("thead th").all_inner_texts()]
        assert headers == ["condition", "kbps", "measured kbps", "tokens/s", "librispeech-test-clean", "mine", EVIL,
                           "average", "test sets", "note"]
        rows = {row[0]: row for row in _ranking_rows(ranking)}
        assert rows["opus 24 kbps"][8] == "1 of 3" and rows["opus 24 kbps"][7].endswith(" *")
        assert "missing librispeech-test-clean, mine" in rows["opus 24 kbps"][9]
        assert rows["opus 6 kbps"][1] == "6" and float(rows["opus 6 kbps"][2]) > 0 and rows["opus 6 kbps"][3] == "-"
        assert rows["lowpass_3500 3.5 kHz"][8] == "2 of 3" and rows["lowpass_3500 3.5 kHz"][7].endswith(" *")

        # the best of each column is highlighted: the highest mean of "mine"
        mine = {row[0]: float(row[5].split()[0]) for row in rows.values() if row[5] != "-"}
        best = max(mine, key=mine.get)
        cells = ranking.locator("[role=gridcell]")
        highlighted = [text.strip() for text in cells.evaluate_all(
            "cells => cells.filter(c => getComputedStyle(c).fontWeight >= 600 || c.getAttribute('style')?.includes('bold'))"
            ".map(c => c.innerText)")]
        assert rows[best][5] in highlighted

        _sort(page, ranking, 7, "Sort ascending")  # by average
        page.wait_for_function(
            "(() => { const t = document.querySelector('#leaderboard-table-ranking');"
            " const c = [...t.querySelectorAll('[role=gridcell]')]; const n = t.querySelectorAll('thead th').length;"
            " const a = c.filter((_, i) => i % n === 7).map(x => parseFloat(x.innerText));"
            " return a.every((v, i) => i === 0 || a[i - 1] <= v); })()")
        averages = [float(row[7].split()[0]) for row in _ranking_rows(ranking)]
        assert averages == sorted(averages) and len(averages) == 4

        assert page.locator("#leaderboard-table-metrics").is_visible()
        metric_headers = page.locator("#leaderboard-table-metrics thead th").all_inner_texts()
        assert {"visqol (speech) ↑", "stoi (aligned-10k) ↑", "sisnr (aligned) ↑"} <= {h.strip() for h in metric_headers}

        charts = page.locator(".leaderboard-chart")
        assert charts.count() == 3
        charts.first.locator(".main-svg").first.wait_for()  # plotly.js comes with the app, not from a CDN
        assert refused == []
        assert page.evaluate("window.injected") is None and page.locator("img[src=x]").count() == 0
        assert EVIL in page.locator("#leaderboard-testsets").inner_text()  # shown as text
        if viewport:
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_a_click_on_a_sorted_ranking_opens_the_cell_it_shows(app_url):
    app_url, root = app_url
    with chromium_page() as page:
        _open_board(page, app_url)
        ranking = page.locator("#leaderboard-table-ranking")
        ranking.wait_for()
        _sort(page, ranking, 0, "Sort descending")  # by condition name: opus 6 kbps first
        page.wait_for_function(
            "document.querySelector('#leaderboard-table-ranking [role=gridcell]').innerText.trim() === 'opus 6 kbps'")
        columns = ranking.locator("thead th").count()
        ranking.locator("[role=gridcell]").nth(5).click()  # first shown row, column "mine"
        page.wait_for_function("document.querySelector('#leaderboard-cell-title')?.innerText.includes('opus 6 kbps')")
        assert re.search(r"mine · opus 6 kbps: .*\(n=4, 1 failed\)", page.locator("#leaderboard-cell-title").inner_text())
        assert columns == 10


def _gradio_event(url: str, fn_index: int, data: list, session: str, trigger_id: int | None = None,
                  event_data=None) -> dict:
    """One event through the app's queue, as a forged client sends it; its last message."""
    return gradio_event(url, fn_index, data, session=session, trigger_id=trigger_id, event_data=event_data)[-1]


def test_forged_table_clicks_with_bad_rows_or_columns_get_no_cell_and_no_traceback(app_url, capfd):
    """Over HTTP on 127.0.0.1: show the board, draw its tables, then send each table's select
    event with an index or row_value of the wrong shape or type. Each is answered as a click on
    no cell: no exception, no traceback in the server log (a stranger could fill it)."""
    import json
    import uuid

    import httpx

    url, _ = app_url
    config = httpx.get(f"{url}config", timeout=30).json()
    components = {component["id"]: component for component in config["components"]}
    by_elem = {component["props"].get("elem_id"): component for component in config["components"]}
    show = next(d for d in config["dependencies"] if d.get("api_name") == "show")
    board_state = show["outputs"][1]
    render = next(d for d in config["dependencies"] if [board_state, "change"] in d["targets"])
    values = [components[i]["props"].get("value") for i in show["inputs"]]
    assert values[0] and by_elem["leaderboard-testsets"]["props"]["value"]
    session = uuid.uuid4().hex
    assert _gradio_event(url, show["id"], values, session, show["targets"][0][0])["success"]
    drawn = _gradio_event(url, render["id"], [None], session, board_state)
    selects = [d for d in drawn["output"]["render_config"]["dependencies"]
               if any(target[1] == "select" for target in d["targets"])]
    assert len(selects) >= 2  # the ranking and each codec's table
    capfd.readouterr()
    row = ["opus 6 kbps", 6, 5.4, None, 2.3, 2.3, "1 of 1", ""]
    forged = [{"index": index, "value": 1, "row_value": row}
              for index in (4, None, [0], [0, "4"], [0, 4.5], [0, -1], [0, 10**30], [0, True], "0,4")]
    forged += [{"index": [0, 1], "value": 1, "row_value": row_value}
               for row_value in (None, 7, {"0": "mine"}, [["mine"]], [{"a": 1}], "mine", [])]
    for select in selects:
        for event_data in forged:
            message = _gradio_event(url, select["id"], [5], session, select["targets"][0][0], event_data)
            assert message.get("success") is True, (event_data, message)
    # The slider's value as NaN (Python's JSON reader takes it; Gradio's bounds check lets it by).
    select = selects[1]  # the first codec's table: row "mine", its first operating point
    body = json.dumps({"data": [float("nan")], "fn_index": select["id"], "trigger_id": select["targets"][0][0],
                       "session_hash": session, "event_data": {"index": [1, 1], "value": 1, "row_value": ["mine"]}})
    joined = httpx.post(f"{url}gradio_api/queue/join", content=body, headers={"content-type": "application/json"},
                        timeout=30)
    if joined.status_code == 200:
        with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session},
                          timeout=120) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                    break
    assert "Traceback" not in capfd.readouterr().err


def test_a_protocol_name_from_the_database_cannot_write_a_file_outside_the_work_folder(app_url, tmp_path, capfd):
    """Names in the database are untrusted (a shared results database): a stored protocol
    ``/../../../../x/pwned`` became part of the leaderboard CSV's file name, and showing that
    board wrote the CSV wherever the name led. Over HTTP on 127.0.0.1, as any visitor."""
    import shutil
    import uuid

    import httpx

    _, root = app_url
    shutil.copy(root / "results.sqlite3", tmp_path / "results.sqlite3")
    outside = tmp_path / "outside"
    outside.mkdir()
    work_dir = tmp_path / "work"
    evil = "/" + "../" * (len(work_dir.parts) + 4) + str(outside).lstrip("/") + "/pwned"
    with sqlite3.connect(tmp_path / "results.sqlite3") as connection:
        for table in ("eval_scores", "eval_unit_requests"):
            connection.execute(f"UPDATE {table} SET protocol = ? WHERE metric = 'stoi'", (evil,))
    settings = AppSettings(work_dir=work_dir, database_url=f"sqlite:///{tmp_path / 'results.sqlite3'}",
                           admin_password=ADMIN_PASSWORD)
    app, url = launch(settings, host="127.0.0.1", port=free_port(), block=False)
    try:
        config = httpx.get(f"{url}config", timeout=30).json()
        show = next(d for d in config["dependencies"] if d.get("api_name") == "show")
        reload = next(d for d in config["dependencies"] if d.get("api_name") == "reload_choices")
        session = uuid.uuid4().hex
        reloaded = _gradio_event(url, reload["id"], ["stoi"], session, reload["targets"][0][0])
        testsets = reloaded["output"]["data"][2]["value"]
        codecs = reloaded["output"]["data"][3]["value"]
        assert reloaded["output"]["data"][1]["value"] == evil
        shown = _gradio_event(url, show["id"], ["stoi", evil, testsets, codecs], session, show["targets"][0][0])
        assert shown["success"] is True, shown
        assert list(outside.rglob("*")) == []
        assert not list(tmp_path.rglob("*pwned*")) or all(work_dir in path.parents for path in tmp_path.rglob("*pwned*"))
    finally:
        app.close()
