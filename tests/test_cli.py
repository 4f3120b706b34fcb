"""The `codecbench` command, run as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from codecbench.audio import estimate_delay_samples
from codecbench.synthetic import speech_like
from tests.cli_runner import run_cli


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Commands run with an empty codecbench home, never the user's, and offline."""
    monkeypatch.setenv("CODECBENCH_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def speech_flac(tmp_path: Path) -> Path:
    path = tmp_path / "speech.flac"
    soundfile.write(path, speech_like(3.0, 22_050, seed=5), 22_050)
    return path


def test_codecs_lists_every_codec_with_its_operating_points_and_status():
    completed = run_cli("codecs")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].split()[:3] == ["codec", "family", "rate"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) >= {"opus", "codec2", "lowpass_3500", "lowpass_7000"}
    assert "6 kbps, 8 kbps, 12 kbps, 16 kbps, 24 kbps (any 6-510 kbps)" in rows["opus"]
    assert "700C, 1200, 1300, 1400, 1600, 2400, 3200" in rows["codec2"]
    assert all(rows[name].rstrip().endswith("ready") for name in ("opus", "codec2", "lowpass_3500", "lowpass_7000"))
    # Neural codecs: operating points with tokens per second, and the command that fetches their weights.
    assert "0.25 kbps (25 tok/s), 0.5 kbps (50 tok/s), 1 kbps (100 tok/s)" in rows["funcodec_en_libritts_16k_nq32ds640"]
    assert "1.5 kbps (150 tok/s)" in rows["encodec_24khz"] and "6 kbps (600 tok/s)" in rows["dac_16khz"]
    assert rows["encodec_24khz"].rstrip().endswith(
        "not ready: its weights (facebook/encodec_24khz@c1dbe2a) are not downloaded. Run `codecbench download "
        "encodec_24khz` (or pass --model-dir DIR holding config.json and model.safetensors)."
    )
    assert "the model's (--model-dir)" in rows["funcodec"] and "Pass --model-dir DIR holding config.yaml and model.pth." in rows["funcodec"]


def test_codecs_shows_downloaded_weights_as_ready(tiny_models_home):
    rows = {line.split()[0]: line for line in run_cli("codecs", home=tiny_models_home).stdout.splitlines()[1:]}
    for name in ("encodec_24khz", "funcodec_zh_en_general_16k_nq32ds320", "dac_44khz"):
        assert rows[name].rstrip().endswith("ready") and "not ready" not in rows[name]


def test_codecs_json_gives_one_object_per_codec():
    completed = run_cli("codecs", "--json")
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    opus = next(r for r in records if r["name"] == "opus")
    assert opus["ready"] is True and opus["reason"] is None
    assert [p["nominal_kbps"] for p in opus["operating_points"]] == [6, 8, 12, 16, 24]
    assert opus["bitrate_range_kbps"] == [6.0, 510.0]
    encodec = next(r for r in records if r["name"] == "encodec_24khz")
    assert encodec["hub"] == {"repo_id": "facebook/encodec_24khz", "revision": "c1dbe2ae3f1de713481a3b3e7c47f357092ee040"}
    assert encodec["ready"] is False and "codecbench download encodec_24khz" in encodec["remedy"]
    assert [(p["num_codebooks"], p["tokens_per_second"]) for p in encodec["operating_points"]][:2] == [(2, 150), (4, 300)]


@pytest.mark.parametrize(
    ("codec", "bitrate", "codec_rate"),
    [("opus", "6", 24_000), ("codec2", "1.2", 8_000), ("lowpass_3500", None, 22_050)],
)
def test_transcode_writes_an_aligned_same_length_file_and_prints_its_json(tmp_path, speech_flac, codec, bitrate, codec_rate):
    output = tmp_path / "out.wav"
    args = ["transcode", str(speech_flac), "-c", codec, "-o", str(output)]
    if bitrate is not None:
        args += ["-b", bitrate]
    completed = run_cli(*args)
    assert completed.returncode == 0, completed.stderr

    record = json.loads(completed.stdout)
    assert list(record)[:12] == [
        "codec", "operating_point", "nominal_kbps", "measured_kbps", "side_info_bits", "tokens_per_second",
        "input_sample_rate", "codec_sample_rate", "duration_s", "delay_samples", "padded_samples", "realtime_factor",
    ]
    assert record["padded_samples"] == 0
    assert record["codec"] == codec
    assert record["input_sample_rate"] == 22_050
    assert record["codec_sample_rate"] == codec_rate
    assert record["duration_s"] == pytest.approx(3.0)
    assert record["tokens_per_second"] is None
    assert record["realtime_factor"] > 0
    if bitrate is None:
        assert record["nominal_kbps"] is None and record["measured_kbps"] is None
    else:
        assert record["nominal_kbps"] == float(bitrate)
        assert record["measured_kbps"] == pytest.approx(float(bitrate), rel=0.25)

    original, _ = soundfile.read(speech_flac, dtype="float32")
    written, rate = soundfile.read(output, dtype="float32")
    assert rate == 22_050 and written.shape == original.shape
    if codec != "codec2":
        assert abs(estimate_delay_samples(original, written, max_delay_samples=2000)) <= 22


