"""Objective metrics on real signals: ceilings, quality ordering, alignment, explicit failures.

ViSQOL's kernels load once per process (compiled once per machine into the numba cache), so
the expensive scores are computed once per module and shared by the tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from codecbench.audio import apply_gain_db, prepare_audio, resample
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import (
    VISQOL_PROTOCOLS,
    MetricResult,
    ScoringConfig,
    estimate_alignment,
    score_pair,
)
from codecbench.evaluation.metrics.sisnr import si_snr_db
from codecbench.synthetic import speech_like

RATE_HZ = 16_000
ALL_PROTOCOLS = tuple(VISQOL_PROTOCOLS)
CONDITIONS = {"lowpass_7000": None, "lowpass_3500": None, "codec2": 0.7}


def by_key(results: list[MetricResult]) -> dict[tuple[str, str | None], MetricResult]:
    return {(result.metric, result.protocol): result for result in results}


def values(results: list[MetricResult]) -> dict[str, float]:
    """metric (with the ViSQOL protocol appended) -> value, asserting every metric succeeded."""
    table = {}
    for result in results:
        assert result.ok, f"{result.metric} ({result.protocol}) failed: {result.error}"
        table[f"visqol/{result.protocol}" if result.metric == "visqol" else result.metric] = result.value
    return table


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """Six seconds of speech-like audio at the level of read speech (about -28 dB RMS)."""
    return speech_like(6.0, RATE_HZ, seed=3, peak=0.3)


@pytest.fixture(scope="module")
def reconstructions(speech) -> dict[str, np.ndarray]:
    audio = prepare_audio(speech, RATE_HZ)
    outputs = {}
    for name, kbps in CONDITIONS.items():
        codec = load_codec(name)
        outputs[name] = transcode(codec, audio, codec.spec.operating_point(kbps)).samples
    return outputs


@pytest.fixture(scope="module")
def identical_scores(speech) -> dict[str, float]:
    metrics = ("visqol", "pesq", "stoi", "estoi", "sisnr", "mel", "mrstft")
    return values(score_pair((speech, RATE_HZ), (speech.copy(), RATE_HZ), metrics, visqol_protocols=ALL_PROTOCOLS))


@pytest.fixture(scope="module")
def condition_scores(speech, reconstructions) -> dict[str, dict[str, float]]:
    return {
        name: values(score_pair((speech, RATE_HZ), (output, RATE_HZ), ("visqol", "pesq", "stoi"), visqol_protocols=ALL_PROTOCOLS))
        for name, output in reconstructions.items()
    }


def test_identical_signals_reach_each_metrics_ceiling(identical_scores):
    scores = identical_scores
    # Scaled exponential speech mapping: a perfect match is 5.0 by construction.
    assert scores["visqol/speech-exp"] == pytest.approx(5.0, abs=1e-9)
    # Audio mode's SVR maps a perfect similarity to 4.7321, whatever the rate it runs at.
    assert scores["visqol/audio"] == pytest.approx(4.7321, abs=1e-3)
    assert scores["visqol/audio-native"] == pytest.approx(4.7321, abs=1e-3)
    # The lattice has no single ceiling: it also reads the signal's band energies (Google's
    # own conformance value for identical speech is 4.5056; real speech gives 4.5-4.7).
    assert 4.0 < scores["visqol/speech"] < 5.0
    assert scores["pesq_wb"] == pytest.approx(4.644, abs=0.002)
    assert scores["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["estoi"] == pytest.approx(1.0, abs=1e-6)
    assert scores["sisnr"] == 100.0
    assert scores["mel"] == 0.0 and scores["mrstft"] == 0.0


def test_narrow_band_pesq_of_identical_8k_speech_reaches_its_ceiling(speech):
    narrow = resample(speech, RATE_HZ, 8_000)
    (result,) = score_pair((narrow, 8_000), (narrow, 8_000), ["pesq"])
    assert result.metric == "pesq_nb" and result.protocol == "p862.1-nb-8k"
    assert result.value == pytest.approx(4.549, abs=0.002)


@pytest.mark.parametrize("metric", ["visqol/speech", "visqol/speech-exp", "visqol/audio", "visqol/audio-native", "pesq_wb", "stoi"])
def test_quality_ordering_7k_anchor_above_3k5_anchor_above_codec2_700c(condition_scores, metric):
    wide, narrow, vocoder = (condition_scores[name][metric] for name in CONDITIONS)
    assert wide > narrow > vocoder, (wide, narrow, vocoder)


def test_each_protocol_runs_at_its_own_rate_and_gives_its_own_numbers(condition_scores):
    narrow = condition_scores["lowpass_3500"]
    # Audio mode on 16 kHz files punishes the missing 3.5-8 kHz band far harder than audio
    # mode at 48 kHz, which is why the protocol must travel with the score.
    assert narrow["visqol/audio"] - narrow["visqol/audio-native"] > 1.0


def test_a_40_ms_delay_with_minus_6_db_gain_is_found_and_leaves_si_snr_unchanged(speech, reconstructions):
    reference = (speech, RATE_HZ)
    output = reconstructions["lowpass_3500"]
    delay_samples = int(0.040 * RATE_HZ)
    shifted = np.concatenate([np.zeros(delay_samples, np.float32), apply_gain_db(output, -6.0)])
    metrics = ["sisnr", "stoi", "mel"]

    plain = by_key(score_pair(reference, (output, RATE_HZ), metrics))
    moved = by_key(score_pair(reference, (shifted, RATE_HZ), metrics))

    for key, result in moved.items():
        assert result.delay_samples == delay_samples
        assert result.gain_db == pytest.approx(plain[key].gain_db - 6.0, abs=0.01)
        assert result.value == pytest.approx(plain[key].value, abs=1e-3)
    assert plain[("sisnr", "aligned")].value > 10


def test_a_degraded_signal_at_another_rate_is_resampled_and_aligned(speech, reconstructions):
    output_24k = resample(np.concatenate([np.zeros(160, np.float32), reconstructions["lowpass_7000"]]), RATE_HZ, 24_000)
    (sisnr,) = score_pair((speech, RATE_HZ), (output_24k, 24_000), ["sisnr"])
    assert sisnr.delay_samples == 160  # at the reference's rate
    assert sisnr.value > 20


def test_alignment_finds_a_lead_and_falls_back_to_envelopes_for_a_vocoder(speech, reconstructions):
    lead = estimate_alignment(speech, speech[200:], RATE_HZ, max_delay_s=0.5)
    assert (lead.delay_samples, lead.method) == (-200, "waveform")
    assert lead.gain_db == pytest.approx(0.0, abs=1e-6)

    vocoded = np.concatenate([np.zeros(320, np.float32), reconstructions["codec2"]])
    found = estimate_alignment(speech, vocoded, RATE_HZ, max_delay_s=0.5)
    assert found.method == "envelope"
    assert abs(found.delay_samples - 320) <= 32  # 2 ms: the envelope's resolution


def test_si_snr_is_scale_invariant_and_drops_with_noise(speech):
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(speech.size).astype(np.float32) * np.std(speech)
    assert si_snr_db(speech, speech + 0.1 * noise) == pytest.approx(20.0, abs=0.2)
    assert si_snr_db(speech, 3 * (speech + 0.1 * noise)) == pytest.approx(si_snr_db(speech, speech + 0.1 * noise))
    assert si_snr_db(speech, speech + noise) == pytest.approx(0.0, abs=0.2)


@pytest.mark.parametrize(
    ("reference", "degraded", "message"),
    [
        (speech_like(0.3, RATE_HZ), speech_like(0.3, RATE_HZ), "reference: is 0.300 s long; at least 0.5 s is needed"),
        (np.zeros(RATE_HZ, np.float32), speech_like(1.0, RATE_HZ), "reference: is silent (peak -inf dBFS)"),
        (speech_like(1.0, RATE_HZ), np.full(RATE_HZ, 1e-5, np.float32), "degraded: is silent (peak -100.0 dBFS)"),
        (speech_like(1.0, RATE_HZ), np.where(np.arange(RATE_HZ) == 5, np.nan, 0.1).astype(np.float32), "degraded: contains 1 NaN"),
    ],
    ids=["too-short", "silent-reference", "silent-degraded", "nan"],
)
def test_unusable_input_gives_every_metric_an_explicit_error_and_no_value(reference, degraded, message):
    results = score_pair((reference, RATE_HZ), (degraded, RATE_HZ), ["visqol", "pesq", "stoi", "sisnr", "mel"])
    assert [r.metric for r in results] == ["visqol", "pesq_wb", "stoi", "sisnr", "mel"]
    for result in results:
        assert result.value is None
        assert message in result.error
        assert result.delay_samples is None and result.gain_db is None


def test_pesq_with_no_utterances_is_an_error_not_a_score():
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(2 * RATE_HZ) * 1e-3).astype(np.float32)
    hiss[1000] = 0.9  # one click: not silent, but nothing PESQ counts as speech
    (result,) = score_pair((hiss, RATE_HZ), (hiss.copy(), RATE_HZ), ["pesq_wb"])
    assert result.value is None
    assert "PESQ detected no utterances in the reference" in result.error


def test_metric_specific_limits_fail_alone(speech):
    """A 0.8 s pair is too short for ViSQOL only; an 8 kHz reference is too narrow for wide-band metrics."""
    short = speech[: int(0.8 * RATE_HZ)]
    results = by_key(score_pair((short, RATE_HZ), (short, RATE_HZ), ["visqol", "pesq", "sisnr"]))
    assert "ViSQOL needs at least 1 s of audio" in results[("visqol", "speech")].error
    assert results[("pesq_wb", "p862.2-wb-16k")].ok and results[("sisnr", "aligned")].ok

    narrow = resample(speech, RATE_HZ, 8_000)
    results = by_key(score_pair((narrow, 8_000), (narrow, 8_000), ["visqol", "pesq_wb", "pesq"]))
    assert "needs a reference sampled at 16 kHz or more" in results[("visqol", "speech")].error
    assert "pesq_wb needs a reference sampled at 16 kHz or more" in results[("pesq_wb", "p862.2-wb-16k")].error
    assert results[("pesq_nb", "p862.1-nb-8k")].ok


def test_short_speech_for_stoi_is_an_error_not_pystois_placeholder():
    # Half a second of which only 0.2 s is sound: fewer than STOI's 30 frames survive.
    signal = np.zeros(RATE_HZ // 2, np.float32)
    signal[:3200] = speech_like(0.2, RATE_HZ, seed=2)[:3200] + 0.3 * np.sin(np.arange(3200) / 5)
    (stoi,) = score_pair((signal, RATE_HZ), (signal.copy(), RATE_HZ), ["stoi"])
    assert stoi.value is None and "STOI needs at least 30 frames" in stoi.error


def test_every_protocol_and_implementation_reaches_exactly_the_json_fields(speech):
    results = score_pair((speech, RATE_HZ), (speech, RATE_HZ), ["visqol", "pesq"], visqol_protocols=ALL_PROTOCOLS)
    records = [json.loads(json.dumps(result.to_dict())) for result in results]
    assert all(
        list(record) == ["metric", "value", "error", "protocol", "implementation", "delay_samples", "gain_db"]
        for record in records
    )
    assert [(record["metric"], record["protocol"]) for record in records] == [
        ("visqol", "speech"), ("visqol", "speech-exp"), ("visqol", "audio"), ("visqol", "audio-native"),
        ("pesq_wb", "p862.2-wb-16k"),
    ]
    lattice, *others, pesq = records
    engine = r"codecbench ViSQOL engine \(codecbench \S+, visqol-python 3\.\d+\.\d+"
    assert re.fullmatch(engine + r", ai-edge-litert \d+\.\d+\.\d+\)", lattice["implementation"])
    assert all(re.fullmatch(engine + r"\)", record["implementation"]) for record in others)
    assert re.fullmatch(r"pesq 0\.\d+\.\d+", pesq["implementation"])


def test_scoring_config_names_what_is_allowed():
    with pytest.raises(ValueError, match="unknown metric 'pseq'. Did you mean pesq?"):
        ScoringConfig(("pseq",))
    with pytest.raises(ValueError, match="unknown ViSQOL protocol 'fast'; choose one of speech, speech-exp, audio, audio-native"):
        ScoringConfig(("visqol",), ("fast",))


def test_numba_kernels_are_cached_under_the_codecbench_home(tmp_path):
    """A fresh process puts ViSQOL's compiled kernels under $CODECBENCH_HOME/numba (so the next
    process loads instead of compiling them); checked without compiling anything."""
    probe = (
        "from codecbench.evaluation.metrics.visqol import use_codecbench_numba_cache\n"
        "use_codecbench_numba_cache()\n"
        "from visqol import numba_accel\n"
        "print(numba_accel._dp_forward_pass._cache._cache_path)\n"
    )
    env = {"CODECBENCH_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().startswith(str(tmp_path / "numba"))

