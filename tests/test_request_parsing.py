"""One evaluation request parser for `codecbench evaluate` and the app's evaluate panel: same
values accepted, same messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from codecbench.cli import main
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import TestSetError, parse_testset_spec
from codecbench.evaluation.metrics.registry import METRIC_NAMES
from codecbench.evaluation.request_parsing import (
    default_evaluation_metrics,
    parse_codecs,
    parse_evaluation_request,
    parse_limit,
    parse_metric_names,
    parse_testsets,
)


def test_a_full_request_from_text(tmp_path):
    request = parse_evaluation_request(
        testsets=[f"mine=folder:{tmp_path}", "  "], codecs=["opus@6,12", "lowpass_3500"], metrics="sisnr, pesq",
        visqol_protocols=None, limit="25", seed=3.0, model_dirs={"funcodec": tmp_path}, device="cpu",
        max_duration_s=60.0,
    )
    assert request.testsets == (parse_testset_spec(f"mine=folder:{tmp_path}"),)
    assert request.conditions == (Condition("opus", 6.0), Condition("opus", 12.0), Condition("lowpass_3500"))
    assert request.scoring.metrics == ("sisnr", "pesq") and request.scoring.visqol_protocols == ("speech",)
    assert (request.limit, request.seed, request.max_duration_s) == (25, 3, 60.0)
    assert request.model_dirs == {"funcodec": tmp_path}


def test_defaults_come_from_the_metric_registry(tmp_path):
    request = parse_evaluation_request(testsets=[f"mine=folder:{tmp_path}"], codecs=["opus@6"])
    assert request.scoring.metrics == default_evaluation_metrics()
    assert set(default_evaluation_metrics()) <= set(METRIC_NAMES)
    assert request.limit is None and request.seed == 0


def test_parts():
    assert parse_metric_names("visqol, ,pesq") == ("visqol", "pesq")
    assert parse_metric_names(["stoi", " sisnr "]) == ("stoi", "sisnr")
    assert parse_codecs(["opus@6", "lowpass_3500"]) == (Condition("opus", 6.0), Condition("lowpass_3500"))
    spec = parse_testset_spec("mine=folder:/data")
    assert parse_testsets([spec, "", "other=folder:/x"]) == (spec, parse_testset_spec("other=folder:/x"))


def test_the_limit_is_empty_for_all_or_a_whole_number():
    assert parse_limit("") is None and parse_limit(None) is None and parse_limit("  ") is None
    assert parse_limit("25") == 25 and parse_limit(3.0) == 3 and parse_limit(7) == 7
    for bad in ("0", "-2", "2.5", "ten"):
        with pytest.raises(ValueError, match="whole number of at least 1, or empty for all"):
            parse_limit(bad)


@pytest.mark.parametrize(("fields", "error", "message"), [
    ({"metrics": "pesq,viqsol"}, ValueError, "unknown metric 'viqsol'. Did you mean visqol?"),
    ({"metrics": ""}, ValueError, "no metrics requested; name at least one"),
    ({"metrics": ["visqol"], "visqol_protocols": []}, ValueError, "visqol requested without a ViSQOL protocol"),
    ({"codecs": ["@6"]}, ValueError, "names no codec; write NAME@KBPS,KBPS"),
    ({"codecs": ["opus@6,"]}, ValueError, "list bitrates in kbps separated by commas"),
    ({"codecs": []}, ValueError, "no codec given; name at least one (--codec NAME@KBPS)"),
    ({"testsets": []}, ValueError, "no test set given; name at least one (--testset NAME=ROOT)"),
    ({"testsets": ["librispeech-clean=/x"]}, TestSetError, "unknown test set 'librispeech-clean'"),
    ({"limit": "0"}, ValueError, "whole number of at least 1"),
])
def test_errors_say_what_to_write(tmp_path, fields, error, message):
    base = {"testsets": [f"mine=folder:{tmp_path}"], "codecs": ["opus@6"], "metrics": "sisnr"}
    with pytest.raises(error) as raised:
        parse_evaluation_request(**{**base, **fields})
    assert message in str(raised.value)


def test_the_command_line_says_the_same_as_the_parser(tmp_path):
    """`evaluate` reports the parser's message as its one-line error, before touching the database."""
    db = tmp_path / "results.sqlite3"
    with pytest.raises(ValueError) as raised:
        parse_evaluation_request(testsets=[f"mine=folder:{tmp_path}"], codecs=["opus@6"], metrics="pesq,viqsol")
    result = CliRunner().invoke(main, ["evaluate", "--testset", f"mine=folder:{tmp_path}", "--codec", "opus@6",
                                       "--metrics", "pesq,viqsol", "--db", f"sqlite:///{db}"])
    assert result.exit_code == 1 and result.stderr == f"Error: {raised.value}\n"
    assert not Path(db).exists()


def test_a_preset_in_a_metrics_list_stands_for_its_metrics_each_once():
    from codecbench.evaluation.metrics.registry import preset
    from codecbench.evaluation.request_parsing import parse_metric_names

    assert parse_metric_names("core, dnsmos,visqol") == (*preset("core"), "dnsmos")
    assert parse_metric_names(["all"]) == preset("all")
