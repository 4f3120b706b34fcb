"""`codecbench evaluate`, `leaderboard` and `export scores`, run as a user runs them: real
processes, real files, a real database; and a run killed with SIGKILL, then restarted."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.cli_runner import CODECBENCH, run_cli
from tests.corpora import make_aishell1, make_aishell2, make_folder, make_gigaspeech, make_librispeech, make_wenetspeech
from tests.eval_db import DUPLICATE_SCORES, count, stored_rows


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "CODECBENCH_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}


def test_evaluate_then_leaderboard_numbers_equal_a_pandas_computation_from_the_export(tmp_path, env):
    make_librispeech(tmp_path / "corpora")
    make_folder(tmp_path / "mine", 4)
    (tmp_path / "mine" / "broken.wav").write_bytes(b"RIFF but not really")
    db = f"sqlite:///{tmp_path / 'results.sqlite3'}"
    evaluate = run_cli(
        "evaluate", "--testset", f"librispeech-test-clean={tmp_path / 'corpora'}",
        "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "opus@6,12", "--codec", "lowpass_3500",
        "--metrics", "pesq,sisnr", "--db", db, env=env,
    )
    assert evaluate.returncode == 0, evaluate.stderr
    # (3 + 5) utterances x 3 conditions computed; 3 skipped and 1 broken utterance fail under each condition
    assert "run 1: 24 unit(s) computed now; 12 failed in all" in evaluate.stdout
    assert "mine · opus@6" in evaluate.stdout and "4/5 complete, 1 failed" in evaluate.stdout
    assert "3x skipped by the test-set loader" in evaluate.stdout
    assert "units" in evaluate.stderr  # the progress line

    text = run_cli("leaderboard", "--metric", "pesq", "--db", db, env=env)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("pesq_wb (p862.2-wb-16k; higher is better): mean ± 95 % CI (n)")
    opus_table = text.stdout.split("\nopus\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert opus_table[0].split() == ["6", "kbps", "12", "kbps"]
    assert opus_table[2].startswith("librispeech-test-clean") and opus_table[3].startswith("mine")
    assert "(n=3, 3 failed)" in opus_table[2] and "(n=4, 1 failed)" in opus_table[3]
    assert "all codecs" in text.stdout and "lowpass_3500 3.5 kHz" in text.stdout

    board_csv = tmp_path / "leaderboard.csv"
    scores_csv = tmp_path / "scores.csv"
    assert run_cli("leaderboard", "--metric", "pesq_wb", "--format", "csv", "-o", str(board_csv),
                   "--charts", str(tmp_path / "charts"), "--db", db, env=env).returncode == 0
    assert run_cli("export", "scores", "--format", "csv", "-o", str(scores_csv), "--db", db, env=env).returncode == 0
    assert sorted(path.name for path in (tmp_path / "charts").iterdir()) == ["librispeech-test-clean.html", "mine.html",
                                                                             "plotly.min.js"]
    board = pd.read_csv(board_csv)
    scores = pd.read_csv(scores_csv, keep_default_na=False, na_values=[""])

    assert len(scores) == 21 * 2 + 12  # a row per utterance x condition x metric, one per failed unit
    expected_columns = {"codecbench_version", "codec", "checkpoint", "codec_implementation", "testset",
                        "testset_utterances", "metric", "protocol", "metric_implementation"}
    assert expected_columns <= set(scores.columns) and expected_columns <= set(board.columns)
    assert set(scores["codecbench_version"]) == {"0.1.0"} and scores["codec_implementation"].str.startswith(("av ", "codecbench ")).all()
    assert (scores.loc[scores["metric"] == "pesq_wb", "metric_implementation"] == "pesq 0.0.4").all()

    for (testset, codec, point), group in scores.groupby(["testset", "codec", "operating_point"]):
        chosen = group[(group["metric"] == "pesq_wb") & (group["protocol"] == "p862.2-wb-16k")]
        values = chosen["value"].dropna().to_numpy()
        with_value = set(chosen.loc[chosen["value"].notna(), "utterance"])
        failed = (set(group.loc[group["metric"].isna(), "utterance"]) | set(chosen.loc[chosen["value"].isna(), "utterance"])) - with_value
        half = stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values))
        (row,) = board[(board["testset"] == testset) & (board["codec"] == codec) & (board["operating_point"] == point)].itertuples()
        assert (row.n, row.failures) == (len(values), len(failed))
        assert row.mean == pytest.approx(values.mean(), rel=1e-12)
        assert (row.ci95_low, row.ci95_high) == (pytest.approx(values.mean() - half, rel=1e-9), pytest.approx(values.mean() + half, rel=1e-9))
        assert row.testset_utterances == group["testset_utterances"].iloc[0]
    assert len(board) == 6

    pesq = run_cli("export", "scores", "--metric", "pesq", "--db", db, env=env)  # the alias, as the leaderboard takes it
    assert pesq.returncode == 0, pesq.stderr
    pesq_rows = pd.read_csv(io.StringIO(pesq.stdout), keep_default_na=False, na_values=[""])
    assert len(pesq_rows) == 21 + 12 and set(pesq_rows["metric"].dropna()) == {"pesq_wb"}
    unknown = run_cli("export", "scores", "--metric", "stoi", "--db", db, env=env)
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert "no scores of metric 'stoi' are stored. Stored: pesq_wb, sisnr." in unknown.stderr


def test_every_named_test_set_evaluates_from_its_documented_root(tmp_path, env):
    corpora = tmp_path / "corpora"
    librispeech = make_librispeech(corpora)
    aishell1 = make_aishell1(corpora / "aishell", packed=True)
    aishell2 = make_aishell2(corpora)
    (tmp_path / "WenetSpeech").mkdir()
    wenetspeech = make_wenetspeech(tmp_path / "WenetSpeech")
    (tmp_path / "GigaSpeech").mkdir()
    gigaspeech = make_gigaspeech(tmp_path / "GigaSpeech")
    expected = {
        "librispeech-test-clean": (corpora / "LibriSpeech", librispeech["test-clean"]),
        "librispeech-test-other": (corpora, librispeech["test-other"]),
        "aishell1-test": (corpora / "aishell", aishell1),
        "aishell2-test-ios": (corpora / "AISHELL-DEV-TEST-SET", aishell2["iOS"]),
        "aishell2-test-android": (corpora, aishell2["Android"]),
        "aishell2-test-mic": (corpora / "AISHELL-DEV-TEST-SET", aishell2["Mic"]),
        "wenetspeech-test-net": (tmp_path / "WenetSpeech", wenetspeech["TEST_NET"]),
        "wenetspeech-test-meeting": (tmp_path / "WenetSpeech", wenetspeech["TEST_MEETING"]),
        "gigaspeech-test": (tmp_path / "GigaSpeech", gigaspeech),
    }
    arguments = [argument for name, (root, _) in expected.items() for argument in ("--testset", f"{name}={root}")]
    db = f"sqlite:///{tmp_path / 'results.sqlite3'}"
    completed = run_cli("evaluate", *arguments, "--codec", "opus@12", "--metrics", "sisnr", "--db", db, env=env)
    assert completed.returncode == 0, completed.stderr
    lines = {line.split("·")[0].strip(): line for line in completed.stdout.splitlines() if " · opus@12 " in line}
    for name, (_, corpus) in expected.items():
        usable, skipped = len(corpus.texts), len(corpus.skipped)
        assert f"{usable}/{usable + skipped} complete, {skipped} failed" in lines[name], (name, lines[name])
    export = run_cli("export", "scores", "--metric", "sisnr", "--db", db, env=env)
    scores = pd.read_csv(io.StringIO(export.stdout))
    scored = scores[scores["metric"] == "sisnr"]
    assert (scored.groupby("testset")["value"].min() > 5).all()  # Opus at 12 kbps keeps every test set's speech


def test_evaluate_reports_what_is_wrong_before_running(tmp_path, env):
    make_folder(tmp_path / "mine", 1)
    db = f"sqlite:///{tmp_path / 'results.sqlite3'}"
    base = ("evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--db", db)
    unknown = run_cli(*base, "--codec", "opus@6", "--codec", "encodec_24khz@6", env=env)
    assert unknown.returncode == 1 and "encodec_24khz is not ready" in unknown.stderr and "codecbench download encodec_24khz" in unknown.stderr
    bad_root = run_cli("evaluate", "--testset", f"gigaspeech-test={tmp_path / 'nowhere'}", "--codec", "opus@6", "--db", db, env=env)
    assert bad_root.returncode == 1 and "no such file or folder" in bad_root.stderr
    bad_metric = run_cli(*base, "--codec", "opus@6", "--metrics", "pesq,viqsol", env=env)
    assert bad_metric.returncode == 1 and "unknown metric 'viqsol'" in bad_metric.stderr and "Did you mean visqol" in bad_metric.stderr
    empty = run_cli("leaderboard", "--metric", "visqol", "--db", db, env=env)
    assert empty.returncode == 1 and "holds no scores yet" in empty.stderr
    mysql = run_cli(*base[:-1], "mysql://user@localhost/results", "--codec", "opus@6", env=env)
    assert mysql.returncode == 1 and "Traceback" not in mysql.stderr
    assert "stores results in SQLite or PostgreSQL (--db sqlite:///FILE or postgresql://...), not mysql" in mysql.stderr
    (tmp_path / "a_file").write_text("not a folder")
    bad_keep = run_cli(*base, "--codec", "opus@6", "--keep-audio", str(tmp_path / "a_file" / "kept"), env=env)
    assert bad_keep.returncode == 1 and "Traceback" not in bad_keep.stderr
    assert f"--keep-audio {tmp_path / 'a_file' / 'kept'}: cannot write reconstructions there" in bad_keep.stderr

    assert run_cli(*base, "--codec", "opus@6", "--metrics", "sisnr", env=env).returncode == 0
    make_folder(tmp_path / "other", 1)
    moved = run_cli("evaluate", "--testset", f"mine=folder:{tmp_path / 'other'}", "--codec", "opus@6",
                    "--metrics", "sisnr", "--db", db, env=env)
    assert moved.returncode == 0 and f"note: mine was last read from mine=folder:{tmp_path / 'mine'}" in moved.stderr


def test_a_run_killed_with_sigkill_restarts_without_duplicates_or_recomputation(tmp_path, env):
    make_folder(tmp_path / "mine", 40, seconds=2.0)
    database_path = tmp_path / "results.sqlite3"
    command = [CODECBENCH, "evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "opus@6,12",
               "--metrics", "pesq,sisnr", "--workers", "2", "--db", f"sqlite:///{database_path}"]
    total = 80
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while count(database_path, "SELECT count(*) FROM eval_units") < 10:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run stored nothing in two minutes"
            time.sleep(0.05)
        workers = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert len(workers) >= 2  # the scoring pool was running
    stored = stored_rows(database_path)
    assert 10 <= len(stored) < total, "kill the run part-way"
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers):  # orphaned workers notice their parent is gone and end
        assert time.monotonic() < deadline, "scoring workers outlived the killed run"
        time.sleep(0.2)

    restarted = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert restarted.returncode == 0, restarted.stderr
    assert f"{total - len(stored)} unit(s) computed now; 0 failed in all" in restarted.stdout
    final = stored_rows(database_path)
    assert len(final) == total
    assert count(database_path, "SELECT count(*) FROM eval_scores") == total * 2
    assert count(database_path, DUPLICATE_SCORES) == 0
    assert all(final[key] == value for key, value in stored.items())  # nothing stored before was recomputed


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
