"""FACodec: configuration, checkpoint layout and strict loading, codes, decoding, voice conversion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from codecbench.audio import prepare_audio
from codecbench.codecs.facodec import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    REDECODER_FILENAME,
    CheckpointMismatchError,
    FACodecConfig,
    FACodecModel,
    FactorizedCodes,
    RedecoderMissingError,
    decoder_training_only_prefixes,
    load_facodec,
    upstream_state_dict,
)
from codecbench.codecs.facodec.codec import FACODEC_SPEC, FACodecCodec, describe_operating_point
from codecbench.codecs.facodec.transformer import TransformerEncoder, sinusoidal_table
from codecbench.codecs.facodec.config import TransformerEncoderConfig
from codecbench.synthetic import speech_like
from tests.facodec_fixtures import TINY_CONFIG, training_only_tensors, write_tiny_facodec

PUBLISHED_LAYOUT = Path(__file__).parent / "data" / "facodec_published_layout.json"
RATE = 16_000


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> tuple[Path, FACodecModel]:
    model_dir = tmp_path_factory.mktemp("facodec")
    return model_dir, write_tiny_facodec(model_dir, seed=1)


@pytest.fixture(scope="module")
def tiny_model(tiny_dir) -> FACodecModel:
    return load_facodec(tiny_dir[0]).model


def _speech(seconds: float, seed: int = 3) -> torch.Tensor:
    return torch.from_numpy(speech_like(seconds, RATE, seed=seed))[None]


def _rewrite_decoder(source: Path, target: Path, edit) -> Path:
    """Copy a model directory, applying ``edit`` to the decoder state dict."""
    target.mkdir()
    for name in (ENCODER_FILENAME, REDECODER_FILENAME, CONFIG_FILENAME):
        (target / name).write_bytes((source / name).read_bytes())
    state = torch.load(source / DECODER_FILENAME, weights_only=True)
    edit(state)
    torch.save(state, target / DECODER_FILENAME)
    return target


# ------------------------------------------------------------------------------ configuration


def test_default_config_is_the_published_model():
    config = FACodecConfig()
    assert config.hop_length == 200 and config.sample_rate_hz == 16_000 and config.frame_rate_hz == 80.0
    assert config.decoder.codebook_entries == (1024, 1024, 1024)
    assert (config.decoder.vq_num_q_p, config.decoder.vq_num_q_c, config.decoder.vq_num_q_r) == (1, 2, 3)
    assert config.timbre_dim == 256
    assert config.decoder.upsample_initial_channel == 1024 and config.redecoder.upsample_initial_channel == 1280


def test_config_json_round_trips_and_accepts_upstream_training_arguments():
    config = FACodecConfig.from_dict(TINY_CONFIG)
    assert config.decoder.timbre_encoder.encoder_layer == 1
    assert FACodecConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"decoder": {"vq_dim": 128}}, r"decoder\.vq_dim \(128\) must equal decoder\.in_channels \(256\)"),
        ({"encoder": {"out_channels": 128}}, r"encoder\.out_channels \(128\) must equal decoder\.in_channels"),
        ({"decoder": {"codebok_dim": 8}}, r"unknown decoder key\(s\) codebok_dim; allowed: .*codebook_dim"),
        ({"vocoder": {}}, r"unknown section\(s\) vocoder"),
        ({"encoder": {"up_ratios": [2, 4, 5]}}, r"hop length.*must be the same.*not 40, 200, 200"),
        ({"decoder": {"timbre_encoder": {"encoder_head": 3}}}, r"encoder_head=3 must divide encoder_hidden=256"),
        ({"redecoder": {"vq_num_q_r": 2}}, r"decoder\.vq_num_q_r \(3\) and redecoder\.vq_num_q_r \(2\) must match"),
    ],
)
def test_config_errors_name_the_bad_value(values, message):
    with pytest.raises(ValueError, match=message):
        FACodecConfig.from_dict(values)


# ------------------------------------------------------------------------- checkpoint layout


def test_key_map_gives_amphions_published_checkpoint_layout():
    """Key names and shapes of Amphion's FACodecEncoder/Decoder/Redecoder as published (recorded from upstream)."""
    published = json.loads(PUBLISHED_LAYOUT.read_text())
    with torch.device("meta"):
        model = FACodecModel(FACodecConfig())
    skip = decoder_training_only_prefixes(model.config.decoder)
    for part, module in (("encoder", model.encoder), ("decoder", model.decoder), ("redecoder", model.redecoder)):
        ours = {key: list(tensor.shape) for key, tensor in upstream_state_dict(module).items()}
        inference = {key: shape for key, shape in published[part].items() if not key.startswith(skip)}
        assert ours == inference, part
    training_values = sum(np.prod(s) for k, s in published["decoder"].items() if k.startswith(skip))
    assert training_values == 73_487_410  # the speaker classifier and predictors never get loaded


