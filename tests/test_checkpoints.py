"""Weights: readiness, the Hub cache under the codecbench home, and `codecbench download` for real."""

from __future__ import annotations

import json

import pytest
import soundfile

from codecbench.codecs import CodecNotReadyError, LoadOptions, get_entry, load_codec, readiness
from codecbench.codecs.checkpoints import HubCheckpoint, Weights, cached_snapshot, hub_cache_dir
from codecbench.synthetic import speech_like
from tests.checkpoints import install_in_hub_cache, save_funcodec_model, save_tiny_encodec_24khz
from tests.cli_runner import run_cli
from tests.fake_hub import FakeHub, serve

ENCODEC_HUB = get_entry("encodec_24khz").weights.hub


# ------------------------------------------------------------------------------ readiness


def test_missing_weights_give_one_message_with_the_command(codecbench_home):
    state = readiness("encodec_24khz")
    assert not state.ready
    assert state.reason == "its weights (facebook/encodec_24khz@c1dbe2a) are not downloaded."
    assert state.remedy == "Run `codecbench download encodec_24khz` (or pass --model-dir DIR holding config.json and model.safetensors)."
    with pytest.raises(CodecNotReadyError) as raised:
        load_codec("funcodec_en_libritts_16k_nq32ds640")
    assert str(raised.value) == (
        "codec funcodec_en_libritts_16k_nq32ds640 is not ready: its weights "
        "(alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch@02f860a) are not downloaded. "
        "Run `codecbench download funcodec_en_libritts_16k_nq32ds640` (or pass --model-dir DIR holding config.yaml and model.pth)."
    )


def test_model_dir_entries_say_they_need_one(codecbench_home, tmp_path):
    assert readiness("funcodec").describe() == (
        "not ready: it loads a model from a directory you give it. Pass --model-dir DIR holding config.yaml and model.pth."
    )
    assert "does not exist" in readiness("funcodec", LoadOptions(model_dir=tmp_path / "nowhere")).reason
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text("model: encodec\n")
    state = readiness("funcodec", LoadOptions(model_dir=tmp_path / "half"))
    assert state.reason == f"the model directory {tmp_path / 'half'} has no model.pth."
    assert readiness("funcodec", LoadOptions(model_dir=save_funcodec_model(tmp_path / "full"))).ready


def test_codecs_without_weights_refuse_a_model_dir(tmp_path):
    state = readiness("opus", LoadOptions(model_dir=tmp_path))
    assert not state.ready and "opus loads no model, so --model-dir does not apply to it." in state.reason


def test_the_hub_cache_lives_in_the_codecbench_home(codecbench_home):
    assert hub_cache_dir() == codecbench_home / "hub"


def test_a_branch_revision_is_found_through_its_ref(codecbench_home, tmp_path):
    weights = Weights(files=("config.json", "model.safetensors"), hub=HubCheckpoint("someone/model", "main"))
    assert not weights.hub.pinned and cached_snapshot(weights) is None
    snapshot = install_in_hub_cache(hub_cache_dir(), "someone/model", "main", save_tiny_encodec_24khz(tmp_path / "model"))
    assert cached_snapshot(weights) == snapshot


def test_an_incomplete_snapshot_is_not_ready(codecbench_home, tmp_path):
    source = save_tiny_encodec_24khz(tmp_path / "model")
    (source / "model.safetensors").unlink()
    install_in_hub_cache(hub_cache_dir(), ENCODEC_HUB.repo_id, ENCODEC_HUB.revision, source)
    assert not readiness("encodec_24khz").ready


def test_a_snapshot_at_another_revision_does_not_count(codecbench_home, tmp_path):
    install_in_hub_cache(hub_cache_dir(), ENCODEC_HUB.repo_id, "0" * 40, save_tiny_encodec_24khz(tmp_path / "model"))
    assert not readiness("encodec_24khz").ready


# ------------------------------------------------------------------------------ download


