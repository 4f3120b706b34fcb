"""codecbench's ViSQOL engine against visqol-python, the oracle: step by step and score by score.

The engine does visqol-python's arithmetic in another loop order, so its values are expected
equal; the tests allow 1e-6 on a MOS (the issue's bar is 1e-3 per pair) so that a compiler
that orders a sum differently on another processor cannot fail them.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import soundfile

from codecbench.audio import prepare_audio
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import prepare_pair, score_pair
from codecbench.evaluation.metrics.registry import selected_visqol_engine
from codecbench.evaluation.metrics.visqol import (
    VISQOL_PROTOCOLS,
    fast_engine,
    import_visqol_library,
    visqol_metric,
    visqol_mos,
    visqol_protocol,
)
from tests.speech_clips import speech_clip

RATE_HZ = 16_000
TOLERANCE = 1e-6

engine = fast_engine()
visqol = import_visqol_library()
from visqol.analysis_window import AnalysisWindow  # noqa: E402  (after the numba cache is set)
from visqol.audio_utils import AudioSignal  # noqa: E402
from visqol.gammatone import GammatoneSpectrogramBuilder  # noqa: E402
from visqol.patch_creator import VadPatchCreator  # noqa: E402
from visqol.patch_selector import find_most_optimal_deg_patches  # noqa: E402

from codecbench.evaluation.metrics.visqol_fast import spectrogram as fast_spectrogram  # noqa: E402
from codecbench.evaluation.metrics.visqol_fast.patches import voiced_patch_starts  # noqa: E402


@pytest.fixture(scope="module")
def real_speech() -> np.ndarray:
    """Eight seconds of a real English clip (or a speech-like stand-in of the same length)."""
    samples, rate = soundfile.read(speech_clip("en/en_ls_1088-134315-0000.wav", seconds=8.5, seed=11), dtype="float64")
    assert rate == RATE_HZ
    return np.ascontiguousarray(samples[: 8 * RATE_HZ])


@pytest.fixture(scope="module")
def degradations(real_speech) -> dict[str, np.ndarray]:
    """The reference through codecs and anchors, and generated degradations of every kind."""
    rng = np.random.default_rng(5)
    audio = prepare_audio(real_speech.astype(np.float32), RATE_HZ)
    out = {}
    for name, kbps in (("opus", 6.0), ("codec2", 3.2), ("lowpass_3500", None)):
        codec = load_codec(name)
        out[name] = transcode(codec, audio, codec.spec.operating_point(kbps)).samples.astype(np.float64)
    out["lowpass 2 kHz"] = scipy.signal.sosfilt(scipy.signal.butter(8, 2000, fs=RATE_HZ, output="sos"), real_speech)
    out["noise 20 dB"] = real_speech + rng.standard_normal(real_speech.size) * np.std(real_speech) / 10
    out["clipped"] = np.clip(real_speech, -0.3 * np.max(np.abs(real_speech)), 0.3 * np.max(np.abs(real_speech)))
    out["late 120 ms"] = np.concatenate([np.zeros(1920), real_speech])[: real_speech.size]
    out["early, shorter"] = real_speech[2400:]
    out["gain -12 dB"] = real_speech * 10 ** (-12 / 20)
    return out


@pytest.fixture
def analysed(monkeypatch) -> list[int]:
    """Grows by one each time the engine analyses a reference (the cache starts empty)."""
    engine.clear_reference_cache()
    calls: list[int] = []
    original = engine.analyse_reference
    monkeypatch.setattr(engine, "analyse_reference", lambda *args: calls.append(1) or original(*args))
    return calls


def oracle(reference: np.ndarray, degraded: np.ndarray, protocol_name: str) -> float:
    protocol = visqol_protocol(protocol_name)
    pair = prepare_pair((reference.astype(np.float32), RATE_HZ), (degraded.astype(np.float32), RATE_HZ))
    return visqol_mos(pair, protocol, engine="visqol-python")


def fast(reference: np.ndarray, degraded: np.ndarray, protocol_name: str) -> float:
    protocol = visqol_protocol(protocol_name)
    pair = prepare_pair((reference.astype(np.float32), RATE_HZ), (degraded.astype(np.float32), RATE_HZ))
    return visqol_mos(pair, protocol, engine="codecbench")


@pytest.mark.parametrize("protocol", ["speech", "audio-native", "speech-exp"])
def test_scores_equal_visqol_python_on_codecs_and_degradations(real_speech, degradations, protocol):
    differences = {name: fast(real_speech, degraded, protocol) - oracle(real_speech, degraded, protocol)
                   for name, degraded in degradations.items()}
    assert all(abs(difference) <= TOLERANCE for difference in differences.values()), differences


def test_scores_equal_visqol_python_at_48_khz(real_speech, degradations):
    for name in ("opus", "noise 20 dB", "late 120 ms"):
        assert abs(fast(real_speech, degradations[name], "audio") - oracle(real_speech, degradations[name], "audio")) <= TOLERANCE, name


def test_spectrogram_equals_visqol_python(real_speech):
    for rate, bands, speech_mode in ((16_000, 21, True), (16_000, 32, False)):
        expected = GammatoneSpectrogramBuilder(bands, 50.0, speech_mode=speech_mode).build(
            AudioSignal(real_speech, rate), AnalysisWindow(rate, 0.25)
        ).data
        actual = fast_spectrogram.filterbank(rate, bands, speech_mode).spectrogram(real_speech)
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("gap_level", [1e-4, 3e-3, 0.02])
def test_voice_activity_equals_visqol_python(real_speech, gap_level):
    """Speech with quiet gaps (low-level noise, never digital silence: the detector normalises
    by the peak) at levels either side of the detector's threshold."""
    rng = np.random.default_rng(int(gap_level * 1e5))
    signal = real_speech.copy()
    for start in (8_000, 40_000, 90_000):
        signal[start : start + 12_000] = gap_level * rng.standard_normal(12_000)
    bank = fast_spectrogram.filterbank(RATE_HZ, 21, True)
    frames = bank.num_frames(signal.size)
    expected = VadPatchCreator(20).create_ref_patch_indices(np.zeros((21, frames)), AudioSignal(signal, RATE_HZ), AnalysisWindow(RATE_HZ, 0.25))
    assert voiced_patch_starts(signal, frames, bank.hop).tolist() == expected