def test_loading_is_strict_and_skips_only_the_declared_training_heads(tiny_dir):
    loaded = load_facodec(tiny_dir[0])
    encoder, decoder, redecoder = loaded.reports
    assert encoder.skipped_keys == () and redecoder.skipped_keys == ()
    assert set(decoder.skipped_keys) == set(training_only_tensors())
    assert decoder.skipped_values == sum(t.numel() for t in training_only_tensors().values())
    assert decoder.loaded_keys == len(loaded.model.decoder.state_dict())


def test_loaded_weights_equal_the_saved_ones_after_torch_save_and_load(tiny_dir, tiny_model):
    _, source = tiny_dir
    for ours, saved in ((tiny_model.encoder, source.encoder), (tiny_model.decoder, source.decoder),
                        (tiny_model.redecoder, source.redecoder)):
        saved_state = saved.state_dict()
        for key, tensor in ours.state_dict().items():
            assert torch.equal(tensor, saved_state[key]), key
    waveform = _speech(1.0)
    a, b = tiny_model.encode(waveform), source.encode(waveform)
    assert torch.equal(a.codes.stacked(), b.codes.stacked()) and torch.equal(a.timbre, b.timbre)
    assert torch.equal(tiny_model.decode(a.codes, a.timbre), source.decode(b.codes, b.timbre))


def test_legacy_torch_save_format_loads_too(tmp_path):
    source = write_tiny_facodec(tmp_path, seed=2, legacy_format=True)
    loaded = load_facodec(tmp_path).model
    assert torch.equal(loaded.decoder.state_dict()["generator.timbre_projection.weight"],
                       source.decoder.state_dict()["generator.timbre_projection.weight"])


def test_missing_key_is_an_error_naming_it(tiny_dir, tmp_path):
    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", lambda s: s.pop("quantizer.1.layers.0._codebook.weight"))
    with pytest.raises(CheckpointMismatchError, match=r"missing keys: quantizer\.1\.layers\.0\._codebook\.weight"):
        load_facodec(broken)


def test_unexpected_key_is_an_error_naming_it(tiny_dir, tmp_path):
    def add(state):
        state["quantizer.3.layers.0._codebook.weight"] = torch.zeros(4, 4)

    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", add)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys: quantizer\.3\.layers\.0\._codebook\.weight"):
        load_facodec(broken)


def test_training_head_the_config_does_not_declare_is_unexpected(tiny_dir, tmp_path):
    def add(state):
        state["content_f0_predictor.1.heads.0.weight"] = torch.zeros(1, 16)  # use_gr_content_f0 is False

    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", add)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys: content_f0_predictor\.1\.heads\.0\.weight"):
        load_facodec(broken)


def test_wrong_shape_is_an_error_naming_key_and_shapes(tiny_dir, tmp_path):
    def reshape(state):
        state["timbre_linear.weight"] = torch.zeros(32, 8)

    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", reshape)
    with pytest.raises(CheckpointMismatchError, match=r"wrong shapes: timbre_linear\.weight \(32, 8\) \(model: \(32, 16\)\)"):
        load_facodec(broken)


