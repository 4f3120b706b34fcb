"""`codecbench testsets`, run as a user runs it: every named test set from its documented root."""

from __future__ import annotations

import json

from tests.cli_runner import run_cli
from tests.corpora import make_aishell1, make_aishell2, make_gigaspeech, make_librispeech, make_wenetspeech


def test_every_named_test_set_indexes_from_its_documented_root(tmp_path):
    librispeech = make_librispeech(tmp_path / "corpora")
    aishell1 = make_aishell1(tmp_path / "corpora" / "aishell", packed=True)
    aishell2 = make_aishell2(tmp_path / "corpora")
    (tmp_path / "WenetSpeech").mkdir()
    wenetspeech = make_wenetspeech(tmp_path / "WenetSpeech")
    (tmp_path / "GigaSpeech").mkdir()
    gigaspeech = make_gigaspeech(tmp_path / "GigaSpeech")
    expected = {
        "librispeech-test-clean": (tmp_path / "corpora" / "LibriSpeech", librispeech["test-clean"]),
        "librispeech-test-other": (tmp_path / "corpora" / "LibriSpeech", librispeech["test-other"]),
        "aishell1-test": (tmp_path / "corpora" / "aishell", aishell1),
        "aishell2-test-ios": (tmp_path / "corpora" / "AISHELL-DEV-TEST-SET", aishell2["iOS"]),
        "aishell2-test-android": (tmp_path / "corpora" / "AISHELL-DEV-TEST-SET", aishell2["Android"]),
        "aishell2-test-mic": (tmp_path / "corpora" / "AISHELL-DEV-TEST-SET", aishell2["Mic"]),
        "wenetspeech-test-net": (tmp_path / "WenetSpeech", wenetspeech["TEST_NET"]),
        "wenetspeech-test-meeting": (tmp_path / "WenetSpeech", wenetspeech["TEST_MEETING"]),
        "gigaspeech-test": (tmp_path / "GigaSpeech", gigaspeech),
    }
    arguments = [argument for name, (root, _) in expected.items() for argument in ("--testset", f"{name}={root}")]
    completed = run_cli("testsets", *arguments, "--json", home=tmp_path / "home")
    assert completed.returncode == 0, completed.stderr
    reports = {report["name"]: report for report in map(json.loads, completed.stdout.splitlines())}
    assert set(reports) == set(expected)
    for name, (root, corpus) in expected.items():
        assert reports[name]["utterances"] == len(corpus.texts), name
        assert {skipped["id"] for skipped in reports[name]["skipped"]} == corpus.skipped, name
        assert reports[name]["root"] == str(root)


def test_testsets_lists_the_named_sets_and_reports_errors(tmp_path):
    listing = run_cli("testsets", home=tmp_path)
    assert listing.returncode == 0
    assert "gigaspeech-test=ROOT" in listing.stdout and "NAME=wavscp:PATH" in listing.stdout
    bad = run_cli("testsets", "--testset", "aishell1-test", home=tmp_path)
    assert bad.returncode == 2 and "give its root too: aishell1-test=ROOT" in bad.stderr
    missing = run_cli("testsets", "--testset", f"gigaspeech-test={tmp_path}", home=tmp_path)
    assert missing.returncode == 1 and f"no GigaSpeech.json in {tmp_path}" in missing.stderr


def test_testsets_summary_and_sample(tmp_path):
    make_librispeech(tmp_path)
    completed = run_cli("testsets", "--testset", f"librispeech-test-clean={tmp_path}", "--limit", "2", "--seed", "1", home=tmp_path)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("librispeech-test-clean: 3 utterances (a sample of 1 and 1 skipped, --limit 2 --seed 1), 3 skipped")
    assert sum(line.startswith("  skipped ") for line in lines) == 3
