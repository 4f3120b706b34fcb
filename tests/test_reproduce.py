"""`codecbench reproduce`: published tables as data, their evaluation through the engine, and the
comparison of published and measured values; run as a user runs it (real processes, mini
corpora in their real layouts, a tiny FunCodec ds640 model given by --model-dir, ViSQOL
audio-native, a real database), plus unit tests of the comparison."""

from __future__ import annotations

import io
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from codecbench.codecs import LoadOptions, codec_spec, get_entry
from codecbench.evaluation.conditions import EvalCondition
from codecbench.evaluation.datasets import NAMED_TESTSETS, parse_testset_spec
from codecbench.evaluation.leaderboard import CELL_COLUMNS, Leaderboard, confidence_interval, format_cell
from codecbench.evaluation.published import (
    PUBLISHED_TABLES,
    PublishedPoint,
    PublishedRow,
    PublishedSource,
    PublishedTable,
    UnknownTableError,
    get_table,
)
from codecbench.evaluation.reproduce import FAILED, MEASURED, NOT_RUN, ReproductionRequest, compare
from tests.checkpoints import funcodec_config, save_funcodec_model
from tests.cli_runner import run_cli
from tests.corpora import make_aishell2, make_gigaspeech, make_librispeech, make_wenetspeech

TABLE = "funcodec-en-libritts-nq32ds640"
CODEC = "funcodec_en_libritts_16k_nq32ds640"
PUBLISHED = {  # the model card's ViSQOL at 100 and 200 tokens/s, by codecbench test set
    "librispeech-test-clean": (3.93, 4.16), "librispeech-test-other": (3.84, 4.07), "aishell1-test": (3.70, 3.96),
    "aishell2-test-ios": (3.86, 4.11), "aishell2-test-mic": (3.81, 4.07), "wenetspeech-test-meeting": (3.54, 3.84),
    "gigaspeech-test": (3.84, 4.10),
}


# ------------------------------------------------------------------------------ the data


def test_the_funcodec_table_is_the_model_card_mapped_to_codecbench_test_sets():
    table = get_table(TABLE)
    assert table.codec == CODEC and (table.metric, table.protocol) == ("visqol", "audio-native")
    assert table.source.url == "https://huggingface.co/alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch"
    assert {row.testset: row.values for row in table.rows} == PUBLISHED
    assert [(point.label, point.kbps) for point in table.points] == [("100 tokens/s", 1.0), ("200 tokens/s", 2.0)]
    wenet = table.row("wenetspeech-test-meeting")
    assert wenet.published_as == "wenet test" and "TEST_MEETING" in wenet.note and "test_meeting 6.97" in wenet.note
    assert "audio mode" in table.protocol_reason and "16 kHz" in table.protocol_reason


@pytest.mark.parametrize("table", PUBLISHED_TABLES.values(), ids=lambda table: table.name)
def test_every_table_runs_on_a_codecbench_codec_metric_and_test_sets(table):
    spec = get_entry(table.codec).spec
    for point in table.points:
        operating_point = spec.operating_point(point.kbps)  # raises for a bitrate the codec does not have
        if point.tokens_per_second is not None:
            assert operating_point.tokens_per_second == pytest.approx(point.tokens_per_second)
    request = ReproductionRequest(table, (parse_testset_spec(f"{table.rows[0].testset}=/data"),))
    stored = {(metric.name, metric.protocol) for metric in request.scoring.metrics_for(16_000)}
    assert stored == {(table.metric, table.protocol)}
    assert set(table.testsets) <= set(NAMED_TESTSETS)


