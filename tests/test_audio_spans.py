"""Reading a span of a long file, and audio held in memory (codecbench.audio)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from codecbench.audio import AudioError, AudioLimits, decode_audio_bytes, load_audio_span, resample
from tests.corpora import clip, wav_bytes, write_ogg_opus, write_pcm


def decode_whole_with_ffmpeg(path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])


@pytest.mark.parametrize("extension", [".wav", ".flac"])
def test_pcm_spans_are_sample_exact(tmp_path, extension):
    signal = clip(1, seconds=5.0)
    path = tmp_path / f"long{extension}"
    soundfile.write(path, signal, 16_000, subtype="PCM_16")
    audio = load_audio_span(path, 1.25, 2.0)
    np.testing.assert_array_equal(audio.samples, signal[20_000:52_000])
    assert audio.sample_rate_hz == 16_000 and audio.warnings == ()
    assert "[1.250 s to 3.250 s]" in audio.source
    np.testing.assert_array_equal(load_audio_span(path, 4.0, None).samples, signal[64_000:])


def test_opus_spans_equal_the_same_samples_of_a_whole_decode(tmp_path):
    """Decoding from a seek point gives what decoding the whole file and cutting gives, at the OpusHead rate."""
    path = write_ogg_opus(tmp_path / "long.opus", clip(2, seconds=20.0))
    whole_16k = resample(decode_whole_with_ffmpeg(path), 48_000, 16_000)
    for start_s in (0.0, 0.05, 7.3, 17.0):
        audio = load_audio_span(path, start_s, 2.5)
        assert audio.sample_rate_hz == 16_000 and audio.num_samples == 40_000
        expected = whole_16k[round(start_s * 16_000) :][:40_000]
        np.testing.assert_allclose(audio.samples, expected, atol=1e-5)
    assert load_audio_span(path, 1.0, 1.0, sample_rate_hz=48_000).sample_rate_hz == 48_000


def test_a_span_past_the_end_is_cut_short_with_a_warning(tmp_path):
    wav = write_pcm(tmp_path / "a.wav", clip(3, seconds=3.0))
    opus = write_ogg_opus(tmp_path / "a.opus", clip(3, seconds=3.0))
    for path in (wav, opus):
        audio = load_audio_span(path, 2.0, 2.0)
        assert audio.duration_s == pytest.approx(1.0, abs=0.01)
        assert any("the file ends 1.000 s into the span" in warning for warning in audio.warnings)
        with pytest.raises(AudioError, match="the span starts after the end of the file"):
            load_audio_span(path, 3.5, 1.0)


def test_bad_spans_and_files_are_refused_with_their_names(tmp_path):
    wav = write_pcm(tmp_path / "a.wav", clip(4, seconds=2.0))
    with pytest.raises(AudioError, match="start at a time >= 0"):
        load_audio_span(wav, -0.5, 1.0)
    with pytest.raises(AudioError, match="last more than 0 s"):
        load_audio_span(wav, 0.5, 0.0)
    with pytest.raises(AudioError, match=r"is 0.200 s long; at least 0.5 s"):
        load_audio_span(wav, 0.5, 0.2)
    with pytest.raises(AudioError, match=r"over the limit of 1 s"):
        load_audio_span(wav, 0.0, 1.5, limits=AudioLimits(max_duration_s=1.0))
    with pytest.raises(AudioError, match="no such file"):
        load_audio_span(tmp_path / "nothing.opus", 0.0, 1.0)
    (tmp_path / "junk.opus").write_bytes(b"OggS not really")
    with pytest.raises(AudioError, match=r"junk.opus \[0.000 s to 1.000 s\]: FFmpeg cannot read the span"):
        load_audio_span(tmp_path / "junk.opus", 0.0, 1.0)


def test_audio_in_memory_decodes_like_a_file():
    signal = clip(5)
    audio = decode_audio_bytes(wav_bytes(signal), source="archive.tar.gz:a.wav")
    np.testing.assert_array_equal(audio.samples, signal)
    assert audio.source == "archive.tar.gz:a.wav"
    with pytest.raises(AudioError, match="archive.tar.gz:b.wav: not an audio file codecbench can read"):
        decode_audio_bytes(b"garbage" * 100, source="archive.tar.gz:b.wav")
    with pytest.raises(AudioError, match="empty"):
        decode_audio_bytes(b"", source="archive.tar.gz:c.wav")