def test_patch_search_equals_visqol_python(real_speech, degradations):
    bank = fast_spectrogram.filterbank(RATE_HZ, 21, True)
    reference_db, degraded_db = fast_spectrogram.prepare_for_comparison(
        fast_spectrogram.to_db(bank.spectrogram(real_speech)), fast_spectrogram.to_db(bank.spectrogram(degradations["codec2"]))
    )
    starts = np.arange(9, reference_db.shape[1] - 20, 20)
    patches = np.ascontiguousarray(np.stack([reference_db[:, s : s + 20] for s in starts]))
    padded = np.ascontiguousarray(np.concatenate([degraded_db, np.zeros((21, 20))], axis=1))
    means, variances = engine.nsim.local_statistics(patches)
    offsets, unmatched = engine.kernels.search_patches(
        patches, means, variances, starts, padded, 1200, engine.nsim.GAUSSIAN_WINDOW, engine.nsim.C1, engine.nsim.C3
    )
    expected = find_most_optimal_deg_patches(list(patches), starts.tolist(), degraded_db, 0.02, 60)
    assert [result.deg_patch_start_time for result in expected] == [
        0.0 if flag else offset * 0.02 for offset, flag in zip(offsets.tolist(), unmatched.tolist())
    ]


def test_a_reference_is_analysed_once_for_all_its_conditions(real_speech, degradations, analysed):
    first = [fast(real_speech, degradations[name], "speech") for name in ("opus", "codec2", "noise 20 dB")]
    assert len(analysed) == 1
    changed = real_speech.copy()
    changed[100] += 1e-3
    fast(changed, degradations["opus"], "speech")
    assert len(analysed) == 2, "a different reference must not reuse another's analysis"
    assert [fast(real_speech, degradations[name], "speech") for name in ("opus", "codec2", "noise 20 dB")] == first