def test_a_table_entry_is_checked_when_it_is_made():
    source = PublishedSource("paper", "A codec paper", "https://example.org/paper")
    points = (PublishedPoint("6 kbps", 6.0), PublishedPoint("12 kbps", 12.0))

    def table(*rows: PublishedRow) -> PublishedTable:
        return PublishedTable("t", source, "opus", points, "pesq_wb", "p862.2-wb-16k", "why", rows)

    assert table(PublishedRow("librispeech-test-clean", "test-clean", (3.1, 3.9))).row("librispeech-test-clean").values == (3.1, 3.9)
    with pytest.raises(ValueError, match="1 value.*for 2 operating point"):
        table(PublishedRow("librispeech-test-clean", "test-clean", (3.1,)))
    with pytest.raises(ValueError, match="'librispeech-clean' is not a named test set"):
        PublishedRow("librispeech-clean", "test-clean", (3.1, 3.9))
    with pytest.raises(ValueError, match="several rows to librispeech-test-clean"):
        table(PublishedRow("librispeech-test-clean", "a", (1.0, 2.0)), PublishedRow("librispeech-test-clean", "b", (1.0, 2.0)))
    with pytest.raises(ValueError, match="https:// URL"):
        PublishedSource("paper", "A codec paper", "example.org")
    with pytest.raises(UnknownTableError, match=f"unknown published table 'nope'; known tables: {TABLE}"):
        get_table("nope")


def test_a_request_names_only_rows_of_its_table():
    table = get_table(TABLE)
    with pytest.raises(ValueError, match="wenetspeech-test-net: not a row of funcodec-en-libritts-nq32ds640; its rows are "
                                         "librispeech-test-clean, librispeech-test-other"):
        ReproductionRequest(table, (parse_testset_spec("wenetspeech-test-net=/data/WenetSpeech"),))
    with pytest.raises(ValueError, match="no test set given"):
        ReproductionRequest(table, ())


# ------------------------------------------------------------------------ the comparison


def _condition(kbps: float, checkpoint: str = "sha256:abc") -> EvalCondition:
    point = codec_spec(CODEC).operating_point(kbps)
    return EvalCondition(CODEC, point, LoadOptions(), checkpoint, "codecbench 0.1.0")


def _cell(testset: str, condition: EvalCondition, values: list[float], failures: int = 0) -> dict:
    """A leaderboard cell of these values, as :func:`leaderboard_cells` makes them."""
    array = np.array(values, dtype=float)
    low, high = confidence_interval(array)
    cell = dict.fromkeys(CELL_COLUMNS, "")
    cell.update(testset=testset, codec=condition.codec, operating_point=condition.operating_point.label,
                checkpoint=condition.checkpoint, n=len(values), failures=failures,
                mean=float(array.mean()) if len(values) else math.nan,
                std=float(array.std(ddof=1)) if len(values) > 1 else math.nan, ci95_low=low, ci95_high=high,
                testset_utterances=10, measured_kbps=1.0, sample="all")
    return cell


def test_each_published_value_is_set_against_the_cell_of_its_test_set_and_condition():
    table = get_table(TABLE)
    at_1, at_2 = _condition(1.0), _condition(2.0)
    cells = pd.DataFrame([
        _cell("librispeech-test-clean", at_1, [3.80, 3.95, 4.05, 3.90]),  # mean 3.925: the published 3.93 is inside
        _cell("librispeech-test-clean", at_2, [3.10, 3.20, 3.15]),        # far below 4.16
        _cell("aishell1-test", at_1, [2.5], failures=1),                  # one value: no interval
        _cell("aishell1-test", at_2, [], failures=2),                     # every utterance failed
        _cell("aishell2-test-ios", _condition(1.0, "sha256:other"), [4.0, 4.1]),  # another checkpoint's cell
    ], columns=list(CELL_COLUMNS))
    rows = compare(table, (at_1, at_2), cells, {"gigaspeech-test": "gigaspeech-test: no GigaSpeech.json in /x"})
    by_key = {(row.testset, row.point.kbps): row for row in rows}
    assert [(row.testset, row.point.label) for row in rows] == [
        (row.testset, point.label) for row in table.rows for point in table.points]

    inside = by_key[("librispeech-test-clean", 1.0)]
    assert (inside.status, inside.n, inside.published) == (MEASURED, 4, 3.93)
    assert inside.delta == pytest.approx(3.925 - 3.93) and inside.published_in_ci is True
    outside = by_key[("librispeech-test-clean", 2.0)]
    assert outside.delta == pytest.approx(3.15 - 4.16) and outside.published_in_ci is False
    single = by_key[("aishell1-test", 1.0)]
    assert (single.status, single.n, single.failures, single.published_in_ci) == (MEASURED, 1, 1, None)
    assert single.delta == pytest.approx(2.5 - 3.70)
    failed = by_key[("aishell1-test", 2.0)]
    assert (failed.status, failed.n, failed.failures) == (FAILED, 0, 2) and math.isnan(failed.delta)
    other_checkpoint = by_key[("aishell2-test-ios", 1.0)]
    assert other_checkpoint.status == NOT_RUN and other_checkpoint.n == 0 and "nothing is stored" in other_checkpoint.reason
    assert by_key[("gigaspeech-test", 2.0)].reason == "gigaspeech-test: no GigaSpeech.json in /x"
    for row in rows:
        if row.status == NOT_RUN:
            assert row.n == 0 and math.isnan(row.mean) and math.isnan(row.delta) and row.published_in_ci is None


