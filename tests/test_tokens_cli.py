"""`codecbench tokens`: a token codec's token figures for one clip, run as a user runs it (real processes)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import soundfile

from codecbench.synthetic import speech_like
from tests.cli_runner import run_cli
from tests.facodec_fixtures import write_tiny_facodec

REPORT_FIELDS = [
    "utterances", "duration_s", "tokens", "frame_rate_hz", "bits_per_token", "measured_kbps", "entropy_coded_kbps",
    "entropy_kbps", "mean_utilisation", "mean_entropy_bits", "estimator", "coder", "warnings", "streams",
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def write_clip(path: Path, seconds: float, sample_rate_hz: int = 22_050, seed: int = 41) -> Path:
    soundfile.write(path, speech_like(seconds, sample_rate_hz, seed=seed), sample_rate_hz)
    return path


def warnings_on_stderr(stderr: str) -> list[str]:
    return [line.removeprefix("warning: ") for line in stderr.splitlines() if line.startswith("warning: ")]


def test_encodec_prints_its_figures_and_the_rate_it_sends(tmp_path, tiny_models):
    clip = write_clip(tmp_path / "speech.flac", 2.5)  # 187.5 EnCodec frames: the last one is padded
    completed = run_cli("tokens", str(clip), "-c", "encodec_24khz", "-b", "1.5", home=tiny_models)
    assert completed.returncode == 0, completed.stderr
    assert len(completed.stdout.splitlines()) == 1  # one JSON object on one line, as `transcode` prints
    record = json.loads(completed.stdout)
    assert list(record) == ["codec", "operating_point", "nominal_kbps", "clip", "clip_duration_s", *REPORT_FIELDS]
    assert (record["codec"], record["operating_point"], record["nominal_kbps"]) == ("encodec_24khz", "1.5 kbps", 1.5)
    assert record["clip"] == str(clip) and record["clip_duration_s"] == pytest.approx(2.5)
    assert record["utterances"] == 1 and record["frame_rate_hz"] == 75 and record["bits_per_token"] == 10
    frames = math.ceil(2.5 * 75)
    assert record["tokens"] == 2 * frames
    # Every token at 10 bits: the nominal rate, plus at most one (padded) frame's bits over the clip.
    one_frame_kbps = 2 * 10 / record["duration_s"] / 1000
    assert 1.5 <= record["measured_kbps"] <= 1.5 + one_frame_kbps
    assert record["entropy_coded_kbps"] > 0 and record["entropy_kbps"] >= 0
    [stream] = record["streams"]
    assert (stream["stream"], stream["codebooks"], stream["frames"], stream["tokens"]) == ("codes", 2, frames, 2 * frames)
    assert stream["entropy_coded_kbps"] == pytest.approx(record["entropy_coded_kbps"], abs=1e-4)
    assert [book["codebook"] for book in stream["per_codebook"]] == [0, 1]
    assert 0 < record["mean_utilisation"] <= 1
    # 2.5 s is far fewer tokens than a codebook has entries: said in the record and on stderr.
    assert record["warnings"] and "fewer than its 1024 entries" in record["warnings"][0]
    assert warnings_on_stderr(completed.stderr) == record["warnings"]


def test_facodec_shows_its_three_streams(tmp_path, tiny_models):
    clip = write_clip(tmp_path / "speech.wav", 2.0, 16_000)
    model_dir = tmp_path / "facodec"
    write_tiny_facodec(model_dir)
    completed = run_cli("tokens", str(clip), "-c", "facodec", "-b", "4.8", "--model-dir", str(model_dir),
                        home=tiny_models)
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)
    streams = {stream["stream"]: stream for stream in record["streams"]}
    assert list(streams) == ["prosody", "content", "residual"]
    assert [stream["codebooks"] for stream in streams.values()] == [1, 2, 3]
    assert all(stream["frames"] == 160 and stream["entropy_coded_kbps"] > 0 for stream in streams.values())
    assert record["tokens"] == 6 * 160 and record["measured_kbps"] == pytest.approx(4.8)
    assert record["entropy_coded_kbps"] == pytest.approx(sum(s["entropy_coded_kbps"] for s in streams.values()),
                                                         abs=1e-3)
    assert any(warning.startswith("stream content: ") for warning in record["warnings"])
    assert warnings_on_stderr(completed.stderr) == record["warnings"]


@pytest.mark.parametrize(("args", "what"), [
    (("-c", "opus", "-b", "6"), "opus at 6 kbps sends no tokens (a classical codec with its own bitstream)"),
    (("-c", "lowpass_3500"), "lowpass_3500 at 3.5 kHz sends no tokens (an anchor, a filter with no bitstream)"),
])
def test_a_classical_codec_or_an_anchor_is_refused_without_figures(tmp_path, args, what):
    completed = run_cli("tokens", str(write_clip(tmp_path / "speech.wav", 1.0)), *args)
    assert completed.returncode == 1 and completed.stdout == ""  # no JSON, least of all zeros
    assert what in completed.stderr
    assert "token statistics are for token (neural) codecs" in completed.stderr


def test_a_clip_too_short_for_the_estimator_gets_its_figures_with_warnings_and_a_shorter_one_is_refused(
    tmp_path, tiny_models
):
    short = run_cli("tokens", str(write_clip(tmp_path / "short.wav", 0.6)), "-c", "encodec_24khz", "-b", "1.5",
                    home=tiny_models)
    assert short.returncode == 0, short.stderr
    record = json.loads(short.stdout)
    assert record["tokens"] == 2 * 45 and record["entropy_coded_kbps"] > 0
    assert "only 45 tokens per codebook" in record["warnings"][0]
    assert warnings_on_stderr(short.stderr) == record["warnings"]
    # As `transcode`: audio shorter than the loader's minimum is refused, with no JSON.
    shorter = run_cli("tokens", str(write_clip(tmp_path / "shorter.wav", 0.3)), "-c", "encodec_24khz", "-b", "1.5",
                      home=tiny_models)
    assert shorter.returncode == 1 and shorter.stdout == ""
    assert "is 0.300 s long; at least 0.5 s is needed" in shorter.stderr


def test_a_bad_bitrate_an_unknown_codec_and_an_unreadable_clip_get_transcodes_messages(tmp_path, tiny_models):
    clip = write_clip(tmp_path / "speech.wav", 1.0)
    wrong_rate = run_cli("tokens", str(clip), "-c", "encodec_24khz", "-b", "5", home=tiny_models)
    assert wrong_rate.returncode == 1 and wrong_rate.stdout == ""
    assert "encodec_24khz does not run at 5 kbps; choose one of 1.5" in wrong_rate.stderr
    typo = run_cli("tokens", str(clip), "-c", "encodek_24khz", "-b", "1.5")
    assert typo.returncode == 1 and "unknown codec 'encodek_24khz'. Did you mean encodec_24khz" in typo.stderr
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"\x00\x01garbage" * 200)
    unreadable = run_cli("tokens", str(bogus), "-c", "encodec_24khz", "-b", "1.5", home=tiny_models)
    assert unreadable.returncode == 1 and unreadable.stdout == ""
    assert "not an audio file codecbench can read, or the file is corrupt" in unreadable.stderr
