"""DNSMOS through the normal scoring path: the package's own numbers on real speech, one model
run for its four results, worse scores for degraded speech, and errors instead of numbers."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from speechmos import dnsmos as speechmos_dnsmos

from codecbench.audio import prepare_audio, resample
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import (
    MetricResult,
    MetricsPool,
    ScoringConfig,
    ScoringPair,
    prepare_pair,
    score_pair,
    score_prepared_pair,
)
from codecbench.evaluation.metrics.dnsmos import P808_PROTOCOL, P835_PROTOCOL
from tests.speech_clips import speech_clip

CLIP = speech_clip("en/en_ls_2412-153948-0001.flac", seconds=10.5, seed=21)
CLIP_22K = speech_clip("en/en_ljspeech_LJ050-0131.wav", seconds=7.7, seed=23)
RESULTS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")
PACKAGE_KEYS = {"dnsmos_sig": "sig_mos", "dnsmos_bak": "bak_mos", "dnsmos_ovrl": "ovrl_mos", "dnsmos_p808": "p808_mos"}


def by_name(results: list[MetricResult]) -> dict[str, MetricResult]:
    return {result.metric: result for result in results}


def dnsmos_values(results: list[MetricResult]) -> dict[str, float]:
    table = by_name(results)
    for name in RESULTS:
        assert table[name].ok, f"{name} failed: {table[name].error}"
    return {name: table[name].value for name in RESULTS}


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    samples, rate = soundfile.read(CLIP, dtype="float32")
    return samples, rate


@pytest.fixture(scope="module")
def scores(speech) -> dict[str, dict[str, float]]:
    """DNSMOS of the clip itself, low-passed at 3.5 kHz (the BS.1534 anchor), and with white
    noise at 10 dB SNR, each scored as the degraded signal of a pair with the clip."""
    samples, rate = speech
    anchor = load_codec("lowpass_3500")
    lowpassed = transcode(anchor, prepare_audio(samples, rate), anchor.spec.operating_point(None)).samples
    noise = np.random.default_rng(5).standard_normal(samples.shape[0]).astype(np.float32)
    noisy = samples + noise * np.sqrt(np.mean(samples**2) / 10)
    return {
        name: dnsmos_values(score_pair((samples, rate), (degraded, rate), ["dnsmos"]))
        for name, degraded in (("clean", samples.copy()), ("lowpassed", lowpassed), ("noisy", noisy))
    }


def test_dnsmos_gives_the_packages_own_numbers_on_a_real_clip(scores):
    """speechmos reading the 16 kHz file itself gives the numbers the metric stored."""
    package = speechmos_dnsmos.run(str(CLIP), 16_000)
    for name, key in PACKAGE_KEYS.items():
        assert scores["clean"][name] == pytest.approx(float(package[key]), abs=1e-6), name


def test_dnsmos_at_another_rate_is_the_package_on_the_16_khz_signal():
    """A 22.05 kHz clip is resampled to 16 kHz by codecbench's soxr path; speechmos given that
    same signal agrees with the metric."""
    samples, rate = soundfile.read(CLIP_22K, dtype="float32")
    ours = dnsmos_values(score_pair((samples, rate), (samples.copy(), rate), ["dnsmos"]))
    package = speechmos_dnsmos.run(np.clip(resample(samples, rate, 16_000), -1, 1), 16_000)
    for name, key in PACKAGE_KEYS.items():
        assert ours[name] == pytest.approx(float(package[key]), abs=1e-6), name


def test_noise_lowers_every_dnsmos_score_and_band_limiting_lowers_p808(scores):
    clean, noisy, lowpassed = scores["clean"], scores["noisy"], scores["lowpassed"]
    for name in RESULTS:
        assert noisy[name] < clean[name] - 0.1, (name, noisy[name], clean[name])
    # The P.835 model barely hears a 3.5 kHz band limit (SIG and OVRL move by hundredths);
    # the P.808 model does: about 0.5 on the shared LibriSpeech clip, 0.26 on the generated
    # stand-in used where the shared clips are absent.
    assert lowpassed["dnsmos_p808"] < clean["dnsmos_p808"] - 0.15


def test_dnsmos_flows_through_the_scoring_path_with_one_model_run_per_pair(speech, monkeypatch):
    calls = []
    original = speechmos_dnsmos.run

    def counting_run(*args, **kwargs):
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(speechmos_dnsmos, "run", counting_run)
    samples, rate = speech
    pair = prepare_pair((samples, rate), (samples[: 4 * rate].copy(), rate))
    results = score_prepared_pair(pair, ScoringConfig(("pesq", "dnsmos")))
    assert [r.metric for r in results] == ["pesq_wb", *RESULTS]
    assert calls == [16_000]
    table = by_name(results)
    assert {table[name].protocol for name in RESULTS[:3]} == {P835_PROTOCOL}
    assert table["dnsmos_p808"].protocol == P808_PROTOCOL
    assert all(table[name].implementation.startswith("speechmos 0.0.1") for name in RESULTS)
    assert all("onnxruntime" in table[name].implementation for name in RESULTS)


def test_a_warmed_up_pool_worker_gives_the_serial_numbers(speech):
    """A pool worker loads the DNSMOS models through the registry's warm-up hook
    as it starts, then scores a pair exactly as this process does."""
    samples, rate = speech
    reference, degraded = samples[: int(4.6 * rate)], samples[: int(4.6 * rate)] * np.float32(0.7)
    config = ScoringConfig(("dnsmos",))
    serial = score_pair((reference, rate), (degraded, rate), config.metrics)
    with MetricsPool(config, workers=1) as pool:
        (pooled,) = list(pool.score([ScoringPair("u1", (reference, rate), (degraded, rate))]))
    assert pooled.pair_id == "u1"
    assert [(r.metric, r.value, r.error) for r in pooled.results] == [(r.metric, r.value, r.error) for r in serial]


def test_narrow_band_pairs_get_an_error_for_each_dnsmos_result_and_no_number(speech):
    samples, rate = speech
    narrow = resample(samples[: 3 * rate], rate, 8_000)
    results = by_name(score_pair((narrow, 8_000), (narrow.copy(), 8_000), ["dnsmos", "pesq"]))
    assert results["pesq_nb"].ok
    for name in RESULTS:
        assert results[name].value is None
        assert "DNSMOS needs wide-band speech at 16 kHz or more; this pair is at 8 kHz" in results[name].error


def test_a_failing_model_is_an_error_on_each_result_never_a_score(speech, monkeypatch):
    def broken_run(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT")

    monkeypatch.setattr(speechmos_dnsmos, "run", broken_run)
    samples, rate = speech
    results = by_name(score_pair((samples, rate), (samples[: 2 * rate].copy(), rate), ["dnsmos"]))
    for name in RESULTS:
        assert results[name].value is None
        assert results[name].error == (
            "DNSMOS could not score the degraded signal (RuntimeError: [ONNXRuntimeError] : 2 : INVALID_ARGUMENT)."
        )


def test_dnsmos_runs_its_models_on_one_thread_per_session(speech):
    """A pool worker is one core: the ONNX sessions must not start a thread per core."""
    from speechmos import dnsmos as package

    score_pair(speech, speech, ["dnsmos"])
    for session in (package.dnsmos.onnx_sess, package.dnsmos.p808_onnx_sess):
        options = session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