# ------------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    """Mini corpora in their real layouts, and a tiny FunCodec ds640 model directory."""
    root = tmp_path_factory.mktemp("reproduce")
    make_librispeech(root / "corpora")
    make_aishell2(root / "corpora")
    (root / "WenetSpeech").mkdir()
    make_wenetspeech(root / "WenetSpeech")
    (root / "GigaSpeech").mkdir()
    make_gigaspeech(root / "GigaSpeech")
    model = save_funcodec_model(root / "model", funcodec_config())  # 25 frames/s, 32 codebooks of 1024: the card's layout
    return {"corpora": root / "corpora", "wenetspeech": root / "WenetSpeech", "gigaspeech": root / "GigaSpeech",
            "model": model}


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory) -> Path:
    """One numba cache for every process of this module: ViSQOL's kernels compile once."""
    return tmp_path_factory.mktemp("numba")


@pytest.fixture
def env(tmp_path, numba_cache) -> dict[str, str]:
    return {**os.environ, "CODECBENCH_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1",
            "NUMBA_CACHE_DIR": str(numba_cache)}


def _testsets(corpora: dict[str, Path]) -> list[str]:
    """Three rows of the table given, and gigaspeech-test pointed at a folder that does not hold it."""
    specs = {
        "librispeech-test-clean": corpora["corpora"],
        "aishell2-test-ios": corpora["corpora"] / "AISHELL-DEV-TEST-SET",
        "wenetspeech-test-meeting": corpora["wenetspeech"],
        "gigaspeech-test": corpora["corpora"],
    }
    return [argument for name, root in specs.items() for argument in ("--testset", f"{name}={root}")]


