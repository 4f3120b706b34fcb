"""FreqCodec as a codecbench codec: registry entries, model directories, payloads, and the CLI for real."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from codecbench.audio import prepare_audio
from codecbench.codecs import CodecNotReadyError, LoadOptions, TokenPayload, codec_spec, get_entry, load_codec, readiness
from codecbench.codecs.transcode import transcode
from codecbench.synthetic import speech_like
from tests.checkpoints import save_funcodec_model
from tests.cli_runner import run_cli
from tests.fake_hub import FakeHub, serve
from tests.freqcodec_checkpoints import freqcodec_config_document, funcodec_quantizers_for_bit_width, write_funcodec_model_dir

GR8 = "freqcodec_magphase_en_libritts_16k_gr8nq32ds320"
GR1 = "freqcodec_magphase_en_libritts_16k_gr1nq32ds320"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_funcodec_model_dir(tmp_path_factory.mktemp("freqcodec") / "my_freqcodec_model", seed=3)


# ---------------------------------------------------------------------------------- entries


def test_the_published_models_are_pinned_and_run_at_funcodecs_ds320_points():
    expected = {
        GR8: ("alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr8nq32ds320-pytorch", "4b3fc9494a14537edbc108388d2a4c3e3f272b5e"),
        GR1: ("alibaba-damo/audio_codec-freqcodec_magphase-en-libritts-16k-gr1nq32ds320-pytorch", "6620dd1fdbe379569a0c3b3a870f58ceab472a1d"),
    }
    for name, (repo_id, revision) in expected.items():
        entry = get_entry(name)
        assert (entry.weights.hub.repo_id, entry.weights.hub.revision) == (repo_id, revision)
        assert entry.weights.files == ("config.yaml", "model.pth")
        points = entry.spec.operating_points
        assert entry.spec.sample_rate_hz == 16_000
        assert [p.nominal_kbps for p in points] == [0.5, 1, 2, 4, 8, 16]
        assert [p.tokens_per_second for p in points] == [50, 100, 200, 400, 800, 1600]
        # The same token rates as FunCodec's EnCodec-type model of the same frame rate.
        assert points == get_entry("funcodec_en_libritts_16k_nq32ds320").spec.operating_points


def test_the_freqcodec_entry_reads_its_points_from_the_model_config(tmp_path, codecbench_home):
    document = freqcodec_config_document(quantizer_conf={"num_quantizers": 12})
    directory = write_funcodec_model_dir(tmp_path / "nq12", document)
    spec = codec_spec("freqcodec", LoadOptions(model_dir=directory))
    assert [(p.num_codebooks, p.nominal_kbps) for p in spec.operating_points] == [(1, 0.5), (2, 1), (4, 2), (8, 4), (12, 6)]
    assert spec.sample_rate_hz == 16_000
    assert load_codec("freqcodec", LoadOptions(model_dir=directory)).spec == spec


def test_the_operating_points_are_the_bit_widths_funcodec_gives_the_same_quantizers(tmp_path):
    document = freqcodec_config_document()
    spec = codec_spec("freqcodec", LoadOptions(model_dir=write_funcodec_model_dir(tmp_path / "model", document)))
    for point in spec.operating_points:
        assert funcodec_quantizers_for_bit_width(document, 1000 * point.nominal_kbps) == point.num_codebooks


@pytest.mark.parametrize(
    "edit",
    [lambda conf: conf.pop("sampling_rate"), lambda conf: conf.update(encoder_hop_length=640)],
    ids=["sampling_rate left out", "encoder_hop_length 640"],
)
def test_funcodecs_bit_width_labels_do_not_matter(tmp_path, edit):
    """``quantizer_conf.sampling_rate`` (FunCodec's default 24 kHz when left out) and ``encoder_hop_length``
    only scale FunCodec's bit_width argument; the operating points come from the model's frame rate."""
    document = freqcodec_config_document()
    edit(document["quantizer_conf"])
    spec = codec_spec("freqcodec", LoadOptions(model_dir=write_funcodec_model_dir(tmp_path / "model", document)))
    assert [(p.num_codebooks, p.nominal_kbps, p.tokens_per_second) for p in spec.operating_points] == [
        (1, 0.5, 50), (2, 1, 100), (4, 2, 200), (8, 4, 400), (16, 8, 800), (32, 16, 1600)
    ]


def test_missing_weights_say_which_command_fetches_them(codecbench_home):
    state = readiness(GR8)
    assert not state.ready
    assert state.remedy == f"Run `codecbench download {GR8}` (or pass --model-dir DIR holding config.yaml and model.pth)."
    assert readiness("freqcodec").remedy == "Pass --model-dir DIR holding config.yaml and model.pth."
    with pytest.raises(CodecNotReadyError, match="gr1nq32ds320-pytorch@6620dd1"):
        load_codec(GR1)


# ------------------------------------------------------------------------- payload and bitrate


def test_two_seconds_at_2_kbps_carry_101_frames_of_4_codes_and_a_32_bit_scale(model_dir, codecbench_home):
    codec = load_codec(GR8, LoadOptions(model_dir=model_dir))
    clip = speech_like(2.0, 16_000, seed=8)
    encoded = codec.encode(clip, 16_000, codec.spec.operating_point(2))
    payload = encoded.payload
    assert isinstance(payload, TokenPayload) and payload.codes.shape == (4, 101)
    # The centred STFT has 1 + 32000 // 160 = 201 frames, 101 after the time stride of 2: the
    # payload is 1 % above the nominal 2 kbps on 2 s, and the scale is side information.
    assert encoded.payload_bits == 4 * 101 * 10
    assert encoded.measured_kbps == pytest.approx(2.02)
    assert encoded.side_info_bits == 32
    assert payload.scale == pytest.approx(float(np.sqrt(np.mean(clip.astype(np.float64) ** 2))), rel=1e-5)


def test_the_codec_gives_the_models_own_codes_and_audio(model_dir, codecbench_home):
    codec = load_codec("freqcodec", LoadOptions(model_dir=model_dir))
    # 21017 = 131 hops of 160 + 57: the 132 STFT frames end 57 samples before the clip does.
    clip = speech_like(1.4, 16_000, seed=9)[:21_017]
    encoded = codec.encode(clip, 16_000, codec.spec.operating_point(8))
    direct = codec.model.encode(torch.from_numpy(clip)[None], 16)
    np.testing.assert_array_equal(encoded.payload.codes, direct.codes[0].numpy())
    assert encoded.payload.scale == float(direct.scale[0])
    decoded = codec.decode(encoded)
    expected = codec.model.decode(direct)[0].numpy()
    assert expected.shape[0] == 20_960  # as in FunCodec, the uncovered tail is not decoded
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, expected)
    result = transcode(codec, prepare_audio(clip, 16_000), codec.spec.operating_point(8))
    assert result.samples.shape == clip.shape and result.padded_samples == 57 == result.summary()["padded_samples"]
    np.testing.assert_array_equal(result.samples[:20_960], expected)
    assert not result.samples[20_960:].any()  # padded with silence, and reported


def test_loading_logs_the_training_only_keys_it_skipped(model_dir, codecbench_home, caplog):
    with caplog.at_level(logging.INFO, logger="codecbench.codecs.freqcodec"):
        codec = load_codec("freqcodec", LoadOptions(model_dir=model_dir))
    assert caplog.messages == [
        f"FreqCodec model in {model_dir}: loaded {len(codec.model.state_dict())} keys, skipped 7 training-only keys "
        "(discriminator.*, mel_spec_transforms.*, quantizer.rq.model.cluster_size, quantizer.rq.model.embed_avg), "
        "folded 0 weight_g/weight_v pairs"
    ]


# --------------------------------------------------------------------------- wrong models


def test_a_named_entry_refuses_a_model_with_another_token_layout(tmp_path, codecbench_home):
    directory = write_funcodec_model_dir(tmp_path / "nq16", freqcodec_config_document(quantizer_conf={"num_quantizers": 16}))
    with pytest.raises(ValueError, match=rf"the model in {directory} has 16 codebooks of 1024 entries at 50 frames/s, but {GR8} runs 16 kbps with 32"):
        load_codec(GR8, LoadOptions(model_dir=directory))


def test_a_named_entry_refuses_a_model_at_another_rate_and_says_how_to_run_it(tmp_path, codecbench_home):
    directory = write_funcodec_model_dir(tmp_path / "24k", freqcodec_config_document(model_conf={"target_sample_hz": 24_000}))
    with pytest.raises(ValueError, match=(
        rf"the model in {directory} runs at 24000 Hz, but {GR8} at 16000 Hz: it is not {GR8}; "
        r"run a FreqCodec model of your own with -c freqcodec --model-dir DIR"
    )):
        load_codec(GR8, LoadOptions(model_dir=directory))
    assert load_codec("freqcodec", LoadOptions(model_dir=directory)).spec.sample_rate_hz == 24_000


def test_each_funcodec_entry_points_to_the_other_for_the_other_kind_of_model(model_dir, tmp_path, codecbench_home):
    encodec_type = save_funcodec_model(tmp_path / "encodec_type")
    with pytest.raises(ValueError, match=r"load FunCodec's EnCodec-type models with the funcodec codec: -c funcodec --model-dir DIR"):
        load_codec("freqcodec", LoadOptions(model_dir=encodec_type))
    with pytest.raises(ValueError, match=r"describes a FreqCodec model: load it with the freqcodec codec \(-c freqcodec --model-dir DIR\)"):
        load_codec("funcodec", LoadOptions(model_dir=model_dir))


def test_a_checkpoint_that_does_not_fit_its_config_names_the_directory(model_dir, tmp_path, codecbench_home):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text((model_dir / "config.yaml").read_text())
    state = torch.load(model_dir / "model.pth", weights_only=True)
    del state["decoder.model.0.conv.conv.bias"]
    torch.save(state, broken / "model.pth")
    with pytest.raises(ValueError, match=rf"cannot load the FreqCodec model in {broken}: .*missing: decoder\.model\.0\.conv\.conv\.bias"):
        load_codec("freqcodec", LoadOptions(model_dir=broken))


def test_a_model_dir_without_config_is_a_value_error_naming_the_file(tmp_path, codecbench_home):
    from codecbench.codecs.condition import parse_codec_request
    from codecbench.evaluation.conditions import model_dir_options, resolve_conditions

    empty = tmp_path / "empty"
    empty.mkdir()
    expected = rf"cannot read the FreqCodec config {empty / 'config.yaml'} \(No such file or directory\): the model directory must hold the config.yaml and model.pth of a FunCodec FreqCodec model"
    with pytest.raises(ValueError, match=expected):
        resolve_conditions(parse_codec_request("freqcodec@2"), model_dir_options({"freqcodec": empty}))
    (empty / "config.yaml").write_bytes(b"model: \xff\xfe not utf-8")
    with pytest.raises(ValueError, match=rf"cannot read the FreqCodec config {empty / 'config.yaml'} \(.*can't decode byte 0xff"):
        codec_spec("freqcodec", LoadOptions(model_dir=empty))


# --------------------------------------------------------------------------------- the CLI


def test_evaluate_with_an_empty_model_dir_says_what_the_directory_must_hold(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    completed = run_cli(
        "evaluate", "--testset", f"mine=folder:{tmp_path}", "--codec", "freqcodec@2", "--metrics", "sisnr",
        "--model-dir", f"freqcodec={empty}", "--db", f"sqlite:///{tmp_path / 'results.sqlite3'}",
        env={"CODECBENCH_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"},
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert f"Error: cannot read the FreqCodec config {empty / 'config.yaml'} (No such file or directory): the model directory must hold" in completed.stderr


@pytest.fixture
def speech_flac(tmp_path) -> Path:
    path = tmp_path / "speech.flac"
    soundfile.write(path, speech_like(3.0, 22_050, seed=5), 22_050)
    return path


def test_transcode_runs_a_published_model_from_the_cache_and_any_model_dir(tmp_path, speech_flac, tiny_models_home, model_dir):
    offline = {"CODECBENCH_HOME": str(tiny_models_home), "HF_HUB_OFFLINE": "1"}
    named = run_cli("transcode", str(speech_flac), "-c", GR8, "-b", "2", "-o", str(tmp_path / "named.wav"), env=offline)
    assert named.returncode == 0, named.stderr
    record = json.loads(named.stdout)
    # 3 s at 16 kHz: 1 + 48000 // 160 = 301 STFT frames, 151 code frames of 4 codes x 10 bits.
    assert (record["codec"], record["operating_point"], record["tokens_per_second"]) == (GR8, "2 kbps", 200)
    assert (record["codec_sample_rate"], record["side_info_bits"]) == (16_000, 32)
    assert record["measured_kbps"] == round(151 * 4 * 10 / 3.0 / 1000, 3) == 2.013
    written, rate = soundfile.read(tmp_path / "named.wav", dtype="float32")
    assert rate == 22_050 and written.shape == (3 * 22_050,) and np.abs(written).max() > 0

    empty_home = {"CODECBENCH_HOME": str(tmp_path / "empty-home"), "HF_HUB_OFFLINE": "1"}
    local = run_cli(
        "transcode", str(speech_flac), "-c", "freqcodec", "--model-dir", str(model_dir), "-b", "16", "-o", str(tmp_path / "local.wav"),
        env=empty_home,
    )
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["tokens_per_second"] == 1600
    wrong = run_cli("transcode", str(speech_flac), "-c", "freqcodec", "--model-dir", str(model_dir), "-b", "3", "-o", str(tmp_path / "x.wav"), env=empty_home)
    assert wrong.returncode == 1 and "freqcodec does not run at 3 kbps; choose one of 0.5, 1, 2, 4, 8, 16 kbps" in wrong.stderr


def test_download_fetches_the_pinned_model_and_it_runs_offline(tmp_path, speech_flac):
    hub = FakeHub({})
    checkpoint = get_entry(GR8).weights.hub
    source = write_funcodec_model_dir(tmp_path / "published")
    (source / "README.md").write_text("a model card codecbench does not need")
    hub.add(checkpoint.repo_id, checkpoint.revision, source)
    env = {"CODECBENCH_HOME": str(tmp_path / "home")}
    with serve(hub):
        completed = run_cli("download", GR8, env={**env, "HF_ENDPOINT": hub.url})
    assert completed.returncode == 0, completed.stderr
    assert sorted(hub.fetched) == [f"{checkpoint.repo_id}/config.yaml", f"{checkpoint.repo_id}/model.pth"]
    assert f"{GR8}: {checkpoint.repo_id}@4b3fc94 in " in completed.stdout

    listed = {r["name"]: r for r in map(json.loads, run_cli("codecs", "--json", env={**env, "HF_HUB_OFFLINE": "1"}).stdout.splitlines())}
    assert listed[GR8]["ready"] and not listed[GR1]["ready"]
    assert f"codecbench download {GR1}" in listed[GR1]["remedy"]
    transcoded = run_cli("transcode", str(speech_flac), "-c", GR8, "-b", "0.5", "-o", str(tmp_path / "o.wav"), env={**env, "HF_HUB_OFFLINE": "1"})
    assert transcoded.returncode == 0, transcoded.stderr
    assert json.loads(transcoded.stdout)["tokens_per_second"] == 50