def speech_mode_pair(reference: np.ndarray, degraded: np.ndarray) -> tuple[float | str, float | str]:
    """(visqol-python, codecbench) for a pair given straight to each engine (no codecbench checks
    in front), each a MOS or the name of the exception it raised."""
    api = visqol.VisqolApi()
    api.create(mode="speech", use_lattice_model=True)
    outcomes: list[float | str] = []
    for compute in (
        lambda: api.measure_from_arrays(reference, degraded, RATE_HZ).moslqo,
        lambda: engine.score(engine.analyse_reference(reference, engine.VisqolSettings(True, "lattice", RATE_HZ)), degraded).moslqo,
    ):
        try:
            outcomes.append(compute())
        except Exception as error:
            outcomes.append(type(error).__name__)
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize("span", [(0, 1000), (0, 3000), (64_000, 65_300), (120_000, None)])
def test_short_and_misplaced_degraded_signals_score_alike(real_speech, span):
    """Most of the reference's patches are dropped or unmatched; both engines agree on what is left."""
    theirs, ours = speech_mode_pair(real_speech, real_speech[span[0] : span[1]])
    assert isinstance(theirs, float) and ours == pytest.approx(theirs, abs=TOLERANCE)


def test_a_reference_too_short_for_a_patch_fails_in_both(real_speech):
    theirs, ours = speech_mode_pair(real_speech[:4800], real_speech[:4800])
    assert theirs in ("IndexError", "ValueError") and ours == "VisqolFailure"


def test_scores_name_the_engine_and_the_variable_chooses_it(real_speech, monkeypatch):
    pair = (real_speech.astype(np.float32), RATE_HZ)
    (ours,) = score_pair(pair, pair, ["visqol"])
    assert ours.implementation.startswith("codecbench ViSQOL engine (codecbench ")
    monkeypatch.setenv("CODECBENCH_VISQOL_ENGINE", "visqol-python")
    assert selected_visqol_engine() == "visqol-python"
    (theirs,) = score_pair(pair, pair, ["visqol"])
    assert theirs.implementation.startswith("visqol-python 3.") and theirs.value == pytest.approx(ours.value, abs=TOLERANCE)
    monkeypatch.setenv("CODECBENCH_VISQOL_ENGINE", "fast")
    with pytest.raises(ValueError, match="CODECBENCH_VISQOL_ENGINE='fast' is not a ViSQOL engine; choose one of codecbench, visqol-python"):
        visqol_metric("speech")


def test_every_protocol_is_served(real_speech, degradations):
    for name in VISQOL_PROTOCOLS:
        assert 1.0 <= fast(real_speech, degradations["opus"], name) <= 5.0


def test_the_reference_cache_keeps_within_its_memory_budget(real_speech, degradations, monkeypatch):
    engine.clear_reference_cache()
    settings = engine.VisqolSettings(True, "lattice", RATE_HZ)
    analysis = engine.reference_analysis(real_speech, settings)
    engine.score(analysis, degradations["opus"])
    monkeypatch.setattr(engine, "CACHE_BUDGET_BYTES", analysis.nbytes)
    engine.reference_analysis(real_speech * 0.5, settings)
    assert engine.cached_references() == 1, "two analyses do not fit: the older one goes"
    monkeypatch.setattr(engine, "CACHE_BUDGET_BYTES", 1)
    engine.reference_analysis(real_speech * 0.25, settings)
    assert engine.cached_references() == 0, "an analysis larger than the budget is used, not kept"


