"""Codecs: registry, operating points, and each codec's length, alignment and measured bitrate."""

from __future__ import annotations

import numpy as np
import pytest

from codecbench.audio import (
    estimate_delay_samples,
    estimate_envelope_delay_samples,
    prepare_audio,
    rms_dbfs,
)
from codecbench.codecs import (
    CodecNotReadyError,
    EncodedAudio,
    OperatingPoint,
    get_entry,
    load_codec,
    readiness,
    registry_entries,
    transcode,
)
from codecbench.codecs import registry as registry_module
from codecbench.codecs.anchors import AnchorMask, lowpass
from codecbench.synthetic import speech_like

ONE_MS = 0.001


def _speech(sample_rate: int, seconds: float = 4.0, seed: int = 3):
    return prepare_audio(speech_like(seconds, sample_rate, seed=seed), sample_rate)


# ---------------------------------------------------------------------------------- registry


def test_registry_lists_the_classical_codecs_and_both_anchors_all_ready():
    names = [entry.name for entry in registry_entries()]
    assert names[:4] == ["opus", "codec2", "lowpass_3500", "lowpass_7000"]
    for name in names[:4]:
        assert readiness(name).ready, readiness(name).describe()


def test_unknown_codec_names_close_matches_and_lists_all():
    with pytest.raises(ValueError, match=r"unknown codec 'opsu'\. Did you mean opus\?.*Known codecs: opus, codec2"):
        get_entry("opsu")


def test_a_failing_readiness_check_is_reported_and_blocks_loading(monkeypatch):
    entry = registry_module._ENTRIES["codec2"]

    def broken_check(options):
        raise OSError("libcodec2.so: cannot open shared object file")

    monkeypatch.setitem(registry_module._ENTRIES, "codec2", registry_module.RegistryEntry(entry.spec, entry.load, broken_check))
    registry_module.load_codec.cache_clear()
    try:
        state = readiness("codec2")
        assert not state.ready
        assert "libcodec2.so: cannot open shared object file" in state.describe()
        with pytest.raises(CodecNotReadyError, match="codec codec2 is not ready: its readiness check failed"):
            load_codec("codec2")
    finally:
        registry_module.load_codec.cache_clear()


def test_opus_readiness_says_how_to_fix_a_pyav_without_libopus(monkeypatch):
    import av

    from codecbench.codecs.opus import opus_readiness

    def no_such_codec(name, mode):
        raise av.codec.codec.UnknownCodecError(name)

    monkeypatch.setattr(av.codec, "Codec", no_such_codec)
    state = opus_readiness()
    assert not state.ready
    assert "no libopus encoder" in state.reason
    assert "pip install --force-reinstall av" in state.remedy


# ---------------------------------------------------------------------------- operating points


def test_opus_accepts_listed_and_unlisted_valid_bitrates():
    spec = get_entry("opus").spec
    assert spec.operating_point(6).label == "6 kbps"
    assert spec.operating_point(7.5) == OperatingPoint(label="7.5 kbps", nominal_kbps=7.5)
    with pytest.raises(ValueError, match=r"opus does not run at 4 kbps; choose one of 6, 8, 12, 16, 24, or any value from 6 to 510 kbps"):
        spec.operating_point(4)
    with pytest.raises(ValueError, match="opus needs a bitrate"):
        spec.operating_point(None)


def test_codec2_accepts_only_its_modes():
    spec = get_entry("codec2").spec
    assert spec.operating_point(0.7).label == "700C"
    assert spec.operating_point(1.2).label == "1200"
    with pytest.raises(ValueError, match=r"codec2 does not run at 2 kbps; choose one of 0\.7 \(700C\), 1\.2 \(1200\)"):
        spec.operating_point(2)


def test_anchors_take_no_bitrate():
    spec = get_entry("lowpass_3500").spec
    assert spec.operating_point(None).label == "3.5 kHz"
    with pytest.raises(ValueError, match="lowpass_3500 has no bitrate setting; leave out -b/--bitrate"):
        spec.operating_point(6)


def test_token_operating_points_report_tokens_per_second():
    point = OperatingPoint("1 kbps", 1.0, frame_rate_hz=25.0, num_codebooks=4, codebook_size=1024)
    assert point.tokens_per_second == 100.0
    assert point.bits_per_token == 10
    with pytest.raises(ValueError, match="must be given together"):
        OperatingPoint("x", 1.0, frame_rate_hz=25.0)


