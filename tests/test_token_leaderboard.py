"""Token figures on the leaderboard: the cells, the ranking (text, Markdown, page), the chart, the
leaderboard CSV, the per-utterance export and `codecbench export tokens`, after a real evaluation
of two token codecs (tiny random checkpoints) and Opus, which sends no tokens."""

from __future__ import annotations

import io
import math
import os

import gradio as gr
import pandas as pd
import pytest
from sqlalchemy import text

from codecbench.app.leaderboard_handlers import show_board
from codecbench.app.leaderboard_tables import ranking_view
from codecbench.app.settings import AppSettings
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.leaderboard import Leaderboard
from codecbench.evaluation.leaderboard_token_columns import ENTROPY, ENTROPY_CODED, UTILISATION, has_token_figures
from codecbench.evaluation.leaderboard_views import ranking_display, ranking_table
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.evaluation.token_summary import TOKEN_CELL_COLUMNS
from codecbench.paths import HOME_ENV
from codecbench.storage import open_database
from tests.cli_runner import run_cli
from tests.corpora import make_folder
from tests.test_leaderboard_views import board as make_board
from tests.test_leaderboard_views import cell

TOKEN_CODECS = ("encodec_24khz", "facodec")
CONDITIONS = (Condition("encodec_24khz", 1.5), Condition("facodec", 4.8), Condition("opus", 6.0))

# Per unit and stream, straight from the table the runner writes (no codecbench code in between).
STREAM_ROWS = """
SELECT ts.name AS testset, c.codec, u.id AS unit_id, s.stream, s.num_codebooks, s.num_frames, s.coded_bits,
       s.duration_s
FROM eval_token_streams s JOIN eval_units u ON u.id = s.unit_id JOIN eval_conditions c ON c.id = u.condition_id
JOIN eval_utterances t ON t.id = u.utterance_id JOIN eval_testsets ts ON ts.id = t.testset_id
WHERE u.error IS NULL
"""


@pytest.fixture(scope="module")
def evaluated(tiny_models_home, tmp_path_factory):
    """Two test sets evaluated with EnCodec 1.5 kbps, FACodec and Opus 6 kbps (SI-SNR only)."""
    from codecbench.codecs.registry import load_codec
    from tests.facodec_fixtures import use_tiny_facodec_for_the_hub_entry

    root = tmp_path_factory.mktemp("token-leaderboard")
    make_folder(root / "a", 3, seconds=1.2)
    make_folder(root / "b", 2, first_seed=20, seconds=1.2)
    url = f"sqlite:///{root / 'db.sqlite3'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOME_ENV, str(tiny_models_home))
        use_tiny_facodec_for_the_hub_entry(patch)
        load_codec.cache_clear()
        database = open_database(url)
        request = EvaluationRequest(
            testsets=(parse_testset_spec(f"a=folder:{root / 'a'}"), parse_testset_spec(f"b=folder:{root / 'b'}")),
            conditions=CONDITIONS, scoring=ScoringConfig(("sisnr",)),
        )
        with LocalExecutor(batch_size=3) as executor:
            assert run_evaluation(database, plan_evaluation(request), executor).computed == 15
        with database.session(read_only=True) as session:
            streams = pd.DataFrame(session.execute(text(STREAM_ROWS)).mappings().all())
            board = Leaderboard.from_database(session, "sisnr")
        load_codec.cache_clear()
    yield {"root": root, "url": url, "database": database, "board": board, "streams": streams,
           "env": {**os.environ, HOME_ENV: str(root / "home"), "HF_HUB_OFFLINE": "1"}}
    database.close()