def test_a_mistyped_engine_stops_the_command_before_any_work(tmp_path):
    from tests.cli_runner import run_cli

    result = run_cli("score", str(tmp_path / "ref.wav"), str(tmp_path / "deg.wav"), env={"CODECBENCH_VISQOL_ENGINE": "fast"})
    assert result.returncode == 2
    assert "Error: CODECBENCH_VISQOL_ENGINE='fast' is not a ViSQOL engine; choose one of codecbench, visqol-python" in result.stderr
    assert "Traceback" not in result.stderr


def test_protocols_that_differ_only_in_mapping_share_the_analysis(real_speech, degradations, analysed):
    lattice, exponential = fast(real_speech, degradations["opus"], "speech"), fast(real_speech, degradations["opus"], "speech-exp")
    assert len(analysed) == 1 and lattice != exponential
    assert exponential == pytest.approx(oracle(real_speech, degradations["opus"], "speech-exp"), abs=TOLERANCE)


def test_the_reference_envelope_spectrum_is_kept_once_per_transform_length(real_speech):
    """Codecs change a signal's length by a few samples; that must not keep a spectrum each."""
    analysis = engine.analyse_reference(real_speech, engine.VisqolSettings(True, "lattice", RATE_HZ))
    for extra in range(1, 6):
        engine.score(analysis, np.concatenate([real_speech, real_speech[:extra]]))
    assert len(analysis.aligner.spectra()) == 1


def test_threads_scoring_at_once_get_the_serial_numbers(real_speech, degradations):
    """A web server scores in threads: one scoring new references while another reuses a
    cached one must neither fail nor mix their numbers up."""
    import sys
    import threading

    engine.clear_reference_cache()
    short = real_speech[: 3 * RATE_HZ]
    expected = fast(short, degradations["opus"][: 3 * RATE_HZ], "speech")
    fresh = [short * (1 - 0.01 * k) for k in range(12)]
    fresh_expected = [fast(reference, degradations["opus"][: 3 * RATE_HZ], "speech") for reference in fresh]
    engine.clear_reference_cache()
    failures: list[BaseException] = []
    results: dict[str, list[float]] = {"cached": [], "fresh": []}

    def score_cached() -> None:
        try:
            for _ in range(12):
                results["cached"].append(fast(short, degradations["opus"][: 3 * RATE_HZ], "speech"))
        except BaseException as error:  # noqa: BLE001  (reported by the assertion below)
            failures.append(error)

    def score_fresh() -> None:
        try:
            results["fresh"] += [fast(reference, degradations["opus"][: 3 * RATE_HZ], "speech") for reference in fresh]
        except BaseException as error:  # noqa: BLE001
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=score_cached), threading.Thread(target=score_fresh)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures
    assert results["cached"] == [expected] * 12 and results["fresh"] == fresh_expected


def test_a_fault_of_the_engine_is_reported_as_such_not_blamed_on_the_audio(real_speech, monkeypatch):
    def broken(*args):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(engine, "score", broken)
    pair = (real_speech.astype(np.float32), RATE_HZ)
    (result,) = score_pair(pair, pair, ["visqol"])
    assert result.value is None and result.error == "visqol failed: RuntimeError: kernel exploded"


def test_a_window_of_utterances_under_three_protocols_stays_cached(real_speech, analysed):
    """The evaluation engine transcodes condition by condition across a window of 8 utterances;
    their analyses under speech, audio and audio-native must all stay cached, or every condition
    would analyse its reference again."""
    rng = np.random.default_rng(8)
    window = [real_speech * (1 - 0.02 * k) + 1e-4 * rng.standard_normal(real_speech.size) for k in range(8)]
    for condition in range(2):
        for reference in window:
            degraded = reference + 0.01 * (condition + 1) * rng.standard_normal(reference.size)
            for protocol in ("speech", "audio", "audio-native"):
                fast(reference, degraded, protocol)
    assert len(analysed) == 8 * 3
