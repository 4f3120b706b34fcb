"""`codecbench leaderboard` as a user runs it: the metric it opens on, the ranking columns in
text, Markdown and CSV, and charts that open offline in a real browser."""

from __future__ import annotations

import io
import os
import sqlite3

import pandas as pd
import pytest

from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.paths import HOME_ENV
from codecbench.storage import open_database
from tests.browser import chromium_page
from tests.cli_runner import run_cli
from tests.corpora import make_folder

EVIL = "<img src=x onerror=alert(1)>=HYPERLINK(1)"


def evaluate(url: str, testsets: list[str], conditions: tuple[Condition, ...], metrics: tuple[str, ...],
             protocols: tuple[str, ...] = ("speech",)) -> None:
    database = open_database(url)
    try:
        request = EvaluationRequest(testsets=tuple(parse_testset_spec(spec) for spec in testsets),
                                    conditions=conditions, scoring=ScoringConfig(metrics, protocols))
        with LocalExecutor() as executor:
            run_evaluation(database, plan_evaluation(request), executor)
    finally:
        database.close()


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    """``visqol``: ViSQOL (speech) and STOI on two test sets, with opus@24 on one of them only and
    one utterance of ``b`` failing under opus@12; ``plain``: SI-SNR only."""
    root = tmp_path_factory.mktemp("leaderboard-cli")
    make_folder(root / "a", 3)
    make_folder(root / "b", 3, first_seed=20)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(root / "home"))
        visqol = f"sqlite:///{root / 'visqol.sqlite3'}"
        both = [f"a=folder:{root / 'a'}", f"b=folder:{root / 'b'}"]
        evaluate(visqol, both, (Condition("opus", 6.0), Condition("opus", 12.0), Condition("lowpass_3500")),
                 ("visqol", "stoi"))
        evaluate(visqol, both[:1], (Condition("opus", 24.0),), ("visqol", "stoi"))
        plain = f"sqlite:///{root / 'plain.sqlite3'}"
        evaluate(plain, both[:1], (Condition("opus", 6.0),), ("sisnr",))
    # one stored value fails (as a metric failure is stored), so b's cells differ in n
    with sqlite3.connect(root / "visqol.sqlite3") as connection:
        connection.execute(
            "UPDATE eval_scores SET value = NULL, error = 'made to fail' WHERE id = (SELECT s.id FROM eval_scores s "
            "JOIN eval_units u ON u.id = s.unit_id JOIN eval_conditions c ON c.id = u.condition_id "
            "JOIN eval_utterances t ON t.id = u.utterance_id JOIN eval_testsets ts ON ts.id = t.testset_id "
            "WHERE ts.name = 'b' AND c.nominal_kbps = 12 AND s.metric = 'visqol' LIMIT 1)")
    return {"root": root, "visqol": visqol, "plain": plain,
            "env": {**os.environ, HOME_ENV: str(root / "home"), "HF_HUB_OFFLINE": "1"}}


