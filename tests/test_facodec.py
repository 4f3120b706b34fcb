"""FACodec: configuration, checkpoint layout and strict loading, codes, decoding, voice conversion."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from codecbench.audio import AudioLimits, fit_length, prepare_audio, resample
from codecbench.codecs.base import TokenPayload
from codecbench.codecs.facodec import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    FACODEC_SPEC,
    REDECODER_FILENAME,
    FACodecConfig,
)
from codecbench.codecs.facodec.checkpoint import (
    CheckpointMismatchError,
    decoder_training_only_prefixes,
    upstream_state_dict,
)
from codecbench.codecs.facodec.codec import FACodecCodec, FACodecPayload
from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.config import TransformerEncoderConfig
from codecbench.codecs.facodec.model import FACodecModel, RedecoderMissingError, load_facodec
from codecbench.codecs.facodec.transformer import TransformerEncoder, sinusoidal_table
from codecbench.codecs.token_codec import BatchLimits
from codecbench.codecs.transcode import transcode
from codecbench.synthetic import speech_like
from tests.facodec_fixtures import TINY_CONFIG, training_only_tensors, write_tiny_facodec
from tests.reference_codes import assert_codes_match

PUBLISHED_LAYOUT = Path(__file__).parent / "data" / "facodec_published_layout.json"
# Amphion's own outputs for the tiny model of this seed (see tests/tools/make_facodec_reference.py).
REFERENCE_PATH = Path(__file__).parent / "data" / "facodec_reference.npz"
REFERENCE_SEED = 11
RATE = 16_000


def parity_inputs() -> dict[str, np.ndarray]:
    """The clips the reference was made from, none a whole number of 200-sample frames: for the
    first two (200 T + 37 and 200 T + 51 samples) Amphion's encoder gives T frames, for the
    third (200 T + 190, as the 48,390-sample clip of issue 12) T + 1."""
    return {
        "content": speech_like(1.0, RATE, seed=12)[:8037],
        "timbre": speech_like(1.0, RATE, seed=13)[:6451],
        "one_frame_more": speech_like(1.0, RATE, seed=14)[:8190],
    }


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
        ({"decoder": {"use_gr_x_timbre": "false"}}, r"decoder\.use_gr_x_timbre must be true or false, not 'false'"),
        ({"decoder": {"use_gr_content_f0": 0}}, r"decoder\.use_gr_content_f0 must be true or false, not 0"),
        ({"decoder": {"vq_num_q_r": True}}, r"decoder\.vq_num_q_r must be an integer >= 0, not True"),
        ({"redecoder": {"vq_num_q_r": False}}, r"redecoder\.vq_num_q_r must be an integer >= 0, not False"),
        ({"encoder": {"ngf": True}}, r"encoder\.ngf must be a positive integer, not True"),
        ({"encoder": {"up_ratios": 200}}, r"encoder\.up_ratios must be a non-empty list of positive integers, not 200"),
        ({"decoder": {"up_ratios": "5542"}}, r"decoder\.up_ratios must be a non-empty list of positive integers, not '5542'"),
        ({"encoder": {"up_ratios": [2, True, 5, 5]}}, r"encoder\.up_ratios must be a non-empty list"),
    ],
)
def test_config_errors_name_the_bad_value(values, message):
    with pytest.raises(ValueError, match=message):
        FACodecConfig.from_dict(values)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe{}"], ids=["bad JSON", "not UTF-8"])
def test_an_unreadable_config_json_is_named(tmp_path, content):
    path = tmp_path / CONFIG_FILENAME
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^{path} is not valid UTF-8 JSON \(.*\); fix or delete it$"):
        FACodecConfig.from_json_file(path)


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


def test_loading_is_strict_and_skips_only_the_declared_training_heads(tiny_dir, caplog):
    with caplog.at_level(logging.INFO, logger="codecbench.codecs.facodec.model"):
        loaded = load_facodec(tiny_dir[0])
    skipped = training_only_tensors()
    assert caplog.messages == [
        f"loaded FACodec from {tiny_dir[0]}; skipped {len(skipped)} training-only tensors "
        f"({sum(t.numel() for t in skipped.values())} values)"
    ]
    encoder, decoder, redecoder = loaded.reports
    assert encoder.skipped_keys == () and redecoder.skipped_keys == ()
    assert set(decoder.skipped_keys) == set(training_only_tensors())
    assert decoder.skipped_values == sum(t.numel() for t in training_only_tensors().values())
    assert set(decoder.loaded_keys) == set(loaded.model.decoder.state_dict())


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
    with pytest.raises(CheckpointMismatchError, match=r"missing: quantizer\.1\.layers\.0\._codebook\.weight"):
        load_facodec(broken)


def test_unexpected_key_is_an_error_naming_it(tiny_dir, tmp_path):
    def add(state):
        state["quantizer.3.layers.0._codebook.weight"] = torch.zeros(4, 4)

    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", add)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected: quantizer\.3\.layers\.0\._codebook\.weight"):
        load_facodec(broken)


def test_training_head_the_config_does_not_declare_is_unexpected(tiny_dir, tmp_path):
    def add(state):
        state["content_f0_predictor.1.heads.0.weight"] = torch.zeros(1, 16)  # use_gr_content_f0 is False

    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", add)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected: content_f0_predictor\.1\.heads\.0\.weight"):
        load_facodec(broken)


def test_wrong_shape_is_an_error_naming_key_and_shapes(tiny_dir, tmp_path):
    def reshape(state):
        state["timbre_linear.weight"] = torch.zeros(32, 8)

    broken = _rewrite_decoder(tiny_dir[0], tmp_path / "m", reshape)
    with pytest.raises(CheckpointMismatchError, match=r"wrong shape: timbre_linear\.weight \(32, 8\) \(model \(32, 16\)\)"):
        load_facodec(broken)


def test_checkpoint_for_another_config_says_to_check_config_json(tiny_dir, tmp_path):
    broken = tmp_path / "m"
    broken.mkdir()
    for name in (ENCODER_FILENAME, DECODER_FILENAME):
        (broken / name).write_bytes((tiny_dir[0] / name).read_bytes())
    with pytest.raises(CheckpointMismatchError, match=r"wrong shape: .*a --model-dir directory's config\.json, else the published model's"):
        load_facodec(broken)  # no config.json: the published sizes


def test_missing_and_unreadable_files_are_named(tiny_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no ns3_facodec_encoder\.bin"):
        load_facodec(tmp_path)
    for name in (ENCODER_FILENAME, DECODER_FILENAME, CONFIG_FILENAME):
        (tmp_path / name).write_bytes((tiny_dir[0] / name).read_bytes())
    (tmp_path / DECODER_FILENAME).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match=r"ns3_facodec_decoder\.bin is not a readable PyTorch checkpoint"):
        load_facodec(tmp_path)


# ----------------------------------------------------------------------------------- parity


def test_outputs_equal_amphions_own_code(tmp_path):
    # Amphion's FACodecEncoder/FACodecDecoder/FACodecRedecoder on the same checkpoint and clips,
    # unpadded as Amphion runs them (its encoder drops the incomplete last frame).
    reference = np.load(REFERENCE_PATH)
    write_tiny_facodec(tmp_path, seed=REFERENCE_SEED)
    model = load_facodec(tmp_path).model

    def close(ours: torch.Tensor, key: str, waveform: bool = False) -> None:
        # The tiny random generators amplify float32 rounding, which differs with the order of
        # operations, to about 1e-4 of full scale (what batch and alone differ by, too); at the
        # published size the differences are about 2e-6. A real divergence is far larger.
        expected = reference[key]
        atol = 3e-4 if waveform else 1e-5 * max(1.0, np.abs(expected).max())
        assert ours.shape == expected.shape, key
        np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=atol, err_msg=key)

    encodings = {}
    for name, clip in parity_inputs().items():
        np.testing.assert_array_equal(reference[f"{name}/input"], clip)
        clip = torch.from_numpy(clip)[None]
        with torch.inference_mode():
            close(model.encoder(clip[:, None])[0], f"{name}/encoder_output")
        encoding = encodings[name] = model.encode(clip)
        assert_codes_match(encoding.codes.stacked()[0].numpy(), reference[f"{name}/codes"], reference[f"{name}/margins"])
        close(encoding.timbre[0], f"{name}/timbre")
        # The decoders are checked on Amphion's own codes, whatever a near tie did above.
        codes = FactorizedCodes.from_stacked(torch.from_numpy(reference[f"{name}/codes"].astype(np.int64))[None], 1, 2)
        encodings[name] = replace(encoding, codes=codes)
        close(model.decode(codes, encoding.timbre)[0], f"{name}/reconstruction", waveform=True)
        prosody_content = model.decode(codes.with_residual_codebooks(0), encoding.timbre)[0]
        close(prosody_content, f"{name}/reconstruction_prosody_content", waveform=True)
    converted = model.convert_voice(encodings["content"].codes, encodings["timbre"].timbre)[0]
    close(converted, "conversion", waveform=True)


@pytest.fixture(scope="module")
def reference_codec(tmp_path_factory) -> FACodecCodec:
    model_dir = tmp_path_factory.mktemp("facodec_reference")
    write_tiny_facodec(model_dir, seed=REFERENCE_SEED)
    return FACodecCodec(load_facodec(model_dir).model)


@pytest.mark.parametrize("name", ["content", "timbre", "one_frame_more"])
def test_the_codec_encodes_clips_as_given_and_pads_only_its_output_like_amphion(reference_codec, name):
    """The user's path (transcode) gives Amphion's codes for clips of any length, and its audio
    cut or zero-padded to the clip's length, with the padding reported."""
    reference = np.load(REFERENCE_PATH)
    clip = parity_inputs()[name]
    expected_codes = reference[f"{name}/codes"]
    frames = expected_codes.shape[1]
    assert reference_codec.num_frames(clip.shape[0]) == frames
    audio = prepare_audio(clip, RATE, limits=AudioLimits(min_duration_s=0))
    result = transcode(reference_codec, audio, reference_codec.spec.operating_point(4.8))
    assert_codes_match(result.encoded.payload.codes, expected_codes, reference[f"{name}/margins"])
    assert result.padded_samples == max(0, clip.shape[0] - frames * 200) == result.summary()["padded_samples"]
    assert result.samples.shape == clip.shape
    if result.padded_samples:
        assert not result.samples[-result.padded_samples :].any()
    # From Amphion's own codes, the decoded audio is Amphion's, cut or padded to the clip.
    payload = replace(result.encoded.payload, codes=expected_codes.astype(np.int32))
    decoded = reference_codec.decode(replace(result.encoded, payload=payload))
    expected = reference[f"{name}/reconstruction"]
    assert decoded.shape == (min(clip.shape[0], expected.shape[0]),)
    np.testing.assert_allclose(decoded, expected[: clip.shape[0]], rtol=0, atol=3e-4)