def test_checkpoint_for_another_config_says_to_check_config_json(tiny_dir, tmp_path):
    broken = tmp_path / "m"
    broken.mkdir()
    for name in (ENCODER_FILENAME, DECODER_FILENAME):
        (broken / name).write_bytes((tiny_dir[0] / name).read_bytes())
    with pytest.raises(CheckpointMismatchError, match=r"wrong shapes: .*does the model directory's config\.json match it"):
        load_facodec(broken)  # no config.json: the published sizes


def test_missing_and_unreadable_files_are_named(tiny_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no ns3_facodec_encoder\.bin"):
        load_facodec(tmp_path)
    for name in (ENCODER_FILENAME, DECODER_FILENAME, CONFIG_FILENAME):
        (tmp_path / name).write_bytes((tiny_dir[0] / name).read_bytes())
    (tmp_path / DECODER_FILENAME).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match=r"ns3_facodec_decoder\.bin is not a readable PyTorch checkpoint"):
        load_facodec(tmp_path)


# ------------------------------------------------------------------------------------ codes


def test_codes_are_grouped_by_attribute_at_80_frames_per_second(tiny_model):
    encoding = tiny_model.encode(_speech(1.5))
    codes = encoding.codes
    assert codes.prosody.shape == (1, 1, 120)
    assert codes.content.shape == (1, 2, 120)
    assert codes.residual.shape == (1, 3, 120)
    assert encoding.timbre.shape == (1, 16)
    stacked = codes.stacked()
    assert stacked.dtype == torch.long and 0 <= int(stacked.min()) and int(stacked.max()) < 1024
    assert len(torch.unique(stacked)) > 6  # random weights still spread over the codebooks


def test_decoding_uses_the_residual_codebooks_it_is_given(tiny_model):
    encoding = tiny_model.encode(_speech(1.0))
    outputs = [tiny_model.decode(encoding.codes.with_residual_codebooks(n), encoding.timbre) for n in range(4)]
    assert all(out.shape == (1, 16_000) for out in outputs)
    for fewer, more in zip(outputs, outputs[1:]):
        assert not torch.allclose(fewer, more)


def test_batched_utterances_get_the_codes_they_get_alone(tiny_model):
    first, second = _speech(1.0, seed=4), _speech(1.0, seed=5)
    batch = tiny_model.encode(torch.cat([first, second]))
    for index, waveform in enumerate((first, second)):
        alone = tiny_model.encode(waveform)
        assert torch.equal(batch.codes.stacked()[index], alone.codes.stacked()[0])
        torch.testing.assert_close(batch.timbre[index], alone.timbre[0])


def test_positional_table_is_indexed_by_batch_position_as_upstream():
    torch.manual_seed(0)
    encoder = TransformerEncoder(TransformerEncoderConfig(1, 8, 2, 16, 5, max_len=4)).eval()
    with torch.no_grad():
        x = torch.randn(1, 5, 8).repeat(3, 1, 1)
        upstream_indexing = encoder(x)
        one_row = encoder(x, batch_positions=torch.zeros(3, dtype=torch.long))
        shifted = encoder.position_encoding(torch.zeros(3, 5, 8))
    table = sinusoidal_table(4, 8)
    assert torch.equal(shifted, table[:3].expand(3, 5, 8))  # row b added to every frame of item b
    assert torch.equal(upstream_indexing[0], one_row[0])
    assert not torch.allclose(upstream_indexing[1], upstream_indexing[0])
    assert torch.equal(one_row[1], one_row[0])
    with pytest.raises(ValueError, match="batch of 5 is larger than the positional table"):
        encoder(torch.randn(5, 2, 8))


def test_factorized_codes_reject_mismatched_groups():
    with pytest.raises(ValueError, match="must share batch and frame sizes"):
        FactorizedCodes(torch.zeros(1, 1, 10, dtype=torch.long), torch.zeros(1, 2, 9, dtype=torch.long),
                        torch.zeros(1, 3, 10, dtype=torch.long))
    with pytest.raises(ValueError, match="must be integers"):
        FactorizedCodes(torch.zeros(1, 1, 10), torch.zeros(1, 2, 10), torch.zeros(1, 3, 10))


# ---------------------------------------------------------------------------- voice conversion


