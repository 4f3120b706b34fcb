"""Neural codecs on tiny random checkpoints, loaded from the Hub cache the way users load them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecbench.audio import prepare_audio
from codecbench.codecs import CodecNotReadyError, LoadOptions, TokenPayload, get_entry, load_codec, readiness, registry_entries, transcode
from codecbench.codecs.base import EncodedAudio
from codecbench.synthetic import speech_like

HUB_CODECS = [entry.name for entry in registry_entries() if entry.weights is not None and entry.weights.hub is not None]


def _clip(num_samples: int, sample_rate: int, seed: int = 0) -> np.ndarray:
    return speech_like(num_samples / sample_rate + 0.01, sample_rate, seed=seed)[:num_samples]


def test_the_issue_codecs_are_registered():
    assert {"encodec_24khz", "funcodec_en_libritts_16k_nq32ds640", "funcodec_en_libritts_16k_nq32ds320",
            "funcodec_zh_en_general_16k_nq32ds640", "funcodec_zh_en_general_16k_nq32ds320",
            "dac_16khz", "dac_24khz", "dac_44khz", "facodec", "freqcodec_magphase_en_libritts_16k_gr8nq32ds320",
            "freqcodec_magphase_en_libritts_16k_gr1nq32ds320"} == set(HUB_CODECS)


@pytest.mark.parametrize(
    ("name", "frame_rate", "kbps"),
    [
        ("encodec_24khz", 75, [1.5, 3, 6, 12, 24]),
        ("funcodec_en_libritts_16k_nq32ds640", 25, [0.25, 0.5, 1, 2, 4, 8]),
        ("funcodec_zh_en_general_16k_nq32ds320", 50, [0.5, 1, 2, 4, 8, 16]),
        ("freqcodec_magphase_en_libritts_16k_gr8nq32ds320", 50, [0.5, 1, 2, 4, 8, 16]),
        ("dac_16khz", 50, [1, 2, 3, 4, 6]),
        ("dac_44khz", 44_100 / 512, [1.72265625, 3.4453125, 5.16796875, 7.751953125]),
    ],
)
def test_operating_points_carry_frame_rate_codebooks_and_tokens_per_second(name, frame_rate, kbps):
    points = get_entry(name).spec.operating_points
    assert [p.nominal_kbps for p in points] == pytest.approx(kbps)
    for point in points:
        assert point.frame_rate_hz == pytest.approx(frame_rate) and point.codebook_size == 1024
        assert point.tokens_per_second == pytest.approx(point.num_codebooks * frame_rate)
        assert point.nominal_kbps == pytest.approx(point.tokens_per_second * 10 / 1000)
    # FunCodec's 1 kbps is 4 quantizers = 100 tokens/s; a bitrate matches a label's two decimals.
    if name == "funcodec_en_libritts_16k_nq32ds640":
        assert get_entry(name).spec.operating_point(1).tokens_per_second == 100
    if name == "dac_44khz":
        assert get_entry(name).spec.operating_point(7.75).num_codebooks == 9


@pytest.mark.parametrize("name", HUB_CODECS)
def test_codes_have_one_row_per_codebook_and_measured_kbps_is_nominal(name, tiny_models):
    codec = load_codec(name)
    rate = codec.spec.sample_rate_hz
    clip = _clip(7 * codec.hop_length, rate)  # seven whole frames
    duration_s = clip.shape[0] / rate
    # FreqCodec's centred STFT has 1 + 14 frames for 7 hops of 320, hence 8 code frames.
    frames = 8 if name.startswith("freqcodec") else 7
    for point in codec.spec.operating_points:
        encoded = codec.encode(clip, rate, point)
        payload = encoded.payload
        assert isinstance(payload, TokenPayload)
        assert payload.codes.shape == (point.num_codebooks, frames)
        assert payload.codes.min() >= 0 and payload.codes.max() < 1024
        assert payload.num_frames / duration_s == pytest.approx(point.frame_rate_hz * frames / 7)
        assert encoded.payload_bits == point.num_codebooks * frames * 10
        assert encoded.measured_kbps == pytest.approx(point.nominal_kbps * frames / 7, rel=1e-12)
        # FunCodec's and FreqCodec's models send their loudness scale once per clip, FACodec its
        # timbre vector (16 values in the tiny model), as side information.
        expected_side_info_bits = 32 if name.startswith(("funcodec", "freqcodec")) else 16 * 32 if name == "facodec" else 0
        assert encoded.side_info_bits == payload.side_info_bits == expected_side_info_bits
        assert (payload.scale is not None) == name.startswith(("funcodec", "freqcodec"))


@pytest.mark.parametrize("name", [name for name in HUB_CODECS if name != "facodec"])
def test_a_partial_last_frame_costs_a_whole_frame(name, tiny_models):
    codec = load_codec(name)
    rate, hop = codec.spec.sample_rate_hz, codec.hop_length
    point = codec.spec.operating_points[-1]
    encoded = codec.encode(_clip(5 * hop + 1, rate), rate, point)
    assert encoded.payload.num_frames == 6


def test_facodec_frames_are_its_encoders_not_the_samples_begun(tiny_models):
    """Upstream's strided convolutions give 5 frames for 5 hops + 1 sample (the output is then 1
    sample short and padded), and 6 from 5 hops + 152."""
    codec = load_codec("facodec")
    rate, hop, point = 16_000, codec.hop_length, codec.spec.operating_points[-1]
    for extra, frames in ((1, 5), (151, 5), (152, 6)):
        assert codec.encode(_clip(5 * hop + extra, rate), rate, point).payload.num_frames == frames


@pytest.mark.parametrize("name", HUB_CODECS)
@pytest.mark.parametrize("input_rate", [16_000, 44_100])
def test_output_has_the_input_rate_and_length(name, input_rate, tiny_models):
    codec = load_codec(name)
    audio = prepare_audio(speech_like(1.3, input_rate, seed=2), input_rate)
    for point in (codec.spec.operating_points[0], codec.spec.operating_points[-1]):
        result = transcode(codec, audio, point)
        assert result.sample_rate_hz == input_rate and result.codec_sample_rate_hz == codec.spec.sample_rate_hz
        assert result.samples.shape == audio.samples.shape and result.samples.dtype == np.float32
        assert np.all(np.isfinite(result.samples)) and np.any(result.samples != 0)
        assert result.summary()["tokens_per_second"] == point.tokens_per_second


def _lengths(hop: int) -> list[int]:
    # Equal lengths (batched together by every codec), lengths in one frame count, and odd ones.
    return [20 * hop, 20 * hop, 9 * hop + 17, 9 * hop + 17, 9 * hop + 200, 31 * hop - 5, 3 * hop]


@pytest.fixture
def batching_as_on_a_gpu(monkeypatch):
    """Codecs loaded in the test batch up to 16 clips per call, as they do on a GPU (on the CPU: 1)."""
    from codecbench.codecs.token_codec import BatchLimits

    monkeypatch.setattr(BatchLimits, "for_device", classmethod(lambda cls, device: cls()))


def test_on_the_cpu_clips_go_one_per_call_and_on_a_gpu_sixteen():
    from codecbench.codecs.token_codec import BatchLimits

    assert BatchLimits.for_device("cpu").max_clips == 1
    assert BatchLimits.for_device("cuda").max_clips == BatchLimits.for_device("cuda:1").max_clips == 16


# In float64: float32 rounding differs between batch sizes (and CPUs), and at a near tie between
# two codewords it may pick the other one; in float64 batch and alone agree to about 1e-15.
# FACodec's tiny random model amplifies rounding to 1e-4 of its output; tests/test_facodec.py
# checks its batches.
@pytest.mark.parametrize("name", [name for name in HUB_CODECS if name != "facodec"])
def test_batched_and_one_by_one_give_the_same_codes_and_audio(name, tiny_models, batching_as_on_a_gpu):
    codec = load_codec(name)
    codec.model.double()
    assert codec.batch_limits.max_clips == 16
    rate = codec.spec.sample_rate_hz
    clips = [_clip(n, rate, seed=i) for i, n in enumerate(_lengths(codec.hop_length))]
    point = codec.spec.operating_points[2]
    batched = codec.encode_batch(clips, rate, point)
    alone = [codec.encode(clip, rate, point) for clip in clips]
    for together, single in zip(batched, alone):
        np.testing.assert_array_equal(together.payload.codes, single.payload.codes)
        assert together.payload.scale == single.payload.scale
        assert together.num_samples == single.num_samples
    for together, single in zip(codec.decode_batch(alone), [codec.decode(e) for e in alone]):
        np.testing.assert_allclose(together, single, rtol=0, atol=1e-5 * max(1e-6, np.abs(single).max()))


@pytest.mark.parametrize(
    ("name", "encode_calls"),
    [
        ("encodec_24khz", 4),  # causal: similar lengths padded together; the 3-frame clip (under 7 frames) alone
        ("funcodec_en_libritts_16k_nq32ds640", 5),  # whole-clip normalisation: only equal lengths share a call
        ("dac_16khz", 4),  # non-causal, padded to whole frames: equal frame counts share a call
        ("freqcodec_magphase_en_libritts_16k_gr1nq32ds320", 5),  # whole-clip normalisation, unpadded: equal lengths
    ],
)
def test_batching_groups_clips_as_far_as_results_allow(name, encode_calls, tiny_models, batching_as_on_a_gpu):
    codec = load_codec(name)
    calls = []
    model_call = codec._encode_batch_tensor

    def counting(audio, num_codebooks):
        calls.append(audio.shape[0])
        return model_call(audio, num_codebooks)

    codec._encode_batch_tensor = counting
    try:
        lengths = _lengths(codec.hop_length)
        codec.encode_batch([_clip(n, codec.spec.sample_rate_hz) for n in lengths], codec.spec.sample_rate_hz, codec.spec.operating_points[0])
    finally:
        del codec._encode_batch_tensor
    assert len(calls) == encode_calls and sum(calls) == len(lengths)


def test_batches_respect_their_limits(tiny_models):
    from codecbench.codecs.token_codec import BatchLimits

    codec = load_codec("encodec_24khz")
    lengths = [24_000, 24_000, 24_000, 48_000, 96_000, 300_000, 26_000]
    try:
        # At most 2 clips and 240k padded samples per call; 50 % padding allowed.
        codec.batch_limits = BatchLimits(max_clips=2, max_samples=10 * 24_000, max_padding=0.5)
        assert codec._groups(lengths) == [[0, 1], [2, 6], [3, 4], [5]]
        # 10 % padding: 4 x 26k padded for 98k real fits; 48k next to them would not.
        codec.batch_limits = BatchLimits(max_padding=0.1)
        assert codec._groups(lengths) == [[0, 1, 2, 6], [3], [4], [5]]
    finally:
        codec.batch_limits = BatchLimits.for_device(codec.device)


@pytest.mark.parametrize(
    "name", ["encodec_24khz", "funcodec_zh_en_general_16k_nq32ds640", "dac_24khz", "freqcodec_magphase_en_libritts_16k_gr8nq32ds320"]
)
def test_decoding_uses_only_the_payload(name, tiny_models):
    codec = load_codec(name)
    rate = codec.spec.sample_rate_hz
    encoded = codec.encode(_clip(rate, rate), rate, codec.spec.operating_points[1])
    payload = encoded.payload
    rebuilt = EncodedAudio(
        payload=TokenPayload(np.array(payload.codes.tolist(), dtype=np.int64), None if payload.scale is None else float(payload.scale)),
        payload_bits=encoded.payload_bits,
        num_samples=encoded.num_samples,
        sample_rate_hz=encoded.sample_rate_hz,
        operating_point=encoded.operating_point,
    )
    np.testing.assert_array_equal(codec.decode(rebuilt), codec.decode(encoded))


def test_a_payload_that_does_not_fit_the_operating_point_is_refused(tiny_models):
    codec = load_codec("encodec_24khz")
    encoded = codec.encode(_clip(24_000, 24_000), 24_000, codec.spec.operating_point(6))
    wrong = EncodedAudio(TokenPayload(encoded.payload.codes[:4]), 0, encoded.num_samples, 24_000, encoded.operating_point)
    with pytest.raises(ValueError, match="payload has 4 codebooks but 6 kbps uses 8"):
        codec.decode(wrong)
    with pytest.raises(ValueError, match="encodec_24khz encodes at 24000 Hz, not 16000 Hz"):
        codec.encode(_clip(16_000, 16_000), 16_000, codec.spec.operating_point(6))


def test_each_codec_is_loaded_once_per_process_and_options(tiny_models, tmp_path):
    from tests.checkpoints import save_tiny_encodec_24khz

    first = load_codec("encodec_24khz")
    assert load_codec("encodec_24khz", LoadOptions(device="cpu")) is first
    local = load_codec("encodec_24khz", LoadOptions(model_dir=save_tiny_encodec_24khz(tmp_path / "local", seed=3)))
    assert local is not first
    assert load_codec("encodec_24khz", LoadOptions(model_dir=tmp_path / "local")) is local


def test_a_named_codec_loads_a_local_model_dir_without_the_cache(codecbench_home, tmp_path):
    from tests.checkpoints import save_tiny_encodec_24khz

    model_dir = save_tiny_encodec_24khz(tmp_path / "mine")
    assert not readiness("encodec_24khz").ready
    codec = load_codec("encodec_24khz", LoadOptions(model_dir=model_dir))
    assert codec.encode(_clip(24_000, 24_000), 24_000, codec.spec.operating_point(1.5)).payload.codes.shape == (2, 75)


def test_the_encodec_entry_takes_any_encodec_model_dir(codecbench_home, tmp_path):
    from transformers import EncodecConfig, EncodecModel

    model_dir = tmp_path / "encodec16k"
    config = EncodecConfig(sampling_rate=16_000, hidden_size=8, num_filters=4, target_bandwidths=[0.8, 1.6, 3.2],
                           upsampling_ratios=[8, 5, 4, 2], codebook_size=256)
    EncodecModel(config).save_pretrained(model_dir)
    codec = load_codec("encodec", LoadOptions(model_dir=model_dir))
    assert codec.spec.sample_rate_hz == 16_000
    assert [(p.num_codebooks, p.nominal_kbps) for p in codec.spec.operating_points] == [(2, 0.8), (4, 1.6), (8, 3.2)]
    encoded = codec.encode(_clip(16_000, 16_000), 16_000, codec.spec.operating_point(3.2))
    assert encoded.payload.codes.shape == (8, 50) and encoded.payload_bits == 8 * 50 * 8


def test_a_stereo_encodec_model_is_refused(codecbench_home, tmp_path):
    from transformers import EncodecConfig, EncodecModel

    model_dir = tmp_path / "stereo"
    EncodecModel(EncodecConfig(audio_channels=2, hidden_size=8, num_filters=4)).save_pretrained(model_dir)
    with pytest.raises(ValueError, match="has 2 channels; codecbench runs mono models"):
        load_codec("encodec", LoadOptions(model_dir=model_dir))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_says_so(tiny_models):
    state = readiness("encodec_24khz", LoadOptions(device="cuda"))
    assert not state.ready and "sees no CUDA GPU" in state.reason and "--device cpu" in state.remedy
    with pytest.raises(CodecNotReadyError, match="codec encodec_24khz is not ready: --device cuda was asked for"):
        load_codec("encodec_24khz", LoadOptions(device="cuda"))
    assert readiness("opus", LoadOptions(device="cuda")).ready  # classical codecs run on the CPU anyway


def test_a_device_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="device 'gpu' is not one of cpu, cuda, cuda:N"):
        LoadOptions(device="gpu")
    assert LoadOptions(device="cuda:1").device == "cuda:1"


def test_token_payloads_count_their_bits():
    payload = TokenPayload(np.zeros((4, 25), dtype=np.int16), scale=0.1)
    assert payload.num_bits(10) == 4 * 25 * 10
    assert payload.side_info_bits == 32
    assert TokenPayload(np.zeros((4, 25), dtype=np.int16)).side_info_bits == 0
    with pytest.raises(ValueError, match="integer array"):
        TokenPayload(np.zeros((4, 25), dtype=np.float32))
    assert math.isclose(get_entry("encodec_24khz").spec.operating_point(24).tokens_per_second, 2400)


def test_threads_asking_together_load_a_model_once(tiny_models, monkeypatch):
    import dataclasses
    import time
    from concurrent.futures import ThreadPoolExecutor

    from codecbench.codecs import registry

    entry = registry._ENTRIES["encodec_24khz"]
    loads = []

    def slow_load(options):
        loads.append(options)
        time.sleep(0.2)
        return entry.load(options)

    monkeypatch.setitem(registry._ENTRIES, "encodec_24khz", dataclasses.replace(entry, load=slow_load))
    with ThreadPoolExecutor(4) as pool:
        codecs = list(pool.map(lambda _: load_codec("encodec_24khz"), range(4)))
    assert len(loads) == 1 and all(codec is codecs[0] for codec in codecs)


def test_a_corrupt_weight_file_gets_a_message_naming_the_directory(codecbench_home, tmp_path):
    from tests.checkpoints import save_tiny_encodec_24khz

    model_dir = save_tiny_encodec_24khz(tmp_path / "broken")
    (model_dir / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=f"cannot load the EnCodec model in {model_dir}"):
        load_codec("encodec_24khz", LoadOptions(model_dir=model_dir))