@pytest.fixture
def fake_hub(tmp_path):
    source = save_tiny_encodec_24khz(tmp_path / "encodec")
    (source / "pytorch_model.bin").write_bytes(b"the same weights in another format, not needed")
    hub = FakeHub({})
    hub.add(ENCODEC_HUB.repo_id, ENCODEC_HUB.revision, source)
    ds320 = get_entry("funcodec_en_libritts_16k_nq32ds320").weights.hub
    hub.add(ds320.repo_id, "1" * 40, save_funcodec_model(tmp_path / "ds320", _ds320_config()))
    with serve(hub):
        yield hub


def _ds320_config():
    from tests.checkpoints import funcodec_config

    return funcodec_config(ratios=(8, 5, 4, 2))


def test_download_fetches_the_pinned_files_with_a_progress_bar_and_the_codec_runs(fake_hub, tmp_path):
    env = {"HF_ENDPOINT": fake_hub.url, "CODECBENCH_HOME": str(tmp_path / "home")}
    completed = run_cli("download", "encodec_24khz", "funcodec_en_libritts_16k_nq32ds320", env=env)
    assert completed.returncode == 0, completed.stderr
    assert "Fetching 2 files" in completed.stderr  # huggingface_hub's progress bar
    ds320 = get_entry("funcodec_en_libritts_16k_nq32ds320").weights.hub
    assert sorted(fake_hub.fetched) == sorted([
        f"{ENCODEC_HUB.repo_id}/config.json", f"{ENCODEC_HUB.repo_id}/model.safetensors",
        f"{ds320.repo_id}/config.yaml", f"{ds320.repo_id}/model.pth",
    ])  # only the files the codecs load, not pytorch_model.bin
    snapshot = tmp_path / "home" / "hub" / "models--facebook--encodec_24khz" / "snapshots" / ENCODEC_HUB.revision
    assert f"encodec_24khz: facebook/encodec_24khz@c1dbe2a in {snapshot}" in completed.stdout
    assert "@main in" in completed.stdout  # the branch the ds320 entry follows

    listed = {r["name"]: r for r in map(json.loads, run_cli("codecs", "--json", env=env).stdout.splitlines())}
    assert listed["encodec_24khz"]["ready"] and listed["funcodec_en_libritts_16k_nq32ds320"]["ready"]
    assert not listed["dac_16khz"]["ready"]

    clip = tmp_path / "speech.wav"
    soundfile.write(clip, speech_like(1.0, 16_000, seed=4), 16_000)
    for codec, kbps in (("encodec_24khz", "6"), ("funcodec_en_libritts_16k_nq32ds320", "1")):
        transcoded = run_cli("transcode", str(clip), "-c", codec, "-b", kbps, "-o", str(tmp_path / f"{codec}.wav"), env={**env, "HF_HUB_OFFLINE": "1"})
        assert transcoded.returncode == 0, transcoded.stderr
        assert json.loads(transcoded.stdout)["codec"] == codec

    fake_hub.fetched.clear()
    again = run_cli("download", "encodec_24khz", env=env)
    assert again.returncode == 0 and fake_hub.fetched == []  # already cached


def test_download_offline_says_what_to_do(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "CODECBENCH_HOME": str(tmp_path / "home")}
    completed = run_cli("download", "dac_16khz", env=env)
    assert completed.returncode == 1
    assert "could not download descript/dac_16khz@ee7fea4 for dac_16khz:" in completed.stderr
    assert "Check the network connection (and HF_HUB_OFFLINE), or put the files (config.json and model.safetensors) in a directory and pass --model-dir DIR." in completed.stderr


def test_download_refuses_codecs_without_hub_weights(tmp_path):
    env = {"CODECBENCH_HOME": str(tmp_path / "home")}
    assert "opus has no weights to download" in run_cli("download", "opus", env=env).stderr
    assert "funcodec has nothing to download: it loads a model directory you give it" in run_cli("download", "funcodec", env=env).stderr
    assert "unknown codec 'encodec_24k'. Did you mean encodec_24khz" in run_cli("download", "encodec_24k", env=env).stderr
    assert "name at least one codec" in run_cli("download", env=env).stderr