def test_reproduce_runs_the_table_and_sets_published_beside_the_leaderboard_cells(tmp_path, env, corpora):
    db = f"sqlite:///{tmp_path / 'results.sqlite3'}"
    base = ("reproduce", TABLE, *_testsets(corpora), "--model-dir", str(corpora["model"]), "--limit", "6", "--db", db)
    first = run_cli(*base, "-o", str(tmp_path / "first.md"), "--chart", str(tmp_path / "chart.html"), env=env)
    assert first.returncode == 0, first.stderr
    # (3 + 4 + 2) usable utterances x 2 operating points; the 5 the loaders skipped are stored as failed
    assert "run 1: 18 unit(s) computed now; 10 failed in all" in first.stderr
    assert "warning: gigaspeech-test is not run: GigaSpeech: no GigaSpeech.json in" in first.stderr

    # the same evaluation again: nothing computed, the same cells, now as CSV
    second = run_cli(*base, "--format", "csv", env=env)
    assert second.returncode == 0, second.stderr
    assert "run 2: 0 unit(s) computed now" in second.stderr
    table = pd.read_csv(io.StringIO(second.stdout), keep_default_na=False, na_values=[""])

    # every published test set x operating point, in the card's order, with its published value
    assert list(zip(table["testset"], table["operating_point"])) == [
        (name, label) for name in PUBLISHED for label in ("100 tokens/s", "200 tokens/s")]
    assert list(table["published"]) == [value for values in PUBLISHED.values() for value in values]
    assert set(table["table"]) == {TABLE} and set(table["codec"]) == {CODEC}
    assert set(table["protocol"]) == {"audio-native"} and set(table["source_url"]) == {get_table(TABLE).source.url}
    assert table["checkpoint"].str.startswith("sha256:").all() and table["checkpoint"].nunique() == 1

    status = dict(zip(table["testset"], table["status"]))
    reasons = dict(zip(table["testset"], table["reason"]))
    for name in ("librispeech-test-other", "aishell1-test", "aishell2-test-mic"):
        assert status[name] == NOT_RUN and reasons[name] == f"no --testset {name}=ROOT given"
    assert status["gigaspeech-test"] == NOT_RUN and reasons["gigaspeech-test"].startswith("GigaSpeech: no GigaSpeech.json in")
    not_run = table[table["status"] == NOT_RUN]
    assert (not_run["n"] == 0).all() and not_run[["mean", "ci95_low", "ci95_high", "delta"]].isna().all().all()

    measured = table[table["status"] == MEASURED]
    assert set(measured["testset"]) == {"librispeech-test-clean", "aishell2-test-ios", "wenetspeech-test-meeting"}
    assert list(measured["n"]) == [3, 3, 4, 4, 2, 2]  # the usable utterances of each sample of 6
    assert (measured["delta"] - (measured["mean"] - measured["published"])).abs().max() < 1e-12
    failures = dict(zip(measured["testset"], measured["failures"]))
    assert failures == {"librispeech-test-clean": 3, "aishell2-test-ios": 2, "wenetspeech-test-meeting": 0}

    # n, failures, mean and CI are the leaderboard's for the same cells
    board = run_cli("leaderboard", "--metric", "visqol", "--protocol", "audio-native", "--format", "csv", "--db", db, env=env)
    assert board.returncode == 0, board.stderr
    cells = pd.read_csv(io.StringIO(board.stdout))
    assert len(cells) == 6
    for row in measured.itertuples():
        (cell,) = cells[(cells["testset"] == row.testset) & (cells["operating_point"] == f"{row.nominal_kbps:g} kbps")
                        & (cells["checkpoint"] == row.checkpoint)].itertuples()
        assert (cell.n, cell.failures, cell.mean, cell.std) == (row.n, row.failures, row.mean, row.std)
        assert (cell.ci95_low, cell.ci95_high) == (row.ci95_low, row.ci95_high)
        assert row.published_in_ci == (cell.ci95_low <= row.published <= cell.ci95_high)

    # the markdown table: a header naming source, model, metric, protocol and why; a row per test set x point
    text = (tmp_path / "first.md").read_text()
    assert text.startswith(f"## Reproducing {TABLE}\n")
    assert f"<{get_table(TABLE).source.url}>" in text and f"`{CODEC}` ({table['checkpoint'][0]})" in text
    assert "protocol `audio-native`. Why: FunCodec's recipe" in text and "This run drew --limit 6 --seed 0." in text
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[0] == "| test set | published as | operating point | published | measured: mean ± 95 % CI (n) | Δ | in CI |"
    assert len(lines) == 1 + 14
    for line, row in zip(lines[1:], table.itertuples()):
        texts = [cell.strip() for cell in line.strip("|").split("|")]
        assert texts[:4] == [row.testset, row.published_as, f"{row.operating_point} ({row.column})", f"{row.published:.2f}"]
        if row.status == NOT_RUN:
            assert texts[4:] == [f"not run: {row.reason}", "", ""]
        else:  # written as the leaderboard writes its cells
            assert texts[4] == format_cell(pd.Series(row._asdict())) and texts[5] == f"{row.delta:+.2f}"
            assert texts[6] == ("yes" if row.published_in_ci else "no")
    assert "- `wenet test` → `wenetspeech-test-meeting`: WenetSpeech has two test sets" in text

    chart = (tmp_path / "chart.html").read_text().replace("\\u002f", "/")  # plotly escapes "/" in its JSON
    assert '"name":"published, 100 tokens/s"' in chart and '"name":"measured, 200 tokens/s"' in chart

    # and the first table, printed again
    third = run_cli(*base, env=env)
    assert third.returncode == 0, third.stderr
    assert "run 3: 0 unit(s) computed now" in third.stderr and third.stdout == text