def test_the_codec_converts_voices_of_clips_as_given_like_amphion(reference_codec):
    reference = np.load(REFERENCE_PATH)
    content, timbre = (prepare_audio(parity_inputs()[name], RATE, limits=AudioLimits(min_duration_s=0)) for name in ("content", "timbre"))
    converted = reference_codec.convert_voice(content, timbre)
    expected = reference["conversion"]  # 40 frames: 37 samples short of the content clip's 8,037
    assert converted.padded_samples == content.num_samples - expected.shape[0] == 37
    np.testing.assert_allclose(converted.samples, fit_length(expected, content.num_samples), rtol=0, atol=3e-4)


def test_a_clip_the_encoder_gives_no_frame_for_is_refused(reference_codec):
    assert reference_codec.num_frames(151) == 0 and reference_codec.num_frames(152) == 1
    with pytest.raises(ValueError, match=r"a clip of 9\.4 ms \(151 samples at facodec's 16000 Hz\) is too short for facodec"):
        reference_codec.encode(speech_like(0.1, RATE)[:151], RATE, reference_codec.spec.operating_point(2.4))
    assert reference_codec.encode(speech_like(0.1, RATE)[:152], RATE, reference_codec.spec.operating_point(2.4)).payload.num_frames == 1


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


def test_batched_utterances_get_the_codes_they_get_alone(tiny_dir):
    # In float64: float32 rounding differs between batch sizes, and at a near tie between two
    # codewords it could pick the other one.
    model = load_facodec(tiny_dir[0]).model.double()
    first, second = _speech(1.0, seed=4), _speech(1.0, seed=5)
    batch = model.encode(torch.cat([first, second]))
    for index, waveform in enumerate((first, second)):
        alone = model.encode(waveform)
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
    with pytest.raises(RedecoderMissingError, match=rf"no ns3_facodec_redecoder\.bin in {tmp_path}\. Put .* pass --model-dir DIR\.$"):
        model.convert_voice(encoding.codes, encoding.timbre)


