"""The shared options of the command line: one ``[CODEC=]DIR`` grammar for ``--model-dir``, the
database closed by read-only commands, help texts written from the registries, and a fast ``--help``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from codecbench.cli import main
from codecbench.cli.options import (
    ModelDir,
    database_option,
    model_dir_for,
    model_dir_option,
    model_dirs_by_codec,
    opened_database,
    parse_model_dir,
)
from codecbench.evaluation.metrics.registry import DEFAULT_METRICS, FACTS, METRIC_NAMES, preset
from codecbench.evaluation.request_parsing import default_evaluation_metrics
from codecbench.listening_test.screening import SCREENING_RULES
from codecbench.listening_test.screening_names import SCREENING_RULE_NAMES

# ------------------------------------------------------------------------------ [CODEC=]DIR


def test_a_directory_alone_names_no_codec_and_a_codec_name_before_equals_does(tmp_path):
    assert parse_model_dir(str(tmp_path)) == ModelDir(None, tmp_path)
    assert parse_model_dir(f"funcodec={tmp_path}") == ModelDir("funcodec", tmp_path)
    # text before '=' that cannot be a codec name is part of the directory
    assert parse_model_dir("./runs/a=b") == ModelDir(None, Path("./runs/a=b"))


@pytest.mark.parametrize(("text", "message"), [
    ("", "--model-dir '': give a directory, as DIR or CODEC=DIR"),
    ("funcodec=", "--model-dir 'funcodec=': give a directory, as DIR or CODEC=DIR"),
    ("funcodek=./m", "unknown codec 'funcodek'"),
    ("=/tmp", "--model-dir '=/tmp': the codec name before '=' is empty"),
])
def test_bad_model_dirs_say_what_to_write(text, message):
    with pytest.raises(ValueError) as raised:
        parse_model_dir(text)
    assert message in str(raised.value)


def test_two_directories_for_one_codec_are_refused(tmp_path):
    with pytest.raises(click.ClickException, match="funcodec already has --model-dir"):
        model_dirs_by_codec((f"funcodec={tmp_path / 'a'}", f"funcodec={tmp_path / 'b'}"))


def test_a_file_is_not_a_model_directory(tmp_path):
    a_file = tmp_path / "model.pth"
    a_file.write_bytes(b"")
    with pytest.raises(ValueError, match="is a file; give the directory holding the model's files"):
        parse_model_dir(str(a_file))


def test_a_one_codec_command_takes_dir_or_its_own_codec_and_refuses_another(tmp_path):
    assert model_dir_for("funcodec", None) is None
    assert model_dir_for("funcodec", str(tmp_path)) == tmp_path
    assert model_dir_for("funcodec", f"funcodec={tmp_path}") == tmp_path
    with pytest.raises(click.ClickException) as raised:
        model_dir_for("funcodec", f"facodec={tmp_path}")
    assert raised.value.message == (
        f"--model-dir 'facodec={tmp_path}': names facodec, but this command runs funcodec; write DIR or funcodec=DIR")


def test_a_several_codec_command_needs_codec_equals_dir(tmp_path):
    assert model_dirs_by_codec(()) == {}
    assert model_dirs_by_codec((f"funcodec={tmp_path}", f"facodec={tmp_path / 'f'}")) == {
        "funcodec": tmp_path, "facodec": tmp_path / "f"}
    with pytest.raises(click.ClickException) as raised:
        model_dirs_by_codec(("funcodec",))
    assert raised.value.message.startswith("--model-dir 'funcodec': write CODEC=DIR, e.g. funcodec=./my_model")
    with pytest.raises(click.ClickException, match="unknown codec 'funcodek'"):
        model_dirs_by_codec(("funcodek=./m",))


def _command_with_model_dir(several_codecs: bool) -> click.Command:
    @click.command()
    @model_dir_option(several_codecs=several_codecs)
    def command(**values) -> None:
        if several_codecs:
            click.echo(sorted(model_dirs_by_codec(values["model_dirs"]).items()))
        else:
            click.echo(model_dir_for("funcodec", values["model_dir"]))

    return command


def test_both_kinds_of_command_read_one_grammar_with_the_same_errors(tmp_path):
    one, several = _command_with_model_dir(False), _command_with_model_dir(True)
    runner = CliRunner()
    assert runner.invoke(one, ["--model-dir", f"funcodec={tmp_path}"]).stdout.strip() == str(tmp_path)
    assert str(tmp_path) in runner.invoke(several, ["--model-dir", f"funcodec={tmp_path}"]).stdout
    for command in (one, several):
        unknown = runner.invoke(command, ["--model-dir", "funcodek=./m"])
        assert unknown.exit_code == 1 and "Error: unknown codec 'funcodek'" in unknown.stderr
    assert "[CODEC=]DIR" in runner.invoke(one, ["--help"]).stdout
    assert "CODEC=DIR" in runner.invoke(several, ["--help"]).stdout


def test_transcode_refuses_a_model_dir_for_another_codec_before_loading_anything(tmp_path):
    result = CliRunner().invoke(main, [
        "transcode", str(tmp_path / "in.wav"), "-c", "funcodec", "-b", "2", "-o", str(tmp_path / "out.wav"),
        "--model-dir", f"facodec={tmp_path}"])
    assert result.exit_code == 1
    assert "names facodec, but this command runs funcodec" in result.stderr


# ------------------------------------------------------------------------------ database


def test_opened_database_is_closed_after_the_block_even_when_it_raises(tmp_path, monkeypatch):
    from codecbench.storage import Database

    closed = []
    monkeypatch.setattr(Database, "close", lambda self: closed.append(self.url))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    with opened_database(url) as database:
        assert database.url == url
    assert closed == [url]
    with pytest.raises(RuntimeError), opened_database(url):
        raise RuntimeError("boom")
    assert closed == [url, url]


def test_read_only_commands_close_the_database(tmp_path, monkeypatch):
    from codecbench.storage import Database

    closed = []
    monkeypatch.setattr(Database, "close", lambda self: closed.append(self.url))
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    runner = CliRunner()
    for args in (["mushra", "list"], ["export", "scores"], ["leaderboard", "--metric", "sisnr"]):
        runner.invoke(main, [*args, "--db", db])
    assert closed == [db, db, db]


def test_a_bad_database_url_is_one_line_of_error():
    @click.command()
    @database_option
    def command(database_url: str | None) -> None:
        with opened_database(database_url):
            pass

    result = CliRunner().invoke(command, ["--db", "not a url"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ help from the registries


def test_metric_help_lists_the_registry_names_and_defaults():
    runner = CliRunner()
    score = runner.invoke(main, ["score", "--help"], terminal_width=1000).stdout
    names = f"Comma-separated metrics from {', '.join(METRIC_NAMES)}, or presets ("
    assert names in score
    assert f"all: {','.join(preset('all'))}" in score
    assert f"[default: {','.join(DEFAULT_METRICS)}]" in score
    evaluate = runner.invoke(main, ["evaluate", "--help"], terminal_width=1000).stdout
    assert names in evaluate
    assert f"[default: {','.join(default_evaluation_metrics())}]" in evaluate
    leaderboard = runner.invoke(main, ["leaderboard", "--help"], terminal_width=1000).stdout
    assert f"Metric as stored: {', '.join(FACTS)} (pesq: " in leaderboard


def test_the_screening_choices_are_the_rules():
    assert tuple(SCREENING_RULES) == SCREENING_RULE_NAMES
    help_text = CliRunner().invoke(main, ["mushra", "results", "--help"], terminal_width=1000).stdout
    assert "[" + "|".join(SCREENING_RULE_NAMES) + "]" in help_text


def test_every_command_group_is_registered():
    assert set(main.commands) == {
        "codecs", "download", "transcode", "convert-voice", "score", "tokens", "testsets", "evaluate", "leaderboard",
        "export", "reproduce", "mushra", "app", "db"}
    assert set(main.commands["db"].commands) == {"upgrade", "current"}
    assert set(main.commands["export"].commands) == {"scores", "tokens"}


@pytest.mark.parametrize("args", [[], ["evaluate"], ["mushra", "results"], ["app"], ["transcode"], ["tokens"],
                                  ["export", "tokens"], ["db", "upgrade"]])
def test_help_imports_neither_torch_nor_pandas(args):
    """`codecbench --help` and a command's help load click and the metric registry, never the heavy
    stack (nor Ray, an optional extra)."""
    completed = subprocess.run([sys.executable, "-X", "importtime", "-m", "codecbench", *args, "--help"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stderr.splitlines()
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}
    assert not imported & {"torch", "pandas", "numpy", "gradio", "sqlalchemy", "ray"}
