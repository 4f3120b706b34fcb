"""WARP-Q through the normal scoring path: the package's own numbers on real speech (it reading
the files itself), higher distances for degraded speech, and errors instead of numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile

from codecbench.audio import prepare_audio, resample
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import MetricResult, ScoringConfig, prepare_pair, score_pair, score_prepared_pair
from codecbench.evaluation.metrics import warpq as warpq_module
from codecbench.evaluation.metrics.registry import lower_is_better
from tests.speech_clips import speech_clip

CLIP = speech_clip("en/en_ls_2412-153948-0001.flac", seconds=10.5, seed=21)


def warpq_value(results: list[MetricResult]) -> float:
    (result,) = [r for r in results if r.metric == "warpq"]
    assert result.ok, result.error
    return result.value


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(CLIP, dtype="float32")
    return samples, rate


@pytest.fixture(scope="module")
def degraded(speech) -> dict[str, np.ndarray]:
    """The clip low-passed at 3.5 kHz (the BS.1534 anchor) and with white noise at 10 dB SNR."""
    samples, rate = speech
    anchor = load_codec("lowpass_3500")
    lowpassed = transcode(anchor, prepare_audio(samples, rate), anchor.spec.operating_point(None)).samples
    noise = np.random.default_rng(5).standard_normal(samples.shape[0]).astype(np.float32)
    return {"lowpassed": lowpassed, "noisy": samples + noise * np.sqrt(np.mean(samples**2) / 10)}


@pytest.fixture(scope="module")
def scores(speech, degraded) -> dict[str, float]:
    samples, rate = speech
    signals = {"clean": samples.copy(), **degraded}
    return {name: warpq_value(score_pair((samples, rate), (signal, rate), ["warpq"])) for name, signal in signals.items()}


def package_score(reference_path, degraded_path) -> float:
    """warpq's own answer, reading both 16 kHz files itself with its default settings."""
    metric = warpq_module._warpq_metric()  # the package's warpqMetric(sr=16000), NumPy 2 shim in place
    return float(metric.evaluate(str(reference_path), str(degraded_path))["raw_warpq_score"])


def test_warpq_gives_the_packages_own_numbers_on_real_clips(scores, speech, degraded, tmp_path):
    samples, rate = speech
    assert rate == 16_000
    for name, signal in {"clean": samples, **degraded}.items():
        path = tmp_path / f"{name}.wav"
        # Float samples, so the package reads the very samples; clipped to full scale as the metric
        # does (the package's VAD refuses anything beyond it).
        soundfile.write(path, np.clip(signal, -1, 1), rate, subtype="FLOAT")
        assert scores[name] == pytest.approx(package_score(CLIP, path), abs=1e-9), name


def test_a_degraded_signal_is_further_from_the_reference_by_warpq(scores):
    assert lower_is_better("warpq")
    assert scores["lowpassed"] > scores["clean"] + 0.3
    assert scores["noisy"] > scores["lowpassed"]


def test_warpq_flows_through_the_scoring_path_and_names_its_protocol(speech):
    samples, rate = speech
    pair = prepare_pair((samples, rate), (samples * np.float32(0.5), rate))
    results = score_prepared_pair(pair, ScoringConfig(("warpq", "stoi")))
    assert [r.metric for r in results] == ["warpq", "stoi"]
    assert results[0].ok and results[0].protocol == "raw-16k-vad-median"
    assert results[0].implementation.startswith("warpq 1.5.")


def test_warpq_runs_at_16_khz_whatever_the_reference_rate(speech):
    samples, rate = speech
    at_48k = resample(samples, rate, 48_000)
    value = warpq_value(score_pair((at_48k, 48_000), (at_48k.copy(), 48_000), ["warpq"]))
    assert value == pytest.approx(warpq_module.score_signals(*(resample(at_48k, 48_000, 16_000),) * 2), abs=1e-9)


def test_too_little_speech_after_vad_is_an_error_not_a_nan(speech, monkeypatch):
    """warpq answers NaN (and a warning) when under 0.4 s of speech survives its VAD; that
    becomes an error naming what was left. (webrtcvad in mode 0 takes much noise for speech, so
    no padding makes a real clip short enough on every machine: the package's answer is
    stood in for, word for word.)"""

    class ShortAfterVad:
        def evaluate(self, *args, **kwargs):
            warnings.warn(
                "\nAudio signals too short (VAD applied), shorter than the patch size 0.4s. Short audio files: "
                "Reference signal: 0.27s; Degraded signal: 0.27s. Returning a dictionary with NaN values; "
                "files skipped from calculations.", UserWarning, stacklevel=2,
            )
            return {"raw_warpq_score": np.nan, "normalized_warpq_score": np.nan}

    monkeypatch.setattr(warpq_module, "_warpq_metric", lambda: ShortAfterVad())
    samples, rate = speech
    (result,) = score_pair((samples, rate), (samples.copy(), rate), ["warpq"])
    assert result.value is None
    assert result.error == (
        "WARP-Q needs at least 0.4 s of speech in each signal after voice activity detection, and here too "
        "little is left (Reference signal: 0.27s; Degraded signal: 0.27s); use longer speech clips."
    )


def test_narrow_band_and_package_failures_are_errors_never_scores(speech, monkeypatch):
    samples, rate = speech
    narrow = resample(samples[: 3 * rate], rate, 8_000)
    (result,) = score_pair((narrow, 8_000), (narrow.copy(), 8_000), ["warpq"])
    assert result.value is None and "WARP-Q runs on wide-band speech at 16 kHz; this reference is 8 kHz" in result.error

    class Broken:
        def evaluate(self, *args, **kwargs):
            raise ValueError("data must be mono (1 ch).")

    monkeypatch.setattr(warpq_module, "_warpq_metric", lambda: Broken())
    (result,) = score_pair((samples, rate), (samples.copy(), rate), ["warpq"])
    assert result.value is None
    assert result.error == "WARP-Q could not score this pair (ValueError: data must be mono (1 ch).)."