# --------------------------------------------------------------------------- codec adapter


def test_operating_points_add_residual_codebooks_one_at_a_time():
    points = FACODEC_SPEC.operating_points
    assert [p.nominal_kbps for p in points] == [2.4, 3.2, 4.0, 4.8]
    assert [p.tokens_per_second for p in points] == [240, 320, 400, 480]
    assert [p.num_codebooks for p in points] == [3, 4, 5, 6]
    assert FACODEC_SPEC.operating_point(4.0) is points[2]


@pytest.mark.parametrize("kbps", [2.4, 3.2, 4.0, 4.8])
def test_codec_payload_bitrate_and_side_information(tiny_model, kbps):
    codec = FACodecCodec(tiny_model)
    point = codec.spec.operating_point(kbps)
    samples = speech_like(2.0, RATE, seed=9)
    encoded = codec.encode(samples, RATE, point)
    payload = encoded.payload
    assert isinstance(payload, FACodecPayload) and payload.codes.shape == (point.num_codebooks, 160)
    assert payload.prosody_codes.shape == (1, 160) and payload.content_codes.shape == (2, 160)
    assert payload.residual_codes.shape == (point.num_codebooks - 3, 160)
    assert [name for name, _ in payload.code_streams()] == ["prosody", "content", "residual"][: 2 + (kbps > 2.4)]
    assert encoded.measured_kbps == pytest.approx(kbps)
    # The timbre vector, float32, at every operating point: side information, not bitrate.
    assert encoded.side_info_bits == payload.side_info_bits == 16 * 32
    decoded = codec.decode(encoded)
    assert decoded.shape == samples.shape and decoded.dtype == np.float32