# ------------------------------------------------------------------------------- every codec

# Codecs without weights; neural codecs are tested on tiny checkpoints in test_neural_codecs.py.
ALL_CONDITIONS = [
    (entry.name, point.nominal_kbps)
    for entry in registry_entries()
    if entry.weights is None
    for point in entry.spec.operating_points
]


@pytest.mark.parametrize("sample_rate", [8_000, 16_000, 44_100, 48_000])
@pytest.mark.parametrize(("name", "kbps"), ALL_CONDITIONS)
def test_output_has_the_input_rate_and_length(name, kbps, sample_rate):
    audio = _speech(sample_rate, seconds=1.3)
    codec = load_codec(name)
    result = transcode(codec, audio, codec.spec.operating_point(kbps))
    assert result.sample_rate_hz == sample_rate
    assert result.samples.shape == audio.samples.shape
    assert result.samples.dtype == np.float32
    assert np.all(np.isfinite(result.samples))
    assert np.max(np.abs(result.samples)) > 0.01  # not silence


@pytest.mark.parametrize("sample_rate", [16_000, 48_000])
@pytest.mark.parametrize("kbps", [6, 8, 12, 16, 24])
def test_opus_output_is_aligned_with_the_input(kbps, sample_rate):
    audio = _speech(sample_rate)
    codec = load_codec("opus")
    result = transcode(codec, audio, codec.spec.operating_point(kbps))
    lag = estimate_delay_samples(audio.samples, result.samples, max_delay_samples=sample_rate // 20)
    assert abs(lag) <= ONE_MS * sample_rate


@pytest.mark.parametrize("sample_rate", [8_000, 16_000])
@pytest.mark.parametrize("kbps", [0.7, 1.2, 1.3, 1.4, 1.6, 2.4, 3.2])
def test_codec2_delay_is_compensated(kbps, sample_rate):
    # Codec 2 synthesises its own phase, so alignment is judged on spectral envelopes,
    # summed over three clips to average out the vocoder's frame-by-frame jitter.
    codec = load_codec("codec2")
    lags = []
    for seed in (1, 2, 3):
        audio = _speech(sample_rate, seed=seed)
        result = transcode(codec, audio, codec.spec.operating_point(kbps))
        lags.append(estimate_envelope_delay_samples(audio.samples, result.samples, sample_rate, max_delay_samples=sample_rate // 20))
    assert abs(np.median(lags)) <= ONE_MS * sample_rate, lags


@pytest.mark.parametrize("name", ["lowpass_3500", "lowpass_7000"])
@pytest.mark.parametrize("sample_rate", [16_000, 48_000])
def test_anchors_are_zero_phase(name, sample_rate):
    audio = _speech(sample_rate)
    codec = load_codec(name)
    result = transcode(codec, audio, codec.spec.operating_point(None))
    assert estimate_delay_samples(audio.samples, result.samples, max_delay_samples=sample_rate // 20) == 0
    assert result.delay_samples == 0


@pytest.mark.parametrize("kbps", [8, 12, 16, 24])
def test_opus_measured_bitrate_is_within_15_percent_of_nominal(kbps):
    audio = _speech(16_000, seconds=8.0)
    codec = load_codec("opus")
    result = transcode(codec, audio, codec.spec.operating_point(kbps))
    assert result.measured_kbps == pytest.approx(kbps, rel=0.15)


def test_opus_bitrate_is_measured_from_the_packets_not_copied():
    codec = load_codec("opus")
    audio = _speech(16_000)
    low = transcode(codec, audio, codec.spec.operating_point(6)).measured_kbps
    high = transcode(codec, audio, codec.spec.operating_point(24)).measured_kbps
    assert low != 6 and high != 24 and high > 3 * low


@pytest.mark.parametrize("kbps", [0.7, 1.2, 1.3, 1.4, 1.6, 2.4, 3.2])
def test_codec2_bitstream_is_packed_to_its_nominal_rate(kbps):
    codec = load_codec("codec2")
    audio = _speech(8_000, seconds=8.0)
    encoded = codec.encode(audio.samples, 8_000, codec.spec.operating_point(kbps))
    # Bits are packed back to back; only the frames that flush the decoder delay add to the rate.
    assert encoded.measured_kbps == pytest.approx(kbps, rel=0.02)
    assert len(encoded.payload) == -(-encoded.payload_bits // 8)


def _rebuilt_from_bytes(encoded: EncodedAudio) -> EncodedAudio:
    return EncodedAudio(
        payload=bytes(encoded.payload),
        payload_bits=encoded.payload_bits,
        num_samples=encoded.num_samples,
        sample_rate_hz=encoded.sample_rate_hz,
        operating_point=encoded.operating_point,
    )


def test_opus_decodes_from_the_payload_alone_bit_exactly():
    codec = load_codec("opus")
    audio = _speech(16_000)
    encoded = codec.encode(audio.samples, 16_000, codec.spec.operating_point(12))
    np.testing.assert_array_equal(codec.decode(_rebuilt_from_bytes(encoded)), codec.decode(encoded))


def test_codec2_decodes_from_the_payload_alone():
    # libcodec2 draws unvoiced excitation phases from a process-wide random generator, so two
    # decodes of one payload differ sample by sample; their level and envelope must not.
    codec = load_codec("codec2")
    audio = _speech(8_000)
    encoded = codec.encode(audio.samples, 8_000, codec.spec.operating_point(1.3))
    first, second = codec.decode(encoded), codec.decode(_rebuilt_from_bytes(encoded))
    assert first.shape == second.shape
    assert rms_dbfs(first) == pytest.approx(rms_dbfs(second), abs=0.5)
    assert estimate_envelope_delay_samples(first, second, 8_000, max_delay_samples=400) == 0


def test_transcode_summary_has_the_stable_json_fields():
    codec = load_codec("opus")
    summary = transcode(codec, _speech(16_000), codec.spec.operating_point(6)).summary()
    assert {
        "codec",
        "nominal_kbps",
        "measured_kbps",
        "tokens_per_second",
        "input_sample_rate",
        "codec_sample_rate",
        "duration_s",
        "delay_samples",
        "realtime_factor",
    } <= summary.keys()
    assert summary["codec"] == "opus" and summary["tokens_per_second"] is None


# ----------------------------------------------------------------------------------- anchors


def _frequency_response_db(cutoff_hz: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    impulse = np.zeros(sample_rate * 2, dtype=np.float32)
    impulse[sample_rate] = 1.0
    response = lowpass(impulse, sample_rate, cutoff_hz).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(response, n=sample_rate * 8))
    frequencies = np.fft.rfftfreq(sample_rate * 8, 1 / sample_rate)
    return frequencies, 20 * np.log10(np.maximum(spectrum, 1e-12))


@pytest.mark.parametrize("cutoff_hz", [3500, 7000])
@pytest.mark.parametrize("sample_rate", [16_000, 22_050, 44_100, 48_000, 96_000])
def test_anchor_meets_the_bs1534_mask(cutoff_hz, sample_rate):
    mask = AnchorMask(passband_edge_hz=cutoff_hz)
    frequencies, gain_db = _frequency_response_db(cutoff_hz, sample_rate)
    passband = frequencies <= mask.passband_edge_hz
    assert np.max(np.abs(gain_db[passband])) <= mask.passband_tolerance_db
    for frequency, attenuation in mask.stopband_points_db:
        beyond = frequencies >= frequency
        if beyond.any():
            assert np.max(gain_db[beyond]) <= -attenuation


def test_low_anchor_at_8khz_meets_the_mask_up_to_nyquist():
    mask = AnchorMask(passband_edge_hz=3500)
    frequencies, gain_db = _frequency_response_db(3500, 8_000)
    assert np.max(np.abs(gain_db[frequencies <= 3500])) <= mask.passband_tolerance_db
    assert np.max(gain_db[frequencies >= 4000]) <= -25


@pytest.mark.parametrize("sample_rate", [8_000, 12_000, 11_025])
def test_mid_anchor_is_the_identity_when_nothing_lies_above_7khz(sample_rate):
    signal = speech_like(1.0, sample_rate)
    np.testing.assert_array_equal(lowpass(signal, sample_rate, 7000), signal)