def _expected_kbps(streams: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Entropy-coded kbps per (test set, codec): the units' coded bits over their summed durations."""
    per_unit = streams.groupby(["testset", "codec", "unit_id"]).agg(bits=("coded_bits", "sum"),
                                                                     seconds=("duration_s", "max"))
    totals = per_unit.groupby(["testset", "codec"]).sum()
    return {key: row.bits / row.seconds / 1000 for key, row in totals.iterrows()}


def test_the_cells_carry_the_entropy_coded_rate_of_the_stored_units_and_opus_carries_none(evaluated):
    cells, expected = evaluated["board"].cells, _expected_kbps(evaluated["streams"])
    assert set(expected) == {(testset, codec) for testset in "ab" for codec in TOKEN_CODECS}
    for row in cells.itertuples():
        if row.codec == "opus":
            assert all(getattr(row, column) is None for column in TOKEN_CELL_COLUMNS)
            continue
        assert row.entropy_coded_kbps == pytest.approx(expected[(row.testset, row.codec)], rel=1e-12)
        assert row.token_utterances == {"a": 3, "b": 2}[row.testset]
        assert 0 < row.codebook_utilisation <= 1 and row.entropy_bits_per_token >= 0  # tiny EnCodec: one entry used
        assert row.entropy_coded_kbps < row.measured_kbps  # random weights use few entries: the coder saves bits
        assert "fewer than its" in row.token_warnings  # a few seconds of tokens: the figures say so


def test_the_ranking_puts_the_token_figures_beside_the_rates_and_leaves_opus_blank(evaluated):
    board = evaluated["board"]
    table = ranking_table(board).set_index("condition")
    assert list(table.columns[2:8]) == ["kbps", "measured kbps", ENTROPY_CODED, "tokens/s", UTILISATION, ENTROPY]
    cells = board.cells.set_index(["codec", "testset"])
    for codec in TOKEN_CODECS:
        row = table[table["codec"] == codec].iloc[0]
        assert row[ENTROPY_CODED] == pytest.approx((cells.loc[(codec, "a"), "entropy_coded_kbps"]
                                                    + cells.loc[(codec, "b"), "entropy_coded_kbps"]) / 2)
        assert row[UTILISATION] == pytest.approx(50 * (cells.loc[(codec, "a"), "codebook_utilisation"]
                                                       + cells.loc[(codec, "b"), "codebook_utilisation"]))
        assert "come with warnings (few tokens" in row["note"]
    opus = table.loc["opus 6 kbps"]
    assert all(math.isnan(opus[column]) for column in (ENTROPY_CODED, UTILISATION, ENTROPY))
    assert "token" not in opus["note"]
    shown = ranking_display(board).set_index("condition")
    assert list(shown.loc["opus 6 kbps", [ENTROPY_CODED, UTILISATION, ENTROPY]]) == ["", "", ""]
    page = gr.Dataframe(ranking_view(board)[1], interactive=False).value
    assert page["headers"][1:7] == ["kbps", "measured kbps", ENTROPY_CODED, "tokens/s", UTILISATION, ENTROPY]
    opus_row = next(row for row in page["metadata"]["display_value"] if row[0] == "opus 6 kbps")
    assert opus_row[3] == opus_row[5] == opus_row[6] == "-"
    facodec_row = next(row for row in page["metadata"]["display_value"] if row[0].startswith("facodec"))
    assert float(facodec_row[3]) == pytest.approx(table[table["codec"] == "facodec"].iloc[0][ENTROPY_CODED], abs=0.005)


def test_a_board_without_token_codecs_keeps_its_columns_and_a_missing_test_set_is_noted():
    opus_only = make_board("visqol", [cell("a", "opus", "6 kbps", 6.0, 3.0, measured=6.2)])
    assert list(ranking_table(opus_only).columns) == ["condition", "codec", "operating point", "kbps", "measured kbps",
                                                      "tokens/s", "a", "average", "test sets", "note"]
    with_tokens = cell("a", "encodec_24khz", "1.5 kbps", 1.5, 2.0, condition_id=2)
    with_tokens.update(entropy_coded_kbps=1.2, codebook_utilisation=0.5, entropy_bits_per_token=9.0, token_warnings="")
    table = ranking_table(make_board("visqol", [with_tokens, cell("b", "encodec_24khz", "1.5 kbps", 1.5, 2.5,
                                                                  condition_id=2)])).iloc[0]
    assert (table[ENTROPY_CODED], table[UTILISATION], table[ENTROPY]) == (1.2, 50.0, 9.0)
    assert table["note"] == "no token records on b: token figures over 1 of 2 test sets"


def test_the_chart_draws_each_token_codec_again_at_its_entropy_coded_rate(evaluated):
    board = evaluated["board"]
    figure = board.chart("a")
    traces = {trace.name: trace for trace in figure.data if trace.showlegend is not False}  # not the CI bars
    assert set(traces) == {"opus", *TOKEN_CODECS, *(f"{codec} (entropy-coded)" for codec in TOKEN_CODECS)}
    cells = board.cells[board.cells["testset"] == "a"].set_index("codec")
    for codec in TOKEN_CODECS:
        coded = traces[f"{codec} (entropy-coded)"]
        assert list(coded.x) == [pytest.approx(cells.loc[codec, "entropy_coded_kbps"])]
        assert list(coded.y) == [pytest.approx(cells.loc[codec, "mean"])]
        assert coded.line.dash == "dot" and coded.line.color == traces[codec].line.color
        assert "nominal" in coded.text[0] and "entropy-coded" in coded.text[0] and "measured" in coded.text[0]
    assert "entropy-coded" not in traces["opus"].text[0]
    assert "dotted: entropy-coded" in figure.layout.xaxis.title.text


def test_the_leaderboard_csv_text_and_charts_carry_the_token_figures(evaluated, tmp_path):
    env, url = evaluated["env"], evaluated["url"]
    result = run_cli("leaderboard", "--format", "csv", "--db", url, env=env)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout), keep_default_na=False, na_values=[""])
    assert set(TOKEN_CELL_COLUMNS) <= set(frame.columns)
    assert frame.loc[frame["codec"] == "opus", list(TOKEN_CELL_COLUMNS)].isna().all().all()
    expected = _expected_kbps(evaluated["streams"])
    for row in frame[frame["codec"] != "opus"].itertuples():
        assert row.entropy_coded_kbps == pytest.approx(expected[(row.testset, row.codec)], rel=1e-9)
    text_out = run_cli("leaderboard", "--charts", str(tmp_path / "charts"), "--db", url, env=env)
    assert text_out.returncode == 0, text_out.stderr
    header = text_out.stdout.split("ranking: ", 1)[1].splitlines()[1]
    for column in ("measured kbps", ENTROPY_CODED, UTILISATION, ENTROPY):
        assert column in header
    assert "facodec (entropy-coded)" in (tmp_path / "charts" / "a.html").read_text()
    markdown = run_cli("leaderboard", "--format", "markdown", "--db", url, env=env).stdout
    header = next(line for line in markdown.splitlines() if line.startswith("| condition |"))
    assert header.split(" | ")[1:4] == ["kbps", "measured kbps", ENTROPY_CODED]