def test_the_published_model_sends_8192_bits_of_timbre(tiny_model):
    payload = FACodecPayload(
        codes=np.zeros((3, 10), dtype=np.int32), timbre=np.zeros(256, dtype=np.float32),
        num_prosody_codebooks=1, num_content_codebooks=2,
    )
    assert payload.side_info_bits == 8192 and payload.num_bits(10) == 300
    with pytest.raises(ValueError, match="timbre vector must be float32"):
        FACodecPayload(codes=np.zeros((3, 10), dtype=np.int32), timbre=np.zeros(256),
                       num_prosody_codebooks=1, num_content_codebooks=2)


@pytest.mark.parametrize(("num_samples", "frames", "padded"), [(16_037, 80, 37), (16_190, 81, 0), (16_000, 80, 0)])
def test_codec_keeps_the_encoders_frames_and_pads_a_short_output(tiny_model, num_samples, frames, padded):
    codec = FACodecCodec(tiny_model)
    samples = speech_like(1.2, RATE, seed=2)[:num_samples]
    result = transcode(codec, prepare_audio(samples, RATE), codec.spec.operating_point(4.8))
    assert result.encoded.payload.num_frames == frames
    assert result.padded_samples == padded and result.samples.shape == (num_samples,)
    assert np.abs(result.samples[num_samples - padded - 37 : num_samples - padded]).max() > 0
    assert not result.samples[num_samples - padded :].any()


