"""FreqCodec: config from FunCodec's config.yaml, strict checkpoint loading, codes, bitrates, output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from codecbench.codecs import LoadOptions, codec_spec
from codecbench.codecs.freqcodec import (
    CheckpointError,
    FreqCodecCodes,
    FreqCodecConfig,
    FreqCodecModel,
    load_model,
)
from codecbench.codecs.freqcodec.upstream_config import config_from_funcodec
from codecbench.synthetic import speech_like
from tests.freqcodec_checkpoints import (
    freqcodec_config_document,
    funcodec_state_dict,
    load_model_dir,
    randomise,
    write_funcodec_model_dir,
)

SAMPLE_RATE_HZ = 16_000


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_funcodec_model_dir(tmp_path_factory.mktemp("freqcodec") / "gr1")


@pytest.fixture(scope="module")
def loaded(model_dir: Path):
    return load_model_dir(model_dir)


def _speech(seconds: float, seed: int = 1) -> torch.Tensor:
    return torch.from_numpy(speech_like(seconds, SAMPLE_RATE_HZ, seed=seed))[None]


# ------------------------------------------------------------------------------------ config


def test_config_reads_the_ds320_recipe_and_derives_frame_rate():
    config = config_from_funcodec(freqcodec_config_document())
    assert config.sample_rate_hz == 16_000
    assert config.hop_length_samples == 320
    assert config.frame_rate_hz == 50.0
    assert config.spectral.frequency_bins == 257
    assert config.encoder.bottleneck_channels == 64
    assert (config.quantizer.num_quantizers, config.quantizer.codebook_size) == (32, 1024)


def test_config_ignores_training_only_settings_but_keeps_architecture(tmp_path: Path):
    document = freqcodec_config_document()
    document["model_conf"].update(adversarial_loss_weight=0.5, feat_match_loss_weight=3.0)
    document["quantizer_conf"].update(ema_decay=0.5, quantize_dropout=False, rand_num_quant=[2, 4])
    document["max_epoch"] = 1
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    assert FreqCodecConfig.from_upstream(path) == config_from_funcodec(freqcodec_config_document())


def _with(section: str, **changes):
    document = freqcodec_config_document()
    document[section].update(changes)
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({**freqcodec_config_document(), "model": "encodec"}, r"not a FreqCodec config"),
        (_with("encoder_conf", lstm=2), r"encoder_conf has fields .* not support: \['lstm'\]"),
        (_with("model_conf", segment_dur=1.0), r"segmented encoding is not supported"),
        (_with("model_conf", codec_domain=["time", "time"]), r"codec_domain\[0\] 'time' is not a supported"),
        (_with("quantizer_conf", use_ddp=False), r"use_ddp false is not supported"),
        (_with("quantizer_conf", q0_ds_ratio=2), r"q0_ds_ratio 2 is not supported"),
        (_with("encoder_conf", conv_group_ratio=8), r"encoder stage 0 residual conv 1: 0 groups"),
        (_with("encoder_conf", ratios=[[4, 1], [4, 2], [4, 1]]), r"reduce 257 frequency bins to 4, not 1"),
        (_with("decoder_conf", last_out_padding=[[0, 0], [0, 0]]), r"rebuilds 256 frequency bins"),
        (_with("decoder_conf", channels=2), r"channels 2 does not match codec_domain 'mag_phase'"),
        (_with("encoder_conf", norm="layer_norm"), r"norm 'layer_norm' is not supported"),
        (_with("encoder_conf", activation="Mish"), r"activation 'Mish' is not supported"),
        (_with("decoder_conf", ratios=[[4, 1], [4, 1], [4, 1], [4, 1]]),
         r"encoder_conf.ratios \[\[4, 1\], \[4, 1\], \[4, 2\], \[4, 1\]\] and decoder_conf.ratios "
         r"\[\[4, 1\], \[4, 1\], \[4, 1\], \[4, 1\]\] have different time ratios \(x2 and x1 in all\)"),
        # GroupNorm groups must divide every layer's channels: the 4 filters, but not the 3 output planes
        (_with("decoder_conf", norm_params={"num_groups": 2}),
         r"decoder_conf.norm_params.num_groups 2 does not divide the 3 output channels of the decoder last conv"),
        (_with("encoder_conf", norm_params={"num_groups": 8}),
         r"encoder_conf.norm_params.num_groups 8 does not divide the 4 output channels of the encoder first conv"),
        (_with("encoder_conf", norm_params={"num_groups": 0}), r"encoder_conf.norm_params.num_groups 0 does not divide"),
    ],
)
def test_config_rejects_what_it_does_not_support_and_names_the_field(document, message):
    with pytest.raises(ValueError, match=message):
        config_from_funcodec(document)


def test_config_file_errors_name_the_file(tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text("model: [unclosed")
    with pytest.raises(ValueError, match=r"config.yaml is not valid YAML"):
        FreqCodecConfig.from_upstream(path)
    path.write_text(yaml.safe_dump(_with("model_conf", segment_dur=1.0)))
    with pytest.raises(ValueError, match=r"config.yaml: model_conf.segment_dur"):
        FreqCodecConfig.from_upstream(path)


# -------------------------------------------------------------------------------- checkpoint


def test_strict_load_fills_every_model_key_and_skips_exactly_the_training_only_keys(model_dir: Path, loaded):
    model, report = loaded
    upstream = torch.load(model_dir / "model.pth", weights_only=True)
    assert list(report.skipped_keys) == [
        "discriminator.discriminators.0.discriminators.0.conv_post.conv.bias",
        "discriminator.discriminators.0.discriminators.0.convs.0.conv.weight_g",
        "discriminator.discriminators.0.discriminators.0.convs.0.conv.weight_v",
        "mel_spec_transforms.0.mel_basis",
        "mel_spec_transforms.0.window",
        "quantizer.rq.model.cluster_size",
        "quantizer.rq.model.embed_avg",
    ]
    assert set(report.loaded_keys) == set(model.state_dict())
    assert torch.equal(model.quantizer.codebooks, upstream["quantizer.rq.model.embed"])
    assert torch.equal(model.analysis.window, upstream["enc_trans_func.window"])
    key = "encoder.model.0.conv.conv.weight"
    assert torch.equal(model.state_dict()[key], upstream[key])


def _rewrite_checkpoint(model_dir: Path, tmp_path: Path, edit) -> Path:
    state = torch.load(model_dir / "model.pth", weights_only=True)
    edit(state)
    (tmp_path / "config.yaml").write_text((model_dir / "config.yaml").read_text())
    torch.save(state, tmp_path / "model.pth")
    return tmp_path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("decoder.model.0.conv.conv.bias"), r"missing: decoder\.model\.0\.conv\.conv\.bias"),
        (lambda s: s.update({"encoder.model.99.conv.conv.weight": torch.zeros(1)}), r"unexpected: encoder\.model\.99"),
        (lambda s: s.update({"encoder.model.0.conv.conv.weight": torch.zeros(4, 3, 5, 5)}),
         r"wrong shape: encoder\.model\.0\.conv\.conv\.weight \(4, 3, 5, 5\) \(model \(4, 3, 7, 7\)\)"),
        (lambda s: s["quantizer.rq.model.inited"].__setitem__(3, 0.0), r"codebooks \[3\] were never initialised"),
        # renamed keys are named as model.pth names them
        (lambda s: s.pop("quantizer.rq.model.embed"), r"\(missing: quantizer\.rq\.model\.embed\)"),
        (lambda s: s.update({"quantizer.rq.model.embed": torch.zeros(32, 1024, 4)}),
         r"\(wrong shape: quantizer\.rq\.model\.embed \(32, 1024, 4\) \(model \(32, 1024, 8\)\)\)"),
        (lambda s: s.pop("dec_trans_func.window"), r"\(missing: dec_trans_func\.window\)"),
    ],
)
def test_a_checkpoint_that_does_not_match_its_config_fails_naming_the_keys(model_dir, tmp_path, edit, message):
    directory = _rewrite_checkpoint(model_dir, tmp_path, edit)
    with pytest.raises(CheckpointError, match=message):
        load_model_dir(directory)


_WEIGHT_NORM_DOCUMENT = freqcodec_config_document(
    encoder_conf={"norm": "weight_norm", "norm_params": {}}, decoder_conf={"norm": "weight_norm", "norm_params": {}}
)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("encoder.model.0.conv.conv.weight_g"),
         r"\(missing: encoder\.model\.0\.conv\.conv\.weight_g; unexpected: encoder\.model\.0\.conv\.conv\.weight_v\)"),
        (lambda s: (s.pop("encoder.model.0.conv.conv.weight_g"), s.pop("encoder.model.0.conv.conv.weight_v")),
         r"\(missing: encoder\.model\.0\.conv\.conv\.weight_g, encoder\.model\.0\.conv\.conv\.weight_v\)"),
        (lambda s: s.update({"encoder.model.99.conv.conv.weight_g": torch.ones(2, 1, 1, 1),
                             "encoder.model.99.conv.conv.weight_v": torch.ones(2, 3, 1, 1)}),
         r"\(unexpected: encoder\.model\.99\.conv\.conv\.weight_g, encoder\.model\.99\.conv\.conv\.weight_v\)"),
        (lambda s: s.update({"encoder.model.0.conv.conv.weight_g": torch.ones(4, 1, 1, 1),
                             "encoder.model.0.conv.conv.weight_v": torch.ones(4, 3, 5, 5)}),
         r"\(wrong shape: encoder\.model\.0\.conv\.conv\.weight_v \(4, 3, 5, 5\) \(model \(4, 3, 7, 7\)\)\)"),
    ],
)
def test_weight_norm_errors_name_the_weight_g_and_weight_v_keys(tmp_path, edit, message):
    directory = write_funcodec_model_dir(tmp_path / "weight_norm", _WEIGHT_NORM_DOCUMENT, seed=5)
    state = torch.load(directory / "model.pth", weights_only=True)
    edit(state)
    torch.save(state, directory / "model.pth")
    with pytest.raises(CheckpointError, match=message):
        load_model_dir(directory)


def test_a_file_that_is_not_a_state_dict_is_reported(model_dir: Path, tmp_path: Path):
    (tmp_path / "model.pth").write_bytes(b"<html>rate limited</html>")
    with pytest.raises(CheckpointError, match=r"model.pth is not a readable PyTorch checkpoint"):
        load_model(config_from_funcodec(freqcodec_config_document()), tmp_path / "model.pth")


def test_weight_norm_pairs_are_folded_into_the_weights_they_stand_for(tmp_path: Path):
    config = config_from_funcodec(_WEIGHT_NORM_DOCUMENT)
    reference = randomise(FreqCodecModel(config), seed=5)
    torch.save(funcodec_state_dict(reference), tmp_path / "model.pth")
    model, report = load_model(config, tmp_path / "model.pth")
    convolutions = [key for key in reference.state_dict() if key.endswith(("conv.conv.weight", "convtr.convtr.weight"))]
    assert report.folded_weight_norm_pairs == len(convolutions) > 0
    for key in convolutions:
        torch.testing.assert_close(model.state_dict()[key], reference.state_dict()[key])


# ------------------------------------------------------------------------- codes and bitrate


@pytest.mark.parametrize(("bitrate_kbps", "num_quantizers"), [(0.5, 1), (1, 2), (2, 4), (4, 8), (8, 16), (16, 32)])
def test_code_shapes_and_measured_bitrate_per_bit_width(model_dir, loaded, bitrate_kbps, num_quantizers):
    model, _ = loaded
    speech = _speech(2.0)
    point = codec_spec("freqcodec", LoadOptions(model_dir=model_dir)).operating_point(bitrate_kbps)
    assert point.num_codebooks == num_quantizers
    encoded = model.encode(speech, point.num_codebooks)
    frames = math.ceil((1 + speech.shape[-1] // 160) / 2)  # STFT frames, then the time stride of 2
    assert encoded.codes.shape == (1, num_quantizers, frames) == (1, num_quantizers, 101)
    assert encoded.codes.dtype == torch.int64
    assert 0 <= int(encoded.codes.min()) and int(encoded.codes.max()) < 1024
    measured_bps = encoded.codes.numel() * 10 / 2.0  # 10 bits per code of a 1024-entry codebook
    assert measured_bps == num_quantizers * 101 * 10 / 2.0
    assert measured_bps == pytest.approx(1000 * bitrate_kbps, rel=0.011)  # one frame over 100: the centred STFT's last frame


def test_fewer_quantizers_give_the_leading_codes_of_more(loaded):
    model, _ = loaded
    speech = _speech(1.0)
    assert torch.equal(model.encode(speech, 32).codes[:, :4], model.encode(speech, 4).codes)


@pytest.mark.parametrize("domain", ["mag_phase", "mag_angle", "stft"])
@pytest.mark.parametrize("num_samples", [16_000, 16_160, 16_321, 4_999, 257])
def test_output_length_and_rate_follow_the_stft_frames(tmp_path, domain, num_samples):
    directory = write_funcodec_model_dir(tmp_path, freqcodec_config_document(domain), seed=2)
    model, _ = load_model_dir(directory)
    speech = torch.from_numpy(speech_like(num_samples / SAMPLE_RATE_HZ, SAMPLE_RATE_HZ, seed=4))[None]
    encoded = model.encode(speech, 2)
    frames = model.config.num_frames(num_samples)
    assert encoded.codes.shape == (1, 2, frames)
    decoded = model.decode(encoded)
    # the inverse STFT of 2 x frames STFT frames gives 160 x (2 frames - 1) samples, cut to the input
    assert decoded.shape == (1, min(num_samples, 160 * (2 * frames - 1)))
    assert decoded.dtype == torch.float32 and torch.isfinite(decoded).all()
    assert model.config.sample_rate_hz == SAMPLE_RATE_HZ


def test_inputs_shorter_than_the_stft_window_are_refused(loaded):
    model, _ = loaded
    with pytest.raises(ValueError, match=r"input of 256 samples is too short: FreqCodec needs at least 257 samples"):
        model.encode(torch.zeros(1, 256), 1)


def test_loudness_scale_is_removed_before_encoding_and_multiplied_back(model_dir: Path):
    # In float64: the two inputs normalise to the same signal up to rounding, which at a near
    # tie between two codewords could pick the other one in float32.
    model, _ = load_model_dir(model_dir)
    model.double()
    speech = _speech(1.0).double()
    quiet, loud = model.encode(speech, 8), model.encode(10.0 * speech, 8)
    assert torch.equal(quiet.codes, loud.codes)
    rms = speech.pow(2).mean().sqrt()
    torch.testing.assert_close(quiet.scale, rms.reshape(1) + 1e-8)
    torch.testing.assert_close(loud.scale, 10.0 * quiet.scale)
    torch.testing.assert_close(model.decode(loud), 10.0 * model.decode(quiet), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="decoding needs the scale"):
        model.decode(FreqCodecCodes(codes=quiet.codes, scale=None, num_samples=quiet.num_samples))


def test_decoding_needs_only_the_codes_the_scale_and_the_length(model_dir: Path, loaded):
    model, _ = loaded
    encoded = model.encode(_speech(1.0), 4)
    other_instance, _ = load_model_dir(model_dir)
    payload = FreqCodecCodes(
        codes=torch.from_numpy(encoded.codes.numpy().copy()),
        scale=encoded.scale.clone(),
        num_samples=encoded.num_samples,
    )
    assert torch.equal(other_instance.decode(payload), model.decode(encoded))


def test_a_batch_encodes_each_signal_as_it_would_alone(model_dir: Path):
    # In float64: float32 rounding differs between batch sizes, and at a near tie between two
    # codewords it could pick the other one.
    model, _ = load_model_dir(model_dir)
    model.double()
    first, second = _speech(1.0, seed=1).double(), 0.3 * _speech(1.0, seed=2).double()
    batch = model.encode(torch.cat([first, second]), 4)
    alone = model.encode(second, 4)
    assert torch.equal(batch.codes[1:], alone.codes)
    np.testing.assert_allclose(model.decode(batch)[1].numpy(), model.decode(alone)[0].numpy(), atol=1e-6)


def test_out_of_range_codes_are_refused(loaded):
    model, _ = loaded
    codes = torch.full((1, 2, 5), 1024)
    with pytest.raises(ValueError, match=r"code indices must lie in 0\.\.1023"):
        model.decode(FreqCodecCodes(codes=codes, scale=torch.ones(1), num_samples=1600))