def test_the_scores_export_gives_each_token_codec_unit_its_tokens_and_entropy_coded_rate(evaluated, tmp_path):
    path = tmp_path / "scores.csv"
    result = run_cli("export", "scores", "-o", str(path), "--db", evaluated["url"], env=evaluated["env"])
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(frame.columns[frame.columns.get_loc("measured_kbps"):][:3]) == ["measured_kbps", "entropy_coded_kbps",
                                                                                 "tokens"]
    assert frame.loc[frame["codec"] == "opus", ["entropy_coded_kbps", "tokens"]].isna().all().all()
    streams = evaluated["streams"].assign(tokens=lambda f: f["num_codebooks"] * f["num_frames"])
    per_unit = streams.groupby(["testset", "codec", "unit_id"]).agg(
        bits=("coded_bits", "sum"), seconds=("duration_s", "max"), tokens=("tokens", "sum"))
    tokens = frame[frame["codec"] != "opus"]
    assert len(tokens) == len(per_unit) == 10
    assert sorted(tokens["tokens"]) == sorted(per_unit["tokens"])
    assert sorted(tokens["entropy_coded_kbps"]) == pytest.approx(sorted(per_unit["bits"] / per_unit["seconds"] / 1000))


def test_export_tokens_writes_a_row_per_test_set_condition_stream_and_codebook_with_provenance(evaluated, tmp_path):
    path = tmp_path / "tokens.csv"
    result = run_cli("export", "tokens", "-o", str(path), "--db", evaluated["url"], env=evaluated["env"])
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert result.stderr.strip() == f"wrote {len(frame)} row(s) to {path}"
    streams = evaluated["streams"]
    books = streams.drop_duplicates(["testset", "codec", "stream"])
    assert len(frame) == books["num_codebooks"].sum()
    assert set(frame["codec"]) == set(TOKEN_CODECS)  # opus sends no tokens: no rows
    facodec = frame[(frame["codec"] == "facodec") & (frame["testset"] == "a")]
    assert list(dict.fromkeys(facodec["stream"])) == ["prosody", "content", "residual"]
    for (testset, codec, stream), group in frame.groupby(["testset", "codec", "stream"]):
        stored = streams[(streams["testset"] == testset) & (streams["codec"] == codec) & (streams["stream"] == stream)]
        assert list(group["codebook"]) == list(range(stored["num_codebooks"].iloc[0]))
        assert set(group["stream_coded_bits"]) == {stored["coded_bits"].sum()}
        assert set(group["stream_tokens"]) == {(stored["num_codebooks"] * stored["num_frames"]).sum()}
    expected = _expected_kbps(streams)
    for (testset, codec), group in frame.groupby(["testset", "codec"]):
        assert group["entropy_coded_kbps"].iloc[0] == pytest.approx(expected[(testset, codec)], rel=1e-9)
        assert group["stream_entropy_coded_kbps"].drop_duplicates().sum() == pytest.approx(expected[(testset, codec)])
    for column in ("nominal_kbps", "measured_kbps", "checkpoint", "codec_implementation", "codecbench_version",
                   "estimator", "coder", "warnings", "utilisation", "entries_used", "top_1pct_share", "entropy_bits",
                   "plug_in_entropy_bits", "perplexity", "entropy_tokens", "entropy_given_prev_frame_bits",
                   "prev_frame_tokens", "prev_frame_contexts"):
        assert frame[column].notna().all(), column
    assert frame["checkpoint"].str.startswith("hub:").all()
    first_books = frame["codebook"] == 0  # the first codebook has no previous codebook to condition on
    assert frame.loc[first_books, "entropy_given_prev_codebook_bits"].isna().all()
    assert frame.loc[~first_books, ["entropy_given_prev_codebook_bits", "prev_codebook_contexts"]].notna().all().all()
    assert list(frame["perplexity"]) == pytest.approx(list(2.0 ** frame["entropy_bits"]))
    assert (frame["utilisation"] <= 1).all()


