"""The Listen page's engine: several conditions, each with files, one failure isolated."""

from __future__ import annotations

import pytest
import soundfile

from codecbench.audio import prepare_audio
from codecbench.codecs.condition import Condition
from codecbench.comparison import ReconstructionScorer, compare, show_original
from codecbench.run_folders import new_run_dir
from codecbench.synthetic import speech_like


def test_condition_parsing_and_titles():
    assert Condition.parse("opus@6") == Condition("opus", 6.0)
    assert Condition.parse("lowpass_3500") == Condition("lowpass_3500", None)
    assert str(Condition("codec2", 0.7)) == "codec2@0.7"
    assert Condition("codec2", 0.7).title == "codec2 700C"
    with pytest.raises(ValueError, match="'fast' is not a bitrate in kbps"):
        Condition.parse("opus@fast")


def test_each_condition_gets_audio_and_a_spectrogram_and_a_failure_stays_in_place(tmp_path):
    audio = prepare_audio(speech_like(2.0, 16_000), 16_000)
    original = show_original(audio, tmp_path)
    conditions = [Condition("opus", 6.0), Condition("codec2", 5.0), Condition("nosuchcodec", 1.0), Condition("lowpass_3500")]
    progress = []

    outcomes = list(
        compare(audio, conditions, tmp_path, scale=original.scale, on_progress=lambda i, n, c: progress.append((i, n, str(c))))
    )

    assert [o.condition for o in outcomes] == conditions
    assert progress == [(0, 4, "opus@6"), (1, 4, "codec2@5"), (2, 4, "nosuchcodec@1"), (3, 4, "lowpass_3500")]
    opus, codec2, unknown, anchor = outcomes
    assert opus.ok and anchor.ok
    assert "codec2 does not run at 5 kbps" in codec2.error
    assert "unknown codec 'nosuchcodec'" in unknown.error
    for outcome in (opus, anchor):
        samples, rate = soundfile.read(outcome.audio_path)
        assert rate == 16_000 and samples.shape == audio.samples.shape
        assert outcome.spectrogram_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert opus.summary["measured_kbps"] > 0
    assert anchor.summary["measured_kbps"] is None


def test_run_dirs_are_fresh_and_old_ones_are_pruned(tmp_path):
    import os

    old = new_run_dir(tmp_path)
    os.utime(old, (0, 0))
    recent = new_run_dir(tmp_path)
    newest = new_run_dir(tmp_path)
    assert not old.exists()
    assert recent.exists() and newest.exists() and recent != newest


def test_reconstructions_are_scored_in_a_worker_and_failed_conditions_are_skipped(tmp_path):
    audio = prepare_audio(speech_like(3.0, 16_000, peak=0.3), 16_000)
    original = show_original(audio, tmp_path)
    outcomes = list(compare(audio, [Condition("lowpass_3500"), Condition("codec2", 5.0)], tmp_path, scale=original.scale))

    (scores,) = ReconstructionScorer().score(original.audio_path, outcomes, visqol_protocol="audio-native")

    assert scores.pair_id == "lowpass_3500"
    assert [(r.metric, r.protocol) for r in scores.results] == [
        ("visqol", "audio-native"), ("pesq_wb", "p862.2-wb-16k"), ("stoi", "aligned-10k"), ("sisnr", "aligned")
    ]
    assert all(result.ok for result in scores.results)
    assert scores.results[0].value < 4.0  # a 3.5 kHz low-pass is far from transparent in audio mode at 16 kHz

def test_conditions_load_each_codec_with_the_options_the_app_gives(tmp_path, codecbench_home):
    from codecbench.app import AppSettings
    from tests.checkpoints import save_funcodec_model

    settings = AppSettings(work_dir=tmp_path / "work", model_dirs={"funcodec": save_funcodec_model(tmp_path / "model")})
    assert settings.load_options("funcodec").model_dir == tmp_path / "model"
    assert settings.load_options("opus").model_dir is None
    audio = prepare_audio(speech_like(2.0, 16_000), 16_000)
    conditions = [Condition("funcodec", 2.0), Condition("encodec_24khz", 6.0)]
    with_dir, without_weights = compare(audio, conditions, tmp_path / "out", load_options=settings.load_options)
    assert with_dir.ok and with_dir.summary["tokens_per_second"] == 200
    assert "Run `codecbench download encodec_24khz`" in without_weights.error


def test_app_settings_refuse_an_unknown_device():
    from codecbench.app import AppSettings

    with pytest.raises(ValueError, match="device 'tpu' is not one of cpu, cuda, cuda:N"):
        AppSettings(device="tpu")