def test_transcode_refuses_a_file_that_is_not_audio(tmp_path):
    bogus = tmp_path / "speech.wav"
    bogus.write_bytes(b"\x00\x01garbage" * 200)
    completed = run_cli("transcode", str(bogus), "-c", "opus", "-b", "6", "-o", str(tmp_path / "out.wav"))
    assert completed.returncode == 1
    assert "not an audio file codecbench can read, or the file is corrupt" in completed.stderr
    assert not (tmp_path / "out.wav").exists()


def test_transcode_names_the_allowed_bitrates_for_a_wrong_one(speech_flac, tmp_path):
    completed = run_cli("transcode", str(speech_flac), "-c", "codec2", "-b", "5", "-o", str(tmp_path / "o.wav"))
    assert completed.returncode == 1
    assert "codec2 does not run at 5 kbps; choose one of 0.7 (700C)" in completed.stderr


def test_transcode_suggests_a_codec_for_a_typo(speech_flac, tmp_path):
    completed = run_cli("transcode", str(speech_flac), "-c", "opsu", "-b", "6", "-o", str(tmp_path / "o.wav"))
    assert completed.returncode == 1
    assert "unknown codec 'opsu'. Did you mean opus?" in completed.stderr


def test_transcode_warns_about_stereo_input_on_stderr(tmp_path):
    stereo = tmp_path / "stereo.wav"
    speech = speech_like(1.0, 16_000)
    soundfile.write(stereo, np.stack([speech, speech], axis=1), 16_000)
    completed = run_cli("transcode", str(stereo), "-c", "lowpass_7000", "-o", str(tmp_path / "o.wav"))
    assert completed.returncode == 0
    assert "warning:" in completed.stderr and "mixed down to mono" in completed.stderr
    json.loads(completed.stdout)  # stdout stays pure JSON


def test_transcode_respects_max_duration(speech_flac, tmp_path):
    completed = run_cli("transcode", str(speech_flac), "-c", "opus", "-b", "6", "-o", str(tmp_path / "o.wav"), "--max-duration", "2")
    assert completed.returncode == 1
    assert "over the limit of 2 s" in completed.stderr


@pytest.fixture
def quiet_flac(tmp_path: Path) -> Path:
    """A quiet clip (peak 0.015), where 16-bit rounding is about 1e-3 of the signal's peak."""
    path = tmp_path / "quiet.flac"
    soundfile.write(path, speech_like(2.0, 16_000, seed=3, peak=0.015), 16_000, subtype="PCM_24")
    return path


def test_transcode_writes_the_sample_format_asked_for(tmp_path, quiet_flac):
    from codecbench.audio import load_audio
    from codecbench.codecs import load_codec, transcode

    audio = load_audio(quiet_flac)
    expected = transcode(load_codec("lowpass_3500"), audio, load_codec("lowpass_3500").spec.operating_point()).samples
    written = {}
    for subtype, name in ((None, "default.wav"), ("PCM_16", "pcm16.flac"), ("PCM_24", "pcm24.wav"), ("float", "float.wav")):
        args = ["transcode", str(quiet_flac), "-c", "lowpass_3500", "-o", str(tmp_path / name)]
        completed = run_cli(*args, *(["--subtype", subtype] if subtype else []))
        assert completed.returncode == 0, completed.stderr
        info = soundfile.info(tmp_path / name)
        assert info.subtype == (subtype or "PCM_16").upper()
        written[info.subtype, name] = soundfile.read(tmp_path / name, dtype="float32")[0]
    np.testing.assert_array_equal(written["FLOAT", "float.wav"], expected)  # the codec's output, exactly
    error = {key: float(np.abs(samples - expected).max()) for key, samples in written.items()}
    assert error["PCM_24", "pcm24.wav"] <= 2**-23 + 1e-9  # within one 24-bit step
    for name in ("default.wav", "pcm16.flac"):  # within one 16-bit step: 2e-3 of the clip's 0.015 peak
        assert 1e-5 < error["PCM_16", name] <= 2**-15 + 1e-9