def test_export_tokens_narrows_down_and_refuses_an_export_without_token_records(evaluated):
    env, url = evaluated["env"], evaluated["url"]
    narrowed = run_cli("export", "tokens", "--testset", "b", "--codec", "facodec", "--db", url, env=env)
    assert narrowed.returncode == 0, narrowed.stderr
    frame = pd.read_csv(io.StringIO(narrowed.stdout))
    assert set(frame["testset"]) == {"b"} and set(frame["codec"]) == {"facodec"}
    refused = run_cli("export", "tokens", "--codec", "opus", "--db", url, env=env)
    assert refused.returncode != 0 and refused.stdout == ""
    assert "only token (neural) codecs have token records" in refused.stderr
    assert "codecs encodec_24khz, facodec" in refused.stderr
    unknown = run_cli("export", "tokens", "--testset", "nothing", "--db", url, env=env)
    assert unknown.returncode != 0 and "test set(s) nothing" in unknown.stderr


def test_the_pages_show_writes_both_csv_files_with_the_token_columns(evaluated, tmp_path):
    settings = AppSettings(work_dir=tmp_path / "work")
    _, view, _, board_csv, scores_csv = show_board(settings, evaluated["database"], "sisnr", None, ["a", "b"],
                                                   ["opus", *TOKEN_CODECS])
    assert has_token_figures(view.board)
    board = pd.read_csv(board_csv.value["path"], keep_default_na=False, na_values=[""])
    assert set(TOKEN_CELL_COLUMNS) <= set(board.columns)
    assert board.loc[board["codec"] == "opus", "entropy_coded_kbps"].isna().all()
    assert board.loc[board["codec"] != "opus", "entropy_coded_kbps"].notna().all()
    scores = pd.read_csv(scores_csv.value["path"], keep_default_na=False, na_values=[""])
    assert (scores.loc[scores["codec"] == "facodec", "tokens"] > 0).all()
    assert scores.loc[scores["codec"] == "opus", "tokens"].isna().all()