def test_codec_decodes_from_the_payload_alone(tiny_model):
    codec = FACodecCodec(tiny_model)
    encoded = codec.encode(speech_like(1.0, RATE, seed=2), RATE, codec.spec.operating_point(3.2))
    payload = encoded.payload
    rebuilt = replace(encoded, payload=FACodecPayload(
        codes=np.array(payload.codes.tolist(), dtype=np.int64), timbre=np.array(payload.timbre.tolist(), dtype=np.float32),
        num_prosody_codebooks=1, num_content_codebooks=2,
    ))
    codes = FactorizedCodes.from_stacked(torch.from_numpy(payload.codes)[None], 1, 2)
    expected = tiny_model.decode(codes, torch.from_numpy(payload.timbre)[None])[0].numpy()
    np.testing.assert_array_equal(codec.decode(rebuilt), expected)
    np.testing.assert_array_equal(codec.decode(encoded), expected)


def test_codec_refuses_payloads_that_are_not_its_own(tiny_model):
    codec = FACodecCodec(tiny_model)
    encoded = codec.encode(speech_like(1.0, RATE, seed=2), RATE, codec.spec.operating_point(2.4))
    with pytest.raises(ValueError, match="FACodec decodes FACodec payloads"):
        codec.decode(replace(encoded, payload=TokenPayload(encoded.payload.codes)))
    wrong_timbre = replace(encoded.payload, timbre=np.zeros(8, dtype=np.float32))
    with pytest.raises(ValueError, match="the timbre vector has 8 values; this model's has 16"):
        codec.decode(replace(encoded, payload=wrong_timbre))
    other_split = replace(encoded.payload, num_prosody_codebooks=2, num_content_codebooks=1)
    with pytest.raises(ValueError, match=r"the payload's codes are 2 prosody \+ 1 content codebooks; this model's are 1 prosody \+ 2 content"):
        codec.decode(replace(encoded, payload=other_split))


def test_batches_hold_clips_of_one_padded_length_and_give_what_each_gets_alone(tiny_dir):
    # In float64: the tiny random model amplifies float32 rounding (which differs between batch
    # sizes) to about 1e-3 in its saturated output; in float64 batch and alone agree to 1e-12.
    model = load_facodec(tiny_dir[0]).model.double()
    codec = FACodecCodec(model, batch_limits=BatchLimits())  # up to 16 clips per call, as on a GPU
    lengths = [8_000, 8_000, 7_901, 12_000, 8_000]  # clips run as given: only equal lengths share a call
    clips = [speech_like(1.0, RATE, seed=i)[:n] for i, n in enumerate(lengths)]
    calls = []
    model_call = codec._encode_batch_tensor
    codec._encode_batch_tensor = lambda audio, k: calls.append(audio.shape[0]) or model_call(audio, k)
    point = codec.spec.operating_point(4.0)
    batched = codec.encode_batch(clips, RATE, point)
    del codec._encode_batch_tensor
    assert sorted(calls) == [1, 1, 3]  # the 7,901- and 12,000-sample clips alone
    alone = [codec.encode(clip, RATE, point) for clip in clips]
    for together, single in zip(batched, alone):
        np.testing.assert_array_equal(together.payload.codes, single.payload.codes)
        np.testing.assert_allclose(together.payload.timbre, single.payload.timbre, rtol=0, atol=1e-5)
    for together, single in zip(codec.decode_batch(alone), [codec.decode(e) for e in alone]):
        np.testing.assert_allclose(together, single, rtol=0, atol=1e-6)