def test_missing_weights_are_one_clear_error_before_anything_runs_or_is_written(tmp_path, env, corpora):
    db_file = tmp_path / "results.sqlite3"
    output = tmp_path / "table.md"
    completed = run_cli("reproduce", TABLE, *_testsets(corpora), "--db", f"sqlite:///{db_file}", "-o", str(output), env=env)
    assert completed.returncode == 1
    assert completed.stderr.count("Error:") == 1 and "Traceback" not in completed.stderr
    assert f"codec {CODEC} is not ready" in completed.stderr and f"codecbench download {CODEC}" in completed.stderr
    assert "not run" not in completed.stderr and completed.stdout == ""  # no test set was even indexed
    assert not db_file.exists() and not output.exists()
    assert [path for path in (tmp_path / "home").rglob("*") if path.is_file()] == []


def test_unknown_names_are_refused_with_what_is_known(tmp_path, corpora, codecbench_home):
    from click.testing import CliRunner

    from codecbench.cli import main

    def reproduce(*args: str):
        return CliRunner().invoke(main, ["reproduce", *args, "--model-dir", str(corpora["model"]), "--db", db])

    db = f"sqlite:///{tmp_path / 'results.sqlite3'}"
    unknown_table = reproduce("funcodec", "--testset", f"gigaspeech-test={corpora['gigaspeech']}")
    assert unknown_table.exit_code == 1
    assert f"unknown published table 'funcodec'; known tables: {TABLE}" in unknown_table.stderr
    not_a_row = reproduce(TABLE, "--testset", f"wenetspeech-test-net={corpora['wenetspeech']}")
    assert not_a_row.exit_code == 1
    assert f"--testset wenetspeech-test-net: not a row of {TABLE}; its rows are librispeech-test-clean" in not_a_row.stderr
    own_data = reproduce(TABLE, "--testset", f"mine=folder:{tmp_path}")
    assert own_data.exit_code == 1 and "--testset mine: not a row of" in own_data.stderr
    unknown_testset = reproduce(TABLE, "--testset", f"librispeech-clean={tmp_path}")
    assert unknown_testset.exit_code == 2 and "unknown test set 'librispeech-clean'" in unknown_testset.stderr
    no_testset = reproduce(TABLE)
    assert no_testset.exit_code == 1 and "no test set given; give at least one of the rows" in no_testset.stderr
    for result in (unknown_table, not_a_row, own_data, unknown_testset, no_testset):
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.stdout == ""
    assert not (tmp_path / "results.sqlite3").exists()


def test_when_no_given_test_set_can_be_read_nothing_runs(tmp_path, corpora, codecbench_home):
    from click.testing import CliRunner

    from codecbench.cli import main

    db_file = tmp_path / "results.sqlite3"
    result = CliRunner().invoke(main, [
        "reproduce", TABLE, "--testset", f"gigaspeech-test={corpora['corpora']}", "--testset", f"aishell1-test={tmp_path / 'no'}",
        "--model-dir", str(corpora["model"]), "--db", f"sqlite:///{db_file}"])
    assert result.exit_code == 1 and result.stdout == ""
    assert "none of the given test sets can be read, so nothing was run" in result.stderr
    assert "GigaSpeech: no GigaSpeech.json in" in result.stderr and "aishell1-test: no such file or folder" in result.stderr
    assert not db_file.exists()


def test_outputs_that_could_not_be_written_are_refused_before_anything_runs(tmp_path, corpora, codecbench_home):
    from click.testing import CliRunner

    from codecbench.cli import main

    db_file = tmp_path / "results.sqlite3"
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")

    def reproduce(*args: str):
        return CliRunner().invoke(main, ["reproduce", TABLE, *_testsets(corpora), "--model-dir", str(corpora["model"]),
                                         "--db", f"sqlite:///{db_file}", *args])

    under_a_file = reproduce("-o", str(a_file / "table.md"))
    assert under_a_file.exit_code == 1 and f"cannot be made: {a_file} is a file, not a folder" in under_a_file.stderr
    a_folder = reproduce("-o", str(tmp_path))
    assert a_folder.exit_code == 1 and "is a folder; give a file name" in a_folder.stderr
    not_html = reproduce("--chart", str(tmp_path / "chart.png"))
    assert not_html.exit_code == 1 and "is not an .html file" in not_html.stderr
    for result in (under_a_file, a_folder, not_html):
        assert result.stdout == "" and "Traceback" not in result.stderr
    assert not db_file.exists()


