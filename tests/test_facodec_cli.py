"""FACodec from the command line, as a user runs it: download, transcode, convert-voice (real processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile

from codecbench.codecs import get_entry
from codecbench.synthetic import speech_like
from tests.cli_runner import run_cli
from tests.facodec_fixtures import write_tiny_facodec
from tests.fake_hub import FakeHub, serve

HUB = get_entry("facodec").weights.hub
FILES = ("ns3_facodec_encoder.bin", "ns3_facodec_decoder.bin", "ns3_facodec_redecoder.bin")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("clips")
    content, timbre = folder / "a.wav", folder / "b.flac"
    soundfile.write(content, speech_like(2.0, 22_050, seed=31), 22_050)
    soundfile.write(timbre, speech_like(1.5, 16_000, seed=32), 16_000)
    return content, timbre


def _fake_hub_repo(tmp_path: Path, with_redecoder: bool) -> Path:
    """A repository holding a tiny FACodec, its config.json and a README: only the checkpoints
    are fetched (the published repository has no config.json; one appearing there must not
    change what `facodec` builds)."""
    source = tmp_path / "repo"
    write_tiny_facodec(source, with_redecoder=with_redecoder)
    (source / "README.md").write_text("FACodec\n")
    return source


def test_download_fetches_encoder_decoder_and_redecoder_then_everything_runs(tmp_path, clips):
    hub = FakeHub({})
    hub.add(HUB.repo_id, "f" * 40, _fake_hub_repo(tmp_path, with_redecoder=True))
    content, timbre = clips
    with serve(hub):
        env = {"HF_ENDPOINT": hub.url, "CODECBENCH_HOME": str(tmp_path / "home")}
        completed = run_cli("download", "facodec", env=env)
    assert completed.returncode == 0, completed.stderr
    assert sorted(hub.fetched) == sorted(f"{HUB.repo_id}/{name}" for name in FILES)  # not config.json nor the README
    assert f"facodec: {HUB.repo_id}@main in " in completed.stdout and "warning" not in completed.stderr

    offline = {**env, "HF_HUB_OFFLINE": "1"}
    listed = {r["name"]: r for r in map(json.loads, run_cli("codecs", "--json", env=offline).stdout.splitlines())}
    assert listed["facodec"]["ready"] and listed["facodec"]["note"] is None
    assert listed["facodec"]["hub"] == {"repo_id": "amphion/naturalspeech3_facodec", "revision": "main"}

    # The snapshot's checkpoints are tiny; `facodec` builds the published architecture for them.
    output = tmp_path / "out.wav"
    refused = run_cli("transcode", str(content), "-c", "facodec", "-b", "4.8", "-o", str(output), env=offline)
    assert refused.returncode == 1 and not output.exists()
    assert "ns3_facodec_encoder.bin does not fit the model its configuration describes (" in refused.stderr
    assert "wrong shape: " in refused.stderr and "else the published model's)?" in refused.stderr

    # The same checkpoints with their config.json, as a model directory, run everything.
    model_dir = tmp_path / "with-config"
    model_dir.mkdir()
    for path in (tmp_path / "repo").iterdir():
        (model_dir / path.name).write_bytes(path.read_bytes())
    with_dir = ("--model-dir", str(model_dir))
    for kbps, tokens_per_second in (("4.8", 480), ("2.4", 240)):
        transcoded = run_cli("transcode", str(content), "-c", "facodec", *with_dir, "-b", kbps, "-o", str(output), env=offline)
        assert transcoded.returncode == 0, transcoded.stderr
        record = json.loads(transcoded.stdout)
        assert (record["codec"], record["operating_point"], record["codec_sample_rate"]) == ("facodec", f"{kbps} kbps", 16_000)
        assert record["tokens_per_second"] == tokens_per_second and record["measured_kbps"] == float(kbps)
        assert record["side_info_bits"] == 16 * 32  # the tiny model's timbre vector, float32
        written, rate = soundfile.read(output, dtype="float32")
        assert rate == 22_050 and written.shape == (2 * 22_050,)

    converted = tmp_path / "a_in_b_voice.wav"
    completed = run_cli(
        "convert-voice", "--content", str(content), "--timbre", str(timbre), *with_dir, "-o", str(converted),
        "--subtype", "FLOAT", env=offline,
    )
    assert completed.returncode == 0, completed.stderr
    record = json.loads(completed.stdout)
    assert (record["codec"], record["sample_rate"], record["duration_s"], record["timbre_duration_s"]) == ("facodec", 22_050, 2.0, 1.5)
    assert record["padded_samples"] == 0  # 2 s at 16 kHz: 160 whole frames
    assert soundfile.info(converted).subtype == "FLOAT"
    written, rate = soundfile.read(converted, dtype="float32")
    assert rate == 22_050 and written.shape == (2 * 22_050,) and abs(written).max() > 0


def test_a_repository_without_the_redecoder_gives_facodec_without_voice_conversion(tmp_path, clips):
    hub = FakeHub({})
    hub.add(HUB.repo_id, "e" * 40, _fake_hub_repo(tmp_path, with_redecoder=False))
    with serve(hub):
        env = {"HF_ENDPOINT": hub.url, "CODECBENCH_HOME": str(tmp_path / "home")}
        completed = run_cli("download", "facodec", env=env)
    assert completed.returncode == 0, completed.stderr
    assert "warning: amphion/naturalspeech3_facodec@main has no ns3_facodec_redecoder.bin; facodec runs without voice conversion." in completed.stderr

    offline = {**env, "HF_HUB_OFFLINE": "1"}
    table = run_cli("codecs", env=offline).stdout
    row = next(line for line in table.splitlines() if line.startswith("facodec "))
    # Downloading again would not fetch it: the remedy is a model directory.
    lacks = (
        "amphion/naturalspeech3_facodec has no ns3_facodec_redecoder.bin at revision eeeeeee. Put "
        "ns3_facodec_redecoder.bin in a directory with ns3_facodec_encoder.bin and ns3_facodec_decoder.bin "
        "and pass --model-dir DIR."
    )
    assert row.endswith(f"ready (no voice conversion: {lacks})")
    content, timbre = clips
    completed = run_cli("convert-voice", "--content", str(content), "--timbre", str(timbre), "-o", str(tmp_path / "o.wav"), env=offline)
    assert completed.returncode == 1
    assert completed.stderr.strip() == f"Error: voice conversion needs FACodec's redecoder, and {lacks}"
    assert not (tmp_path / "o.wav").exists()


def test_model_dir_and_device_options(tmp_path, clips):
    content, timbre = clips
    env = {"CODECBENCH_HOME": str(tmp_path / "empty-home"), "HF_HUB_OFFLINE": "1"}
    model_dir = tmp_path / "my_facodec"
    write_tiny_facodec(model_dir, with_redecoder=False)
    transcoded = run_cli(
        "transcode", str(content), "-c", "facodec", "--model-dir", str(model_dir), "-b", "3.2", "--device", "cpu",
        "-o", str(tmp_path / "o.wav"), env=env,
    )
    assert transcoded.returncode == 0, transcoded.stderr
    assert json.loads(transcoded.stdout)["tokens_per_second"] == 320

    converted = run_cli(
        "convert-voice", "--content", str(content), "--timbre", str(timbre), "-o", str(tmp_path / "c.wav"),
        "--model-dir", str(model_dir), env=env,
    )
    assert converted.returncode == 1
    assert converted.stderr.strip() == (
        f"Error: voice conversion needs FACodec's redecoder, and the model directory {model_dir} has no "
        "ns3_facodec_redecoder.bin. Copy it there from https://huggingface.co/amphion/naturalspeech3_facodec."
    )

    not_downloaded = run_cli("convert-voice", "--content", str(content), "--timbre", str(timbre), "-o", str(tmp_path / "c.wav"), env=env)
    assert not_downloaded.returncode == 1
    assert "Error: FACodec is not ready: its weights (amphion/naturalspeech3_facodec@main) are not downloaded. Run `codecbench download facodec`" in not_downloaded.stderr

    wrong_rate = run_cli(
        "transcode", str(content), "-c", "facodec", "--model-dir", str(model_dir), "-b", "6", "-o", str(tmp_path / "o.wav"), env=env
    )
    assert wrong_rate.returncode == 1 and "facodec does not run at 6 kbps; choose one of 2.4, 3.2, 4, 4.8 kbps." in wrong_rate.stderr