def test_codec_voice_conversion_keeps_the_content_clips_rate_and_length(tiny_model):
    codec = FACodecCodec(tiny_model)
    assert codec.model.redecoder is not None
    content = prepare_audio(speech_like(1.2, 22_050, seed=1), 22_050)
    timbre = prepare_audio(speech_like(0.8, 16_000, seed=2), 16_000)
    converted = codec.convert_voice(content, timbre).samples
    assert converted.shape == content.samples.shape and converted.dtype == np.float32
    assert np.all(np.isfinite(converted)) and np.abs(converted).max() > 0


def test_codec_voice_conversion_speaks_the_content_with_the_timbre_clips_vector(tiny_model):
    codec = FACodecCodec(tiny_model)
    content = prepare_audio(speech_like(1.2, 22_050, seed=1), 22_050)
    timbre = prepare_audio(speech_like(0.83, 24_000, seed=2), 24_000)  # 13,280 samples at 16 kHz: not whole frames
    content_16k = resample(content.samples, 22_050, RATE)
    codes = tiny_model.encode(torch.from_numpy(content_16k)[None]).codes
    timbre_vector = tiny_model.encode(torch.from_numpy(resample(timbre.samples, 24_000, RATE))[None]).timbre
    spoken = tiny_model.convert_voice(codes, timbre_vector)[0].numpy()
    expected = fit_length(resample(fit_length(spoken, content_16k.shape[0]), RATE, 22_050), content.num_samples)

    converted = codec.convert_voice(content, timbre)
    np.testing.assert_array_equal(converted.samples, expected)
    assert converted.padded_samples == max(0, content_16k.shape[0] - spoken.shape[0])
    own_voice = codec.convert_voice(content, content).samples
    assert np.abs(converted.samples - own_voice).max() > 0.01 * np.abs(own_voice).max()


# ------------------------------------------------------------------- registry and readiness


def test_the_registry_loads_facodec_from_the_hub_cache_with_its_redecoder(tiny_models):
    from codecbench.codecs import load_codec, readiness
    from codecbench.voice_conversion import voice_conversion_readiness

    state = readiness("facodec")
    assert state.ready and state.note is None and state.describe() == "ready"
    assert voice_conversion_readiness().ready
    codec = load_codec("facodec")
    assert isinstance(codec, FACodecCodec) and codec.model.redecoder is not None
    assert codec.spec.operating_points == FACODEC_SPEC.operating_points


def test_a_model_dir_without_the_redecoder_is_ready_and_says_what_it_lacks(tmp_path, codecbench_home):
    from codecbench.codecs import LoadOptions, load_codec, readiness
    from codecbench.voice_conversion import VoiceConversionUnavailableError, convert_voice, voice_conversion_readiness

    write_tiny_facodec(tmp_path, seed=3, with_redecoder=False)
    options = LoadOptions(model_dir=tmp_path)
    state = readiness("facodec", options)
    assert state.ready
    assert state.describe() == (
        f"ready (no voice conversion: the model directory {tmp_path} has no ns3_facodec_redecoder.bin. "
        "Copy it there from https://huggingface.co/amphion/naturalspeech3_facodec.)"
    )
    assert load_codec("facodec", options).model.redecoder is None
    clip = prepare_audio(speech_like(1.0, RATE, seed=1), RATE)
    with pytest.raises(VoiceConversionUnavailableError) as raised:
        convert_voice(clip, clip, options)
    assert str(raised.value) == voice_conversion_readiness(options).reason + " Copy it there from https://huggingface.co/amphion/naturalspeech3_facodec."
    assert str(raised.value).startswith("voice conversion needs FACodec's redecoder, and the model directory")


def test_without_weights_voice_conversion_says_which_command_gets_them(codecbench_home):
    from codecbench.voice_conversion import voice_conversion_readiness

    state = voice_conversion_readiness()
    assert not state.ready
    assert state.reason == "FACodec is not ready: its weights (amphion/naturalspeech3_facodec@main) are not downloaded."
    assert state.remedy.startswith("Run `codecbench download facodec`")