def test_list_names_one_table_when_given_and_refuses_an_unknown_one():
    from click.testing import CliRunner

    from codecbench.cli import main

    one = CliRunner().invoke(main, ["reproduce", "--list", TABLE])
    assert one.exit_code == 0 and one.stdout.startswith(f"{TABLE}\n    source: model card,")
    unknown = CliRunner().invoke(main, ["reproduce", "--list", "funcodec"])
    assert unknown.exit_code == 1 and f"unknown published table 'funcodec'; known tables: {TABLE}" in unknown.stderr


def test_list_describes_each_table_with_its_source_rows_and_mappings():
    from click.testing import CliRunner

    from codecbench.cli import main

    result = CliRunner().invoke(main, ["reproduce", "--list"])
    assert result.exit_code == 0, result.output
    table = get_table(TABLE)
    assert result.stdout.startswith(f"{TABLE}\n    source: model card,") and table.source.url in result.stdout
    assert "wenet test -> wenetspeech-test-meeting: 3.54 / 3.84" in result.stdout
    assert "note: WenetSpeech has two test sets, TEST_NET and TEST_MEETING" in result.stdout
    assert "metric: visqol, protocol audio-native: FunCodec's recipe" in result.stdout


# --------------------------------------------------------- another table is one data entry


def test_another_table_is_one_entry_and_runs_through_the_same_engine(tmp_path, corpora, codecbench_home, numba_cache,
                                                                      monkeypatch):
    """A made-up table for Opus, run in-process through the library: the measured values vary
    (unlike the tiny random model's), and equal the leaderboard's cells."""
    from codecbench.evaluation.executor import LocalExecutor
    from codecbench.evaluation.reproduce import plan_reproduction, run_reproduction
    from codecbench.storage import open_database

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(numba_cache))
    table = PublishedTable(
        name="opus-example", source=PublishedSource("paper", "An example", "https://example.org/opus"), codec="opus",
        points=(PublishedPoint("6 kbps", 6.0), PublishedPoint("12 kbps", 12.0)), metric="visqol",
        protocol="audio-native", protocol_reason="the example's authors ran audio mode on 16 kHz files",
        rows=(PublishedRow("librispeech-test-clean", "test-clean", (2.5, 3.5)),
              PublishedRow("gigaspeech-test", "GigaSpeech", (2.4, 3.4))),
    )
    database = open_database(f"sqlite:///{tmp_path / 'results.sqlite3'}")
    request = ReproductionRequest(table, (parse_testset_spec(f"librispeech-test-clean={corpora['corpora']}"),))
    with LocalExecutor(1) as executor:
        reproduction = run_reproduction(database, plan_reproduction(request), executor)
    rows = {(row.testset, row.point.kbps): row for row in reproduction.rows}
    with database.session(read_only=True) as session:
        board = Leaderboard.from_database(session, "visqol", "audio-native")
    database.close()
    for kbps in (6.0, 12.0):
        row = rows[("librispeech-test-clean", kbps)]
        (cell,) = board.cells[board.cells["nominal_kbps"] == kbps].itertuples()
        assert row.status == MEASURED and row.n == cell.n == 3 and row.failures == cell.failures == 3
        assert (row.mean, row.ci95_low, row.ci95_high) == (cell.mean, cell.ci95_low, cell.ci95_high)
        assert row.std > 0 and row.ci95_low < row.mean < row.ci95_high
        assert row.delta == row.mean - row.published
        assert rows[("gigaspeech-test", kbps)].status == NOT_RUN
    assert rows[("librispeech-test-clean", 12.0)].mean > rows[("librispeech-test-clean", 6.0)].mean
    at_6 = rows[("librispeech-test-clean", 6.0)]
    assert replace(at_6, published=at_6.mean).published_in_ci is True
    assert replace(at_6, published=at_6.ci95_high + 0.01).published_in_ci is False
    csv = reproduction.csv_frame()
    assert list(csv["testset"]) == ["librispeech-test-clean"] * 2 + ["gigaspeech-test"] * 2
    assert set(csv["table"]) == {"opus-example"} and set(csv["source_url"]) == {"https://example.org/opus"}
