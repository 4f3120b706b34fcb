"""FunCodec EnCodec-type models: config, weight conversion, its cache, and parity with FunCodec's own code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from codecbench.codecs import LoadOptions, TokenPayload, codec_spec, load_codec
from codecbench.codecs.funcodec_format import FunCodecConfig, convert_state_dict
from codecbench.synthetic import speech_like
from tests.checkpoints import funcodec_config, funcodec_state_dict, save_funcodec_model
from tests.reference_codes import assert_codes_match

REFERENCE_PATH = Path(__file__).parent / "data" / "funcodec_reference.npz"


@dataclass(frozen=True)
class ParityCase:
    """A tiny FunCodec model and the bit widths its reference outputs were made at."""

    name: str
    config: dict[str, Any]
    seed: int
    bit_widths: tuple[int, ...]
    num_samples: int
    rms: float


PARITY_CASES = (
    # The published models' layout: ds640, GroupNorm over time, 32 codebooks of 1024.
    ParityCase("ds640_time_group_norm", funcodec_config(), seed=1, bit_widths=(250, 1000, 8000), num_samples=6403, rms=0.03),
    # Another FunCodec variant through the same conversion: ds320, causal, weight norm, 8 x 256.
    ParityCase(
        "ds320_causal_weight_norm",
        funcodec_config(ratios=(8, 5, 4, 2), norm="weight_norm", causal=True, codebook_size=256, num_quantizers=8),
        seed=2, bit_widths=(400, 3200), num_samples=5111, rms=0.2,
    ),
)


def parity_input(case: ParityCase) -> np.ndarray:
    """The clip a reference was made from: not a whole number of frames, at a set RMS."""
    clip = speech_like(1.0, 16_000, seed=case.seed)[: case.num_samples].astype(np.float64)
    return (clip * case.rms / np.sqrt(np.mean(clip**2))).astype(np.float32)


# ------------------------------------------------------------------------------- parity


@pytest.mark.parametrize("case", PARITY_CASES, ids=lambda case: case.name)
def test_codes_and_waveform_equal_funcodec_own_inference(case, tmp_path, codecbench_home):
    # tests/data/funcodec_reference.npz holds FunCodec's Encodec.inference(bit_width=..., use_scale=True)
    # outputs for these checkpoints and each code's margin (see tests/tools/make_funcodec_reference.py
    # and tests/reference_codes.py). Waveforms: measured difference 0.0 with 1 and 2 torch threads
    # on the machine that made the reference; 1e-5 of the peak leaves room for other CPUs' kernels.
    reference = np.load(REFERENCE_PATH)
    speech = reference[f"{case.name}/input"]
    np.testing.assert_array_equal(speech, parity_input(case))
    codec = load_codec("funcodec", LoadOptions(model_dir=save_funcodec_model(tmp_path / case.name, case.config, case.seed)))
    for bit_width in case.bit_widths:
        key = f"{case.name}/{bit_width}"
        encoded = codec.encode(speech, 16_000, codec.spec.operating_point(bit_width / 1000))
        assert_codes_match(encoded.payload.codes, reference[f"{key}/codes"], reference[f"{key}/margins"])
        # The decoder is checked on FunCodec's own codes, whatever a near tie did above.
        payload = TokenPayload(reference[f"{key}/codes"].astype(np.int32), encoded.payload.scale)
        expected = reference[f"{key}/waveform"]
        decoded = codec.decode(dataclasses.replace(encoded, payload=payload))
        assert decoded.shape == expected.shape == speech.shape
        np.testing.assert_allclose(decoded, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_the_loudness_scale_is_sent_and_multiplied_back(tmp_path, codecbench_home):
    codec = load_codec("funcodec", LoadOptions(model_dir=save_funcodec_model(tmp_path / "model")))
    speech = parity_input(PARITY_CASES[0])
    point = codec.spec.operating_point(1)
    encoded = codec.encode(speech, 16_000, point)
    assert encoded.payload.scale == pytest.approx(np.sqrt(np.mean(speech.astype(np.float64) ** 2)) + 1e-8, rel=1e-5)
    # The decoder output is the scale times the decoded unit-level signal.
    doubled = dataclasses.replace(encoded, payload=TokenPayload(encoded.payload.codes, 2 * encoded.payload.scale))
    np.testing.assert_allclose(codec.decode(doubled), 2 * codec.decode(encoded), rtol=1e-5, atol=1e-7)
    # 4 quantizers x 11 frames x 10 bits; the 32-bit scale is side information.
    assert encoded.payload_bits == 4 * 11 * 10
    assert encoded.side_info_bits == 32


# ------------------------------------------------------------------------------- config


def _write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_config_maps_to_the_encodec_layout(tmp_path):
    config = FunCodecConfig.from_yaml(_write_config(tmp_path, funcodec_config()))
    assert (config.hop_length, config.frame_rate_hz, config.num_quantizers) == (640, 25.0, 32)
    assert config.codebook_counts() == (1, 2, 4, 8, 16, 32)
    encodec = config.encodec_config()
    assert encodec.upsampling_ratios == [8, 5, 4, 2, 2]
    assert (encodec.norm_type, encodec.use_causal_conv, encodec.normalize) == ("time_group_norm", False, True)
    assert encodec.target_bandwidths == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert encodec.num_quantizers == 32 and encodec.frame_rate == 25


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_conf": {"segment_dur": 1.0}}, r"model_conf\.segment_dur is 1\.0; .* with model_conf\.segment_dur None \(codecbench runs models that encode whole clips\)"),
        ({"encoder_conf": {"norm": "layer_norm"}}, r"encoder_conf\.norm is 'layer_norm'; .* 'time_group_norm' or 'weight_norm'"),
        ({"decoder_conf": {"ratios": [8, 5, 4, 2]}}, r"decoder_conf\.ratios is \[8, 5, 4, 2\]; .*must equal encoder_conf's"),
        ({"quantizer_conf": {"encoder_hop_length": 320}}, r"quantizer_conf\.encoder_hop_length is 320; .* 640 \(must equal the product"),
        ({"encoder_conf": {"seq_model": "transformer"}}, r"encoder_conf\.seq_model is 'transformer'"),
        ({"model": "soundstream"}, r"model is 'soundstream'; .* with model 'encodec'"),
        ({"model": "freq_codec"}, r"describes a FreqCodec model: load it with the freqcodec codec"),
    ],
)
def test_config_settings_encodec_cannot_run_are_refused_by_name(tmp_path, change, message):
    config = funcodec_config()
    for section, values in change.items():
        if isinstance(values, dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    with pytest.raises(ValueError, match=message):
        FunCodecConfig.from_yaml(_write_config(tmp_path, config))


def test_a_config_without_segment_dur_gets_funcodec_default_of_one_second_chunks(tmp_path):
    config = funcodec_config()
    del config["model_conf"]["segment_dur"]
    with pytest.raises(ValueError, match=r"segment_dur is 1\.0"):
        FunCodecConfig.from_yaml(_write_config(tmp_path, config))


def test_a_file_that_is_not_a_config_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="is not a FunCodec config.yaml"):
        FunCodecConfig.from_yaml(path)


# ---------------------------------------------------------------------------- conversion


def test_conversion_renames_every_key_and_drops_only_training_modules():
    state = funcodec_state_dict(funcodec_config())
    converted = convert_state_dict(state)
    assert set(converted.dropped_training_keys) == {k for k in state if k.startswith(("discriminator.", "mel_spec_transforms."))}
    keys = set(converted.state_dict)
    assert "encoder.layers.0.conv.weight" in keys and "encoder.layers.0.norm.weight" in keys
    assert "encoder.layers.1.block.1.conv.weight" in keys and "encoder.layers.1.shortcut.norm.bias" in keys
    assert "decoder.layers.3.conv.weight" in keys and "decoder.layers.3.norm.weight" in keys  # a transposed conv
    assert "encoder.layers.16.lstm.weight_hh_l1" in keys
    torch.testing.assert_close(converted.state_dict["quantizer.layers.5.codebook.embed"], state["quantizer.rq.model.embed"][5])
    assert not any(k.startswith("quantizer.rq") for k in keys)


def test_unknown_keys_are_named_not_dropped():
    state = funcodec_state_dict(funcodec_config())
    state["context_model.linear.weight"] = torch.zeros(2)
    with pytest.raises(ValueError, match="keys no FunCodec EnCodec-type model has: context_model.linear.weight"):
        convert_state_dict(state)


def test_weights_that_do_not_fit_the_config_are_refused_with_the_tensor(tmp_path, codecbench_home):
    model_dir = save_funcodec_model(tmp_path / "model")
    config = yaml.safe_load((model_dir / "config.yaml").read_text())
    config["encoder_conf"]["n_filters"] = config["decoder_conf"]["n_filters"] = 4
    (model_dir / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=r"model.pth does not fit the model its configuration describes \(.*decoder\.model\.0\.conv\.conv\.weight \(64, 8, 7\) \(model \(128, 8, 7\)\)"):
        load_codec("funcodec", LoadOptions(model_dir=model_dir))


def test_conversion_happens_once_and_again_when_the_model_changes(tmp_path, codecbench_home):
    from codecbench.codecs.registry import load_codec as cached_load

    model_dir = save_funcodec_model(tmp_path / "model")
    load_codec("funcodec", LoadOptions(model_dir=model_dir))
    (converted,) = (codecbench_home / "converted" / "funcodec").iterdir()
    written = (converted / "model.safetensors").stat().st_mtime_ns
    cached_load.cache_clear()
    load_codec("funcodec", LoadOptions(model_dir=model_dir))
    assert [p.name for p in (codecbench_home / "converted" / "funcodec").iterdir()] == [converted.name]
    assert (converted / "model.safetensors").stat().st_mtime_ns == written

    save_funcodec_model(model_dir, seed=5)  # new weights in the same place
    cached_load.cache_clear()
    load_codec("funcodec", LoadOptions(model_dir=model_dir))
    assert len(list((codecbench_home / "converted" / "funcodec").iterdir())) == 2


# -------------------------------------------------------------------------- entries


def test_the_generic_entry_takes_its_operating_points_from_the_model(tmp_path, codecbench_home):
    model_dir = save_funcodec_model(tmp_path / "model", funcodec_config(ratios=(8, 5, 4, 2), codebook_size=256, num_quantizers=12))
    spec = codec_spec("funcodec", LoadOptions(model_dir=model_dir))
    assert spec.sample_rate_hz == 16_000
    assert [(p.num_codebooks, p.nominal_kbps, p.tokens_per_second) for p in spec.operating_points] == [
        (1, 0.4, 50), (2, 0.8, 100), (4, 1.6, 200), (8, 3.2, 400), (12, 4.8, 600),
    ]
    assert load_codec("funcodec", LoadOptions(model_dir=model_dir)).spec == spec


def test_a_named_entry_refuses_a_model_with_other_tokens(tmp_path, codecbench_home):
    ds320 = save_funcodec_model(tmp_path / "ds320", funcodec_config(ratios=(8, 5, 4, 2)))
    with pytest.raises(ValueError, match=r"at 50 frames/s, but funcodec_en_libritts_16k_nq32ds640 runs 0\.25 kbps .* at 25 frames/s"):
        load_codec("funcodec_en_libritts_16k_nq32ds640", LoadOptions(model_dir=ds320))