def test_without_metric_the_leaderboard_opens_on_visqol_with_its_protocol(databases):
    result = run_cli("leaderboard", "--db", databases["visqol"], env=databases["env"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("visqol (speech; higher is better)")
    assert "ranking: visqol (speech)" in result.stdout


def test_without_visqol_values_it_falls_back_to_the_first_metric_with_values_and_says_so(databases):
    result = run_cli("leaderboard", "--db", databases["plain"], env=databases["env"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sisnr (aligned; higher is better)")
    assert "No ViSQOL scores are stored: showing sisnr (aligned), the first metric with values." in result.stderr


def test_csv_carries_average_over_test_sets_present_bitrates_and_n_warnings(databases):
    result = run_cli("leaderboard", "--format", "csv", "--db", databases["visqol"], env=databases["env"])
    assert result.returncode == 0, result.stderr
    cells = pd.read_csv(io.StringIO(result.stdout), keep_default_na=False, na_values=[""])
    assert {"measured_kbps", "tokens_per_second", "condition_average", "condition_testsets", "condition_note"} <= set(cells.columns)
    assert set(cells["metric"]) == {"visqol"}
    for _, group in cells.groupby("operating_point"):
        assert group["condition_average"].iloc[0] == pytest.approx(group["mean"].mean(), rel=1e-12)
    opus24 = cells[cells["operating_point"] == "24 kbps"].iloc[0]
    assert opus24["condition_testsets"] == "1 of 2" and opus24["condition_note"].startswith("missing b")
    opus12 = cells[cells["operating_point"] == "12 kbps"].iloc[0]
    assert "n differs, fewer utterances on b (n=2 of 3)" in opus12["condition_note"]
    assert (cells.loc[cells["codec"] == "opus", "measured_kbps"] > 0).all()


def test_text_and_markdown_show_the_ranking_with_its_columns_and_the_per_codec_n_warning(databases):
    text = run_cli("leaderboard", "--db", databases["visqol"], env=databases["env"]).stdout
    ranking = text.split("ranking: ", 1)[1]
    header = ranking.splitlines()[1]
    for column in ("kbps", "measured kbps", "tokens/s", "a", "b", "average", "test sets", "note"):
        assert column in header
    assert "opus 24 kbps" in ranking and "1 of 2" in ranking and "*" in ranking  # average over fewer test sets
    assert "opus on b: n differs: 2, 3" in text
    markdown = run_cli("leaderboard", "--format", "markdown", "--db", databases["visqol"], env=databases["env"])
    assert markdown.returncode == 0, markdown.stderr
    lines = [line for line in markdown.stdout.splitlines() if line.startswith("| condition |")]
    assert lines[0].split(" | ")[1:5] == ["kbps", "measured kbps", "tokens/s", "a"]
    assert markdown.stdout.count("**") >= 2  # the best of each column in bold


def test_untrusted_test_set_names_are_escaped_in_markdown_and_spreadsheet_safe_in_csv(databases, tmp_path):
    copy = tmp_path / "evil.sqlite3"
    source = databases["root"] / "plain.sqlite3"
    copy.write_bytes(source.read_bytes())
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE eval_testsets SET name = ?", (EVIL,))
    markdown = run_cli("leaderboard", "--format", "markdown", "--db", f"sqlite:///{copy}", env=databases["env"])
    assert markdown.returncode == 0, markdown.stderr
    assert "<img" not in markdown.stdout and "&lt;img src=x onerror=alert(1)&gt;" in markdown.stdout
    csv_path = tmp_path / "board.csv"
    assert run_cli("leaderboard", "--format", "csv", "-o", str(csv_path), "--db", f"sqlite:///{copy}", env=databases["env"]).returncode == 0
    board = pd.read_csv(csv_path)
    assert board["testset"].iloc[0] == EVIL  # starts with "<": not a formula, kept as it is
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE eval_testsets SET name = ?", ("=" + EVIL,))
    formula = run_cli("leaderboard", "--format", "csv", "--db", f"sqlite:///{copy}", env=databases["env"])
    assert pd.read_csv(io.StringIO(formula.stdout))["testset"].iloc[0] == "'=" + EVIL


@pytest.mark.browser
def test_charts_are_written_with_plotly_beside_them_and_render_with_the_network_blocked(databases, tmp_path):
    charts = tmp_path / "charts"
    result = run_cli("leaderboard", "--charts", str(charts), "--db", databases["visqol"], env=databases["env"])
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in charts.iterdir()) == ["a.html", "b.html", "plotly.min.js"]
    html = (charts / "a.html").read_text()
    assert 'src="plotly.min.js"' in html and "cdn.plot.ly/plotly" not in html
    assert (charts / "plotly.min.js").stat().st_size > 1_000_000 and (charts / "a.html").stat().st_size < 200_000
    with chromium_page() as page:
        requested = []
        page.route("http*://**", lambda route: (requested.append(route.request.url), route.abort()))
        page.goto((charts / "a.html").as_uri())
        page.locator(".main-svg").first.wait_for()
        assert page.evaluate("typeof window.Plotly") == "object"
        names = page.evaluate("document.querySelector('.js-plotly-plot').data.filter(t => t.showlegend !== false).map(t => t.name)")
        assert names == ["opus"]  # a line per codec (lowpass_3500 has no bitrate: a dashed level line)
        assert page.evaluate("document.querySelector('.js-plotly-plot').layout.xaxis.type") == "log"
        assert requested == []


def test_all_metrics_adds_a_table_of_every_metric_at_once(databases):
    text = run_cli("leaderboard", "--all-metrics", "--db", databases["visqol"], env=databases["env"])
    assert text.returncode == 0, text.stderr
    table = text.stdout.split("several metrics:", 1)[1]
    assert "visqol (speech) ↑" in table and "stoi (aligned-10k) ↑" in table and "[" in table
    markdown = run_cli("leaderboard", "--all-metrics", "--format", "markdown", "--db", databases["visqol"], env=databases["env"])
    assert "### Several metrics" in markdown.stdout and "| visqol (speech) ↑ |" in markdown.stdout


def test_all_metrics_with_csv_says_the_csv_holds_one_metric(databases):
    completed = run_cli("leaderboard", "--all-metrics", "--format", "csv", "--db", databases["visqol"], env=databases["env"])
    assert completed.returncode == 0, completed.stderr
    assert "warning: --all-metrics adds a table to text and markdown output" in completed.stderr
    assert completed.stdout.startswith("testset,") or "testset" in completed.stdout.splitlines()[0]
