"""Every input a command takes, wrong in the ways people (and attackers) get it wrong: a clear
one-line error with status 1, or a warning naming the file; never a traceback, never silence."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from codecbench.synthetic import speech_like
from tests.cli_runner import run_cli
from tests.corpora import make_folder

PROC = "/proc/codecbench-cannot-write-here"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def speech(tmp_path):
    path = tmp_path / "speech.wav"
    soundfile.write(path, speech_like(3.1, 16_000, seed=3), 16_000)
    return path


def one_line_error(completed, status: int = 1) -> str:
    assert completed.returncode == status, (completed.stdout, completed.stderr)
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    lines = [line for line in completed.stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, completed.stderr
    return lines[0]


@pytest.mark.parametrize("command", [
    ["transcode", "{speech}", "--codec", "opus", "--bitrate", "6", "-o", f"{PROC}.wav"],
    ["export", "scores", "-o", f"{PROC}.csv"],
    ["leaderboard", "--metric", "sisnr", "-o", f"{PROC}.txt"],
    ["mushra", "export", "1", "-o", f"{PROC}.csv"],
])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(tmp_path, speech, command):
    args = [part.replace("{speech}", str(speech)) for part in command]
    error = one_line_error(run_cli(*args, "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}")
                           if command[0] != "transcode" else run_cli(*args))
    assert f"{PROC}" in error and "cannot be written" in error


def test_an_output_under_a_file_or_naming_a_folder_is_refused(tmp_path, speech):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    under = one_line_error(run_cli("transcode", str(speech), "--codec", "opus", "--bitrate", "6", "-o", str(a_file / "x.wav")))
    assert f"cannot be made: {a_file} is a file, not a folder" in under
    folder = one_line_error(run_cli("transcode", str(speech), "--codec", "opus", "--bitrate", "6", "-o", str(tmp_path)))
    assert "is a folder; give a file name" in folder


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "soon"])
@pytest.mark.parametrize("command", [["transcode", "{speech}", "--codec", "opus", "--bitrate", "6", "-o", "{out}"],
                                     ["score", "{speech}", "{speech}"],
                                     ["evaluate", "--testset", "mine=folder:{folder}", "--codec", "opus@6"]])
def test_max_duration_must_be_a_number_of_seconds_above_zero(tmp_path, speech, command, value):
    args = [part.format(speech=speech, out=tmp_path / "out.wav", folder=tmp_path) for part in command]
    error = one_line_error(run_cli(*args, "--max-duration", value), status=2)  # a usage error, like any bad option
    assert "--max-duration" in error and (f"{value!r} is not a" in error)


def test_a_max_duration_shorter_than_any_clip_is_refused(tmp_path, speech):
    error = one_line_error(run_cli("transcode", str(speech), "--codec", "opus", "--bitrate", "6",
                                   "-o", str(tmp_path / "out.wav"), "--max-duration", "1e-300"), status=2)
    assert "'1e-300' seconds is shorter than any clip can be: give at least 0.01" in error


def test_transcode_refuses_to_overwrite_its_input(tmp_path, speech):
    before = speech.read_bytes()
    same = one_line_error(run_cli("transcode", str(speech), "--codec", "opus", "--bitrate", "6", "-o", str(speech)))
    assert f"is the input {speech}; writing there would overwrite it" in same
    linked = tmp_path / "link.wav"
    linked.symlink_to(speech)
    assert "would overwrite it" in one_line_error(
        run_cli("transcode", str(speech), "--codec", "opus", "--bitrate", "6", "-o", str(linked)))
    assert speech.read_bytes() == before


def test_transcode_and_score_refuse_input_over_ten_minutes_by_default_and_say_how_to_raise_it(tmp_path):
    long = tmp_path / "long.wav"
    soundfile.write(long, (0.05 * np.sin(np.arange(8_000 * 601) * 0.3)).astype(np.float32), 8_000)
    for args in (["transcode", str(long), "--codec", "opus", "--bitrate", "6", "-o", str(tmp_path / "o.wav")],
                 ["score", str(long), str(long), "--metrics", "sisnr"]):
        error = one_line_error(run_cli(*args))
        assert "long.wav: is 601.0 s long, over the limit of 600 s" in error and "(--max-duration)" in error
    assert not (tmp_path / "o.wav").exists()
    raised = run_cli("score", str(long), str(long), "--metrics", "sisnr", "--max-duration", "700")
    assert raised.returncode == 0 and '"metric": "sisnr"' in raised.stdout


def test_evaluate_records_utterances_over_the_limit_as_failed_with_the_reason(tmp_path):
    make_folder(tmp_path / "mine", 2, seconds=2.0)
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    completed = run_cli("evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "lowpass_3500",
                        "--metrics", "sisnr", "--max-duration", "1.5", "--db", database)
    assert completed.returncode == 0, completed.stderr
    assert "mine · lowpass_3500 0/2 complete, 2 failed" in completed.stdout
    assert "utt_0001.wav: is 2.0 s long, over the limit of 1.5 s" in completed.stdout
    retried = run_cli("evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "lowpass_3500",
                      "--metrics", "sisnr", "--retry-failed", "--db", database)
    assert "2 unit(s) computed now; 0 failed in all" in retried.stdout


@pytest.mark.parametrize("path", ["{tmp}", "{tmp}/missing.wav"])
def test_a_folder_or_a_missing_file_as_input_exits_1_naming_it(tmp_path, speech, path):
    path = path.format(tmp=tmp_path)
    expected = "is a folder, not an audio file" if path == str(tmp_path) else "no such file"
    for args in (["score", path, str(speech)], ["score", str(speech), path],
                 ["transcode", path, "--codec", "opus", "--bitrate", "6", "-o", str(tmp_path / "o.wav")],
                 ["convert-voice", "--content", path, "--timbre", str(speech), "-o", str(tmp_path / "o.wav")]):
        error = one_line_error(run_cli(*args))
        assert f"{path}: {expected}" in error, args
    yaml_error = one_line_error(run_cli("mushra", "create", str(tmp_path / "missing.yaml"),
                                        "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    assert "missing.yaml" in yaml_error


def test_a_wav_cut_short_is_read_with_a_warning_naming_both_lengths(tmp_path, speech):
    data = speech.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[: len(data) // 2])
    completed = run_cli("score", str(speech), str(cut), "--metrics", "sisnr")
    assert completed.returncode == 0, completed.stderr
    assert (f"warning: {cut}: the file is cut short: its header announces {len(data) - 44} bytes of audio (3.10 s) "
            f"but it holds") in completed.stderr
    whole = run_cli("score", str(speech), str(speech), "--metrics", "sisnr")
    assert "warning" not in whole.stderr


def test_an_aiff_cut_short_is_read_with_a_warning_too(tmp_path, speech):
    whole = tmp_path / "speech.aiff"
    soundfile.write(whole, soundfile.read(speech, dtype="float32")[0], 16_000)
    cut = tmp_path / "cut.aiff"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    completed = run_cli("score", str(speech), str(cut), "--metrics", "sisnr")
    assert completed.returncode == 0, completed.stderr
    assert f"warning: {cut}: the file is cut short: its header announces" in completed.stderr


def test_a_streamed_wav_of_unknown_length_is_not_called_cut_short(tmp_path, speech):
    # Writers that cannot seek back (a pipe) leave 0xFFFFFFFF, "unknown", as the RIFF and data sizes.
    data = bytearray(speech.read_bytes())
    data_chunk = data.index(b"data")
    data[4:8] = data[data_chunk + 4 : data_chunk + 8] = b"\xff\xff\xff\xff"
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(bytes(data))
    completed = run_cli("score", str(speech), str(streamed), "--metrics", "sisnr")
    assert completed.returncode == 0, completed.stderr
    assert "warning" not in completed.stderr and '"value": ' in completed.stdout


def test_a_file_given_as_a_folder_test_set_is_named_as_a_file(tmp_path, speech):
    error = one_line_error(run_cli("evaluate", "--testset", f"mine=folder:{speech}", "--codec", "lowpass_3500",
                                   "--metrics", "sisnr", "--db", f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    assert f"{speech} is a file, not a folder" in error


def test_score_warns_when_the_degraded_file_is_much_shorter_than_the_reference(tmp_path, speech):
    short = tmp_path / "short.wav"
    soundfile.write(short, soundfile.read(speech, dtype="float32")[0][:9_600], 16_000)
    completed = run_cli("score", str(speech), str(short), "--metrics", "sisnr")
    assert completed.returncode == 0
    assert f"warning: degraded {short} lasts 0.60 s and reference {speech} 3.10 s" in completed.stderr


def test_a_float_file_scaled_far_beyond_full_scale_is_refused_naming_it(tmp_path, speech):
    huge = tmp_path / "huge.wav"
    soundfile.write(huge, soundfile.read(speech, dtype="float32")[0] * np.float32(1e30), 16_000, subtype="FLOAT")
    for reference, degraded, role in ((speech, huge, "degraded"), (huge, speech, "reference")):
        error = one_line_error(run_cli("score", str(reference), str(degraded), "--metrics", "pesq,sisnr"))
        assert f"{role} {huge}: peaks at" in error and "dB above full scale" in error and "Normalise" in error


def test_a_constant_level_reference_is_refused_not_scored(tmp_path, speech):
    dc = tmp_path / "dc.wav"
    soundfile.write(dc, np.full(16_000 * 3, 0.3, np.float32), 16_000, subtype="FLOAT")
    error = one_line_error(run_cli("score", str(dc), str(speech), "--metrics", "pesq,sisnr"))
    assert f"reference {dc}: holds only a constant level (+0.300" in error


def test_mushra_results_and_export_of_an_id_beyond_any_integer_say_there_is_no_such_test(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    for args in (["mushra", "results", "99999999999999999999999"],
                 ["mushra", "export", "99999999999999999999999", "-o", str(tmp_path / "x.csv")]):
        error = one_line_error(run_cli(*args, "--db", database))
        assert "no MUSHRA test with id 99999999999999999999999" in error