def test_voice_conversion_speaks_the_codes_with_the_other_timbre(tiny_model):
    a, b = tiny_model.encode(_speech(1.0, seed=6)), tiny_model.encode(_speech(0.5, seed=8))
    converted = tiny_model.convert_voice(a.codes, b.timbre)
    assert converted.shape == (1, 16_000)
    assert not torch.allclose(converted, tiny_model.convert_voice(a.codes, a.timbre))
    # Residual codes carry the source voice and are not used.
    torch.testing.assert_close(converted, tiny_model.convert_voice(a.codes.with_residual_codebooks(0), b.timbre))


def test_voice_conversion_without_redecoder_says_how_to_get_it(tmp_path):
    write_tiny_facodec(tmp_path, seed=3, with_redecoder=False)
    model = load_facodec(tmp_path).model
    assert model.redecoder is None
    encoding = model.encode(_speech(0.5))
    with pytest.raises(RedecoderMissingError, match=rf"no ns3_facodec_redecoder\.bin in {tmp_path}.*codecbench download facodec"):
        model.convert_voice(encoding.codes, encoding.timbre)


# --------------------------------------------------------------------------- codec adapter


def test_operating_points_add_residual_codebooks_one_at_a_time():
    points = FACODEC_SPEC.operating_points
    assert [p.nominal_kbps for p in points] == [2.4, 3.2, 4.0, 4.8]
    assert [p.tokens_per_second for p in points] == [240, 320, 400, 480]
    assert [p.num_codebooks for p in points] == [3, 4, 5, 6]
    assert describe_operating_point(points[0]) == "prosody + content codebooks, + timbre vector"
    assert describe_operating_point(points[2]) == "prosody + content + 2 of 3 residual codebooks, + timbre vector"
    assert FACODEC_SPEC.operating_point(4.0) is points[2]


@pytest.mark.parametrize("kbps", [2.4, 3.2, 4.0, 4.8])
def test_codec_payload_bitrate_and_side_information(tiny_model, kbps):
    codec = FACodecCodec(tiny_model)
    point = codec.spec.operating_point(kbps)
    samples = speech_like(2.0, RATE, seed=9)
    encoded = codec.encode(samples, RATE, point)
    assert encoded.payload.shape == (point.num_codebooks, 160)
    assert encoded.prosody_codes.shape == (1, 160) and encoded.content_codes.shape == (2, 160)
    assert encoded.residual_codes.shape == (point.num_codebooks - 3, 160)
    assert encoded.measured_kbps == pytest.approx(kbps)
    assert encoded.side_info_bits == 16 * 32  # the timbre vector, float32, at every operating point
    decoded = codec.decode(encoded)
    assert decoded.shape == samples.shape and decoded.dtype == np.float32


def test_codec_covers_an_incomplete_last_frame(tiny_model):
    codec = FACodecCodec(tiny_model)
    samples = speech_like(1.1, RATE, seed=2)[:16_037]
    encoded = codec.encode(samples, RATE, codec.spec.operating_point(4.8))
    assert encoded.payload.shape[1] == 81
    assert codec.decode(encoded).shape == (16_037,)


def test_codec_decodes_from_the_payload_alone(tiny_model):
    codec = FACodecCodec(tiny_model)
    encoded = codec.encode(speech_like(1.0, RATE, seed=2), RATE, codec.spec.operating_point(2.4))
    expected = tiny_model.decode(encoded.factorized_codes(), torch.from_numpy(encoded.timbre)[None])[0].numpy()
    np.testing.assert_array_equal(codec.decode(encoded), expected)


def test_codec_voice_conversion_keeps_the_content_clips_rate_and_length(tiny_model):
    codec = FACodecCodec(tiny_model)
    content = prepare_audio(speech_like(1.2, 22_050, seed=1), 22_050)
    timbre = prepare_audio(speech_like(0.8, 16_000, seed=2), 16_000)
    converted = codec.convert_voice(content, timbre)
    assert converted.shape == content.samples.shape and converted.dtype == np.float32
    assert np.all(np.isfinite(converted)) and np.abs(converted).max() > 0
