"""Audio I/O: every supported format reads, every bad input is refused with a specific message."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile

from codecbench.audio import (
    AudioError,
    AudioLimits,
    estimate_delay_samples,
    estimate_envelope_delay_samples,
    fit_length,
    k_weighting_sos,
    load_audio,
    loudness_lufs,
    normalize_loudness,
    peak_dbfs,
    prepare_audio,
    resample,
    rms_dbfs,
    write_audio,
)
from codecbench.synthetic import speech_like
from tests.conftest import write_with_pyav


@pytest.mark.parametrize(
    ("extension", "writer"),
    [
        (".wav", lambda p, x, sr: soundfile.write(p, x, sr, subtype="PCM_16")),
        (".flac", lambda p, x, sr: soundfile.write(p, x, sr)),
        (".ogg", lambda p, x, sr: soundfile.write(p, x, sr, format="OGG", subtype="VORBIS")),
        (".opus", lambda p, x, sr: soundfile.write(p, x, sr, format="OGG", subtype="OPUS")),
        (".mp3", lambda p, x, sr: soundfile.write(p, x, sr, format="MP3", subtype="MPEG_LAYER_III")),
        (".m4a", lambda p, x, sr: write_with_pyav(p, x, sr, "aac", "ipod")),
    ],
)
def test_every_supported_format_loads_as_mono_float(tmp_path, speech_16k, extension, writer):
    sample_rate = 48_000 if extension == ".opus" else 16_000
    samples = resample(speech_16k, 16_000, sample_rate)
    path = tmp_path / f"clip{extension}"
    writer(path, samples, sample_rate)

    audio = load_audio(path)

    assert audio.sample_rate_hz == sample_rate
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    # Lossy encoders add priming and padding frames (AAC: up to two 1024-sample frames).
    assert audio.duration_s == pytest.approx(4.0, abs=0.15)
    assert audio.warnings == ()


@pytest.mark.parametrize("sample_rate", [8_000, 11_025, 22_050, 44_100, 96_000, 192_000])
def test_any_rate_from_8_to_192_khz_is_accepted(tmp_path, sample_rate):
    path = tmp_path / "clip.wav"
    soundfile.write(path, speech_like(1.0, sample_rate), sample_rate)
    assert load_audio(path).sample_rate_hz == sample_rate


@pytest.mark.parametrize("sample_rate", [4_000, 7_999, 384_000])
def test_rates_outside_8_to_192_khz_are_refused(tmp_path, sample_rate):
    path = tmp_path / "clip.wav"
    soundfile.write(path, np.zeros(sample_rate, dtype=np.float32) + 0.1, sample_rate)
    with pytest.raises(AudioError, match=rf"sample rate {sample_rate} Hz is outside the supported range"):
        load_audio(path)


def test_stereo_is_mixed_down_and_the_downmix_is_reported(tmp_path, speech_16k):
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([speech_16k, 0.5 * speech_16k], axis=1), 16_000)

    audio = load_audio(path)

    np.testing.assert_allclose(audio.samples, 0.75 * speech_16k, atol=1e-4)
    assert audio.source_channels == 2
    assert any("2 channels; mixed down to mono" in w for w in audio.warnings)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "absent.wav")


def test_zero_byte_file_is_refused(tmp_path):
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioError, match=r"the file is empty \(0 bytes\)"):
        load_audio(path)


def test_text_file_is_refused_as_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("these are not audio samples\n" * 100)
    with pytest.raises(AudioError, match="not an audio file codecbench can read, or the file is corrupt"):
        load_audio(path)


def test_truncated_flac_is_refused_as_corrupt(tmp_path, speech_16k):
    path = tmp_path / "cut.flac"
    soundfile.write(path, speech_16k, 16_000)
    path.write_bytes(path.read_bytes()[:60])  # header only, stream info cut short
    with pytest.raises(AudioError, match="corrupt"):
        load_audio(path)


def test_wav_without_samples_is_refused(tmp_path):
    path = tmp_path / "no_samples.wav"
    soundfile.write(path, np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(AudioError, match="contains no audio samples"):
        load_audio(path)


def test_clip_shorter_than_half_a_second_is_refused(tmp_path):
    path = tmp_path / "short.wav"
    soundfile.write(path, speech_like(0.4, 16_000), 16_000)
    with pytest.raises(AudioError, match=r"is 0\.400 s long; at least 0\.5 s"):
        load_audio(path)


def test_clip_longer_than_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    soundfile.write(path, np.full(16_000 * 12, 0.1, dtype=np.float32), 16_000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the samples were read although the header already shows the clip is too long")

    monkeypatch.setattr(soundfile.SoundFile, "read", no_decoding)
    with pytest.raises(AudioError, match=r"is 12\.0 s long, over the limit of 10 s.*--max-duration"):
        load_audio(path, limits=AudioLimits(max_duration_s=10))


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_samples_are_refused_with_their_position(tmp_path, speech_16k, bad_value):
    samples = speech_16k.copy()
    samples[24_000] = bad_value
    path = tmp_path / "bad.wav"
    soundfile.write(path, samples, 16_000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"1 NaN or infinite sample\(s\), the first at 1\.500 s"):
        load_audio(path)


def test_silent_clip_loads_with_a_warning(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(16_000, dtype=np.float32), 16_000)
    audio = load_audio(path)
    assert any("is silent (peak -inf dBFS)" in w for w in audio.warnings)


def test_clipped_clip_loads_with_a_warning(tmp_path, speech_16k):
    path = tmp_path / "clipped.wav"
    soundfile.write(path, np.clip(speech_16k * 4, -1, 1), 16_000, subtype="PCM_16")
    audio = load_audio(path)
    assert any("recording is clipped" in w for w in audio.warnings)


def test_a_single_full_scale_peak_is_not_called_clipping(speech_16k):
    samples = speech_16k / np.max(np.abs(speech_16k))
    assert not any("clipped" in w for w in prepare_audio(samples, 16_000).warnings)


def test_resampling_keeps_length_and_alignment(speech_16k):
    up = resample(speech_16k, 16_000, 44_100)
    assert up.shape[0] == round(speech_16k.shape[0] * 44_100 / 16_000)
    assert estimate_delay_samples(speech_16k, resample(up, 44_100, 16_000), max_delay_samples=200) == 0


def test_resampling_round_trip_is_transparent_below_the_band_edge():
    t = np.arange(16_000) / 16_000
    tones = sum(0.2 * np.sin(2 * np.pi * f * t + f) for f in (150.0, 1000.0, 3100.0, 6000.0)).astype(np.float32)
    back = resample(resample(tones, 16_000, 44_100), 44_100, 16_000)
    assert np.max(np.abs(back - tones)[200:-200]) < 1e-3


def test_k_weighting_reproduces_the_bs1770_table_at_48khz():
    sos = k_weighting_sos(48_000)
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("sample_rate", [16_000, 44_100, 48_000])
def test_loudness_of_a_full_scale_1khz_sine_is_minus_3_lufs(sample_rate):
    t = np.arange(5 * sample_rate) / sample_rate
    assert loudness_lufs(np.sin(2 * np.pi * 1000 * t), sample_rate) == pytest.approx(-3.01, abs=0.05)


def test_loudness_gates_out_silence(speech_16k):
    padded = np.concatenate([np.zeros(16_000 * 4, np.float32), speech_16k])
    assert loudness_lufs(padded, 16_000) == pytest.approx(loudness_lufs(speech_16k, 16_000), abs=0.2)
    assert loudness_lufs(np.zeros(16_000), 16_000) == -math.inf


def test_normalize_loudness_hits_the_target(speech_16k):
    assert loudness_lufs(normalize_loudness(speech_16k, 16_000, -26.0), 16_000) == pytest.approx(-26.0, abs=0.01)


def test_level_helpers():
    assert peak_dbfs(np.array([0.5, -0.25])) == pytest.approx(-6.02, abs=0.01)
    assert rms_dbfs(np.full(100, 0.1)) == pytest.approx(-20.0)
    assert peak_dbfs(np.zeros(4)) == -math.inf


@pytest.mark.parametrize("delay", [-37, 0, 5, 123])
def test_waveform_delay_estimate_recovers_a_known_shift(speech_16k, delay):
    shifted = np.roll(speech_16k, delay)
    assert estimate_delay_samples(speech_16k, shifted, max_delay_samples=400) == delay


@pytest.mark.parametrize("delay", [0, 80, 320])
def test_envelope_delay_estimate_recovers_a_known_shift_without_phase(speech_16k, delay):
    # A phase-scrambled copy: same spectral envelope over time, uncorrelated waveform.
    scrambled = _frame_phase_scramble(np.roll(speech_16k, delay), np.random.default_rng(0))
    estimate = estimate_envelope_delay_samples(speech_16k, scrambled, 16_000, max_delay_samples=400)
    assert abs(estimate - delay) <= 16  # 1 ms


def _frame_phase_scramble(samples: np.ndarray, rng: np.random.Generator, frame: int = 256) -> np.ndarray:
    import scipy.signal

    _, _, stft = scipy.signal.stft(samples, nperseg=frame)
    stft = np.abs(stft) * np.exp(2j * np.pi * rng.random(stft.shape))
    _, out = scipy.signal.istft(stft, nperseg=frame)
    return fit_length(out.astype(np.float32), samples.shape[0])


def test_write_audio_refuses_unknown_extensions(tmp_path, speech_16k):
    with pytest.raises(AudioError, match="cannot write '.xyz' files"):
        write_audio(tmp_path / "out.xyz", speech_16k, 16_000)


def test_write_audio_keeps_float_samples_exactly_and_clips_pcm(tmp_path):
    samples = np.array([0.5, -1.25, 1.5, 1e-6, -0.0123456], dtype=np.float32)
    floats = write_audio(tmp_path / "exact.wav", samples, 16_000, subtype="FLOAT")
    np.testing.assert_array_equal(soundfile.read(floats, dtype="float32")[0], samples)  # beyond full scale too
    pcm = write_audio(tmp_path / "pcm24.flac", samples, 16_000, subtype="pcm_24")
    assert soundfile.info(pcm).subtype == "PCM_24"
    read = soundfile.read(pcm, dtype="float64")[0]
    assert read.max() == pytest.approx(1.0, abs=2**-23) and read.min() == -1.0
    assert soundfile.info(write_audio(tmp_path / "default.flac", samples, 16_000)).subtype == "PCM_16"
    assert soundfile.info(write_audio(tmp_path / "vorbis.ogg", samples, 16_000)).subtype == "VORBIS"


@pytest.mark.parametrize(
    ("name", "subtype", "message"),
    [
        ("x.flac", "FLOAT", r"\.flac files cannot hold FLOAT samples; use one of PCM_16, PCM_24, or write \.wav"),
        ("x.ogg", "PCM_16", r"\.ogg files are Vorbis \(lossy\) and take no sample format"),
        ("x.wav", "ULAW", r"sample format 'ULAW' is not one of PCM_16, PCM_24, FLOAT"),
    ],
)
def test_write_audio_names_a_sample_format_the_file_cannot_hold(tmp_path, name, subtype, message):
    with pytest.raises(AudioError, match=message):
        write_audio(tmp_path / name, np.zeros(16, dtype=np.float32), 16_000, subtype=subtype)
    assert not (tmp_path / name).exists()


def test_write_then_load_round_trips(tmp_path, speech_16k):
    path = write_audio(tmp_path / "round.flac", speech_16k, 16_000)
    np.testing.assert_allclose(load_audio(path).samples, speech_16k, atol=1 / 32768)