def test_a_model_with_another_token_layout_is_refused_under_the_facodec_name(tmp_path, codecbench_home):
    from codecbench.codecs import LoadOptions, load_codec

    config = json.loads(json.dumps(TINY_CONFIG))
    config["decoder"]["vq_num_q_r"] = config["redecoder"]["vq_num_q_r"] = 2
    model = FACodecModel(FACodecConfig.from_dict(config))
    torch.save(upstream_state_dict(model.encoder), tmp_path / ENCODER_FILENAME)
    torch.save({**upstream_state_dict(model.decoder), **training_only_tensors()}, tmp_path / DECODER_FILENAME)
    (tmp_path / CONFIG_FILENAME).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=rf"the FACodec model in {tmp_path} runs at 2.4 kbps, 3.2 kbps, 4 kbps .* Is it the right model\?"):
        load_codec("facodec", LoadOptions(model_dir=tmp_path))


def test_a_model_with_mixed_codebook_sizes_is_refused_naming_its_directory_and_config(tmp_path, codecbench_home):
    from codecbench.codecs import LoadOptions, load_codec

    config = json.loads(json.dumps(TINY_CONFIG))
    config["decoder"]["codebook_size_residual"] = config["redecoder"]["codebook_size_residual"] = 9
    model = FACodecModel(FACodecConfig.from_dict(config))
    torch.save(upstream_state_dict(model.encoder), tmp_path / ENCODER_FILENAME)
    torch.save({**upstream_state_dict(model.decoder), **training_only_tensors()}, tmp_path / DECODER_FILENAME)
    (tmp_path / CONFIG_FILENAME).write_text(json.dumps(config))
    with pytest.raises(ValueError) as raised:
        load_codec("facodec", LoadOptions(model_dir=tmp_path))
    assert str(raised.value) == (
        f"the FACodec model in {tmp_path} (see its config.json) cannot run: FACodec operating points need one "
        "codebook size for all attributes (codebook_size_prosody, codebook_size_content, codebook_size_residual), "
        "got 2**[9, 10] entries"
    )


def test_facodec_needs_torch_but_not_transformers(monkeypatch):
    import importlib.util

    from codecbench.codecs import LoadOptions, get_entry

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else find_spec(name, *a))
    assert get_entry("facodec").check_readiness(LoadOptions()).ready
    dac = get_entry("dac_16khz").check_readiness(LoadOptions())
    assert not dac.ready and dac.reason == "transformers is not installed."


def test_the_voice_conversion_box_reports_a_file_error(tiny_models, tmp_path):
    import gradio as gr
    import soundfile

    from codecbench.app import AppSettings
    from codecbench.app.voice_conversion_box import run_voice_conversion

    clip = tmp_path / "clip.wav"
    soundfile.write(clip, speech_like(1.0, RATE, seed=5), RATE)
    not_a_directory = tmp_path / "work"
    not_a_directory.write_text("a file where the work directory should be")
    settings = AppSettings(max_duration_s=30.0, work_dir=not_a_directory)
    with pytest.raises(gr.Error) as raised:
        run_voice_conversion(settings, settings.load_options("facodec"), str(clip), str(clip))
    assert raised.value.message.startswith("Voice conversion failed: ") and str(not_a_directory) in raised.value.message


# -------------------------------------------------------------------------- code streams view


def test_the_comparison_draws_facodec_code_streams_and_nothing_for_other_codecs(tiny_models, tmp_path):
    from codecbench.code_streams import render_code_streams
    from codecbench.codecs.condition import Condition
    from codecbench.comparison import compare

    audio = prepare_audio(speech_like(1.0, 22_050, seed=4), 22_050)
    facodec, opus = compare(audio, [Condition("facodec", 3.2), Condition("opus", 6)], tmp_path)
    assert facodec.ok and opus.ok and opus.codes_path is None
    assert facodec.codes_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="the same number of frames"):
        render_code_streams([("prosody", np.zeros((1, 5), dtype=np.int32)), ("content", np.zeros((2, 4), dtype=np.int32))],
                            80.0, 1024, tmp_path / "x.png")