@pytest.mark.parametrize(
    ("output", "subtype", "message"),
    [
        ("out.flac", "FLOAT", r"\.flac files cannot hold FLOAT samples; use one of PCM_16, PCM_24, or write \.wav"),
        ("out.ogg", "PCM_24", r"\.ogg files are Vorbis \(lossy\) and take no sample format"),
    ],
)
def test_transcode_refuses_a_sample_format_the_file_cannot_hold_before_running(tmp_path, quiet_flac, output, subtype, message):
    completed = run_cli("transcode", str(quiet_flac), "-c", "opus", "-b", "6", "-o", str(tmp_path / output), "--subtype", subtype)
    assert completed.returncode == 1
    assert re.search(message, completed.stderr), completed.stderr
    assert not (tmp_path / output).exists()


def test_transcode_refuses_an_unknown_sample_format(tmp_path, quiet_flac):
    completed = run_cli("transcode", str(quiet_flac), "-c", "opus", "-b", "6", "-o", str(tmp_path / "o.wav"), "--subtype", "PCM_8")
    assert completed.returncode == 2 and "'PCM_8' is not one of" in completed.stderr


# --------------------------------------------------------------------------------------
# codecbench score

SCORE_FIELDS = ["metric", "value", "error", "protocol", "implementation", "delay_samples", "gain_db"]


@pytest.fixture
def scored_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A reference and a copy of it 40 ms late and 6 dB quieter, as 16-bit files."""
    speech = speech_like(3.0, 16_000, seed=9, peak=0.3)
    reference, degraded = tmp_path / "ref.wav", tmp_path / "deg.flac"
    soundfile.write(reference, speech, 16_000, subtype="PCM_16")
    soundfile.write(degraded, np.concatenate([np.zeros(640, np.float32), speech * np.float32(0.5)]), 16_000)
    return reference, degraded


def score_records(*args: str) -> list[dict]:
    completed = run_cli("score", *args)
    assert completed.returncode == 0, completed.stderr
    return [json.loads(line) for line in completed.stdout.splitlines()]


def test_score_prints_one_json_object_per_default_metric_with_the_alignment(scored_pair):
    records = score_records(*map(str, scored_pair))
    assert [record["metric"] for record in records] == ["visqol", "pesq_wb", "stoi", "estoi", "sisnr", "mel", "mrstft"]
    for record in records:
        assert list(record) == SCORE_FIELDS
        assert record["error"] is None and isinstance(record["value"], float)
        assert record["delay_samples"] == 640 and record["gain_db"] == pytest.approx(-6.02, abs=0.01)
    by_metric = {record["metric"]: record for record in records}
    assert by_metric["visqol"]["protocol"] == "speech"
    assert by_metric["pesq_wb"]["value"] > 4.5 and by_metric["stoi"]["value"] > 0.99


def test_score_runs_the_chosen_visqol_protocol_and_says_so(scored_pair):
    (record,) = score_records(*map(str, scored_pair), "-m", "visqol", "--visqol-protocol", "audio-native")
    assert record["protocol"] == "audio-native"
    assert record["implementation"].startswith("codecbench ViSQOL engine (codecbench ")
    assert "visqol-python 3." in record["implementation"]
    assert record["value"] == pytest.approx(4.73, abs=0.01)


def test_score_takes_a_list_of_metrics_in_order(scored_pair):
    records = score_records(*map(str, scored_pair), "-m", "visqol,pesq,stoi,estoi,sisnr,mel")
    assert [record["metric"] for record in records] == ["visqol", "pesq_wb", "stoi", "estoi", "sisnr", "mel"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01garbage" * 200, "not an audio file codecbench can read, or the file is corrupt"),
        (None, "is silent (peak -inf dBFS)"),
    ],
    ids=["unreadable", "silent"],
)
def test_score_refuses_unusable_input_with_status_1(tmp_path, scored_pair, content, message):
    degraded = tmp_path / "bad.wav"
    if content is None:
        soundfile.write(degraded, np.zeros(16_000, np.float32), 16_000)
    else:
        degraded.write_bytes(content)
    completed = run_cli("score", str(scored_pair[0]), str(degraded))
    assert completed.returncode == 1
    assert message in completed.stderr and "degraded" in completed.stderr
    assert completed.stdout == ""


def test_score_names_the_metrics_for_a_typo(scored_pair):
    completed = run_cli("score", *map(str, scored_pair), "-m", "visqol,pseq")
    assert completed.returncode == 2
    assert "unknown metric 'pseq'. Did you mean pesq?" in completed.stderr

# ------------------------------------------------------------------------- neural codecs


@pytest.mark.parametrize(
    ("codec", "bitrate", "codec_rate", "tokens_per_second"),
    [
        ("encodec_24khz", "6", 24_000, 600),
        ("funcodec_en_libritts_16k_nq32ds640", "1", 16_000, 100),
        ("dac_16khz", "3", 16_000, 300),
    ],
)
def test_transcode_runs_a_downloaded_neural_codec(tmp_path, speech_flac, tiny_models_home, codec, bitrate, codec_rate, tokens_per_second):
    output = tmp_path / "out.wav"
    completed = run_cli("transcode", str(speech_flac), "-c", codec, "-b", bitrate, "-o", str(output), "--device", "cpu", home=tiny_models_home)
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)
    assert (record["codec"], record["codec_sample_rate"], record["tokens_per_second"]) == (codec, codec_rate, tokens_per_second)
    assert record["nominal_kbps"] == float(bitrate)
    # Tokens at the nominal rate, the last partial frame paid in full; FunCodec's scale apart.
    assert float(bitrate) <= record["measured_kbps"] <= float(bitrate) * 1.05
    assert record["side_info_bits"] == (32 if codec.startswith("funcodec") else 0)
    written, rate = soundfile.read(output, dtype="float32")
    assert rate == 22_050 and written.shape == (3 * 22_050,)


def test_transcode_loads_a_funcodec_model_dir(tmp_path, speech_flac):
    from tests.checkpoints import save_funcodec_model

    model_dir = save_funcodec_model(tmp_path / "my_funcodec_model")
    completed = run_cli("transcode", str(speech_flac), "-c", "funcodec", "--model-dir", str(model_dir), "-b", "2", "-o", str(tmp_path / "o.wav"))
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)
    assert (record["codec"], record["operating_point"], record["tokens_per_second"]) == ("funcodec", "2 kbps", 200)


def test_transcode_loads_an_encodec_model_dir(tmp_path, speech_flac):
    from tests.checkpoints import save_tiny_encodec_24khz

    model_dir = save_tiny_encodec_24khz(tmp_path / "my_hf_encodec")
    completed = run_cli("transcode", str(speech_flac), "-c", "encodec", "--model-dir", str(model_dir), "-b", "3", "-o", str(tmp_path / "o.wav"))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["tokens_per_second"] == 300


def test_transcode_without_weights_says_how_to_get_them(tmp_path, speech_flac):
    completed = run_cli("transcode", str(speech_flac), "-c", "encodec_24khz", "-b", "6", "-o", str(tmp_path / "o.wav"))
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "Error: codec encodec_24khz is not ready: its weights (facebook/encodec_24khz@c1dbe2a) are not downloaded. "
        "Run `codecbench download encodec_24khz` (or pass --model-dir DIR holding config.json and model.safetensors)."
    )
    assert not (tmp_path / "o.wav").exists()


def test_transcode_refuses_a_bad_device_and_a_model_dir_for_opus(tmp_path, speech_flac):
    bad_device = run_cli("transcode", str(speech_flac), "-c", "opus", "-b", "6", "-o", str(tmp_path / "o.wav"), "--device", "gpu")
    assert bad_device.returncode == 1 and "device 'gpu' is not one of cpu, cuda, cuda:N" in bad_device.stderr
    model_dir = run_cli("transcode", str(speech_flac), "-c", "opus", "-b", "6", "-o", str(tmp_path / "o.wav"), "--model-dir", str(tmp_path))
    assert model_dir.returncode == 1 and "opus loads no model, so --model-dir does not apply to it" in model_dir.stderr


def test_app_refuses_bad_model_dirs_and_devices_before_starting():
    assert "--model-dir 'funcodec': write CODEC=DIR" in run_cli("app", "--model-dir", "funcodec").stderr
    assert "unknown codec 'funcodek'" in run_cli("app", "--model-dir", "funcodek=./m").stderr
    assert "device 'gpu' is not one of cpu, cuda, cuda:N" in run_cli("app", "--device", "gpu").stderr


@pytest.mark.parametrize("module", ["codecbench", "codecbench.cli"])
def test_python_dash_m_runs_the_full_command_line(module):
    """`python -m` runs the group every command module registered on, not a copy without them."""
    completed = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    for command in ("transcode", "evaluate", "leaderboard", "reproduce", "mushra"):
        assert f"  {command} " in completed.stdout
