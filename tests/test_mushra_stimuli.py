"""Stimuli made on the server: equal lengths, delay removed, loudness matched, anchors on their mask."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile

from codecbench.audio import estimate_delay_samples, loudness_lufs, peak_dbfs
from codecbench.codecs.anchors import AnchorMask
from codecbench.listening_test.sources import load_items
from codecbench.listening_test.spec_yaml import parse_test_spec
from codecbench.listening_test.stimuli import (
    MAX_PEAK_DBFS,
    StimulusError,
    anchor_mask_report,
    prepare_item,
    render_condition,
)
from codecbench.synthetic import speech_like

RATE = 16_000


def make_spec(folder: Path, reference: np.ndarray, rate: int = RATE, conditions: str = "", extra: str = ""):
    soundfile.write(folder / "item.wav", reference, rate, subtype="FLOAT")
    text = f"name: t\nitems: [item.wav]\nconditions:\n{conditions or '  - {codec: opus, bitrate_kbps: 12}'}\n{extra}"
    spec = parse_test_spec(text, base_dir=folder)
    return spec, load_items(spec)[0]


def decode(stimulus) -> np.ndarray:
    samples, rate = soundfile.read(io.BytesIO(stimulus.audio_bytes), dtype="float32")
    assert rate == stimulus.sample_rate_hz
    return samples


def test_every_stimulus_has_the_reference_length_and_the_target_loudness(tmp_path):
    reference = speech_like(2.0, RATE, seed=1)
    spec, item = make_spec(tmp_path, reference, conditions="  - {codec: opus, bitrate_kbps: 6}\n  - {codec: codec2, bitrate_kbps: 1.2}",
                           extra="loudness_lufs: -28")
    prepared = prepare_item(item, spec)
    assert [s.condition.name for s in prepared.stimuli] == ["reference", "lowpass_3500", "lowpass_7000", "opus@6", "codec2@1.2"]
    for stimulus in prepared.stimuli:
        samples = decode(stimulus)
        assert samples.shape == reference.shape
        assert loudness_lufs(samples, RATE) == pytest.approx(-28.0, abs=0.05)
        assert stimulus.sha256 == hashlib.sha256(stimulus.audio_bytes).hexdigest()
        assert stimulus.checks["loudness_lufs"] == pytest.approx(-28.0, abs=0.05)
    # Equal byte sizes: the network shows nothing that tells the hidden reference apart.
    assert len({len(s.audio_bytes) for s in prepared.stimuli}) == 1
    assert prepared.stimuli[3].checks["measured_kbps"] == pytest.approx(6, rel=0.3)
    assert prepared.stimuli[4].checks["codec_delay_removed_samples"] == 160


def test_codec_output_is_aligned_with_the_reference(tmp_path):
    reference = speech_like(2.0, RATE, seed=2)
    spec, item = make_spec(tmp_path, reference)
    opus = next(s for s in prepare_item(item, spec).stimuli if s.condition.name == "opus@12")
    assert abs(estimate_delay_samples(reference, decode(opus), max_delay_samples=800)) <= 1


@pytest.mark.parametrize("delay", [373, -120])
def test_a_system_given_as_a_file_is_aligned_by_cross_correlation(tmp_path, delay):
    reference = speech_like(2.0, RATE, seed=3)
    rng = np.random.default_rng(0)
    degraded = 0.8 * reference + 0.01 * rng.standard_normal(reference.size).astype(np.float32)
    shifted = np.concatenate([np.zeros(delay, np.float32), degraded]) if delay > 0 else degraded[-delay:]
    soundfile.write(tmp_path / "sys.wav", shifted, RATE, subtype="FLOAT")
    spec, item = make_spec(tmp_path, reference, conditions="  - {name: mine, files: {item: sys.wav}}")
    rendered = render_condition(item, spec.planned_conditions()[-1])
    assert rendered.checks["delay_removed_samples"] == delay
    assert rendered.samples.shape == reference.shape
    assert estimate_delay_samples(reference, rendered.samples, max_delay_samples=800) == 0
    valid = slice(abs(delay), reference.size - abs(delay))
    np.testing.assert_allclose(rendered.samples[valid], degraded[valid], atol=1e-6)


def test_a_file_at_another_rate_is_resampled_to_the_item_rate(tmp_path):
    reference = speech_like(2.0, RATE, seed=4)
    soundfile.write(tmp_path / "sys.wav", speech_like(2.0, 48_000, seed=4), 48_000)
    spec, item = make_spec(tmp_path, reference, conditions="  - {name: mine, files: {item: sys.wav}, alignment: none}")
    rendered = render_condition(item, spec.planned_conditions()[-1])
    assert rendered.samples.shape == reference.shape and rendered.checks["file_sample_rate_hz"] == 48_000


@pytest.mark.parametrize("rate", [16_000, 22_050, 48_000])
def test_anchors_made_from_the_item_meet_the_bs1534_mask(tmp_path, rate):
    """Measure the anchor stimuli themselves: transfer function from white noise to each anchor."""
    noise = (0.1 * np.random.default_rng(5).standard_normal(4 * rate)).astype(np.float32)
    spec, item = make_spec(tmp_path, noise, rate)
    for name, cutoff in (("lowpass_3500", 3500.0), ("lowpass_7000", 7000.0)):
        planned = next(p for p in spec.planned_conditions() if p.name == name)
        anchor = render_condition(item, planned).samples.astype(np.float64)
        frequencies, cross = scipy.signal.csd(noise, anchor, fs=rate, nperseg=8192)
        _, power = scipy.signal.welch(noise, fs=rate, nperseg=8192)
        gain_db = 20 * np.log10(np.maximum(np.abs(cross / power), 1e-12))
        mask = AnchorMask(passband_edge_hz=cutoff)
        passband = (frequencies >= 100) & (frequencies <= cutoff)
        assert np.max(np.abs(gain_db[passband])) <= mask.passband_tolerance_db
        for frequency, attenuation in mask.stopband_points_db:
            beyond = frequencies >= frequency
            if beyond.any():
                assert np.max(gain_db[beyond]) <= -attenuation
        report = render_condition(item, planned).checks["anchor_mask"]
        assert report["passes"] and not report["identity"]


def test_mask_report_at_8khz_marks_the_mid_anchor_as_the_identity():
    report = anchor_mask_report(7000.0, 8_000)
    assert report.identity and report.passes
    low = anchor_mask_report(3500.0, 8_000)
    assert not low.identity and low.passes and list(low.stopband_attenuation_db) == []  # 4 kHz is Nyquist


def test_a_loud_item_is_lowered_as_a_whole_to_avoid_clipping(tmp_path):
    reference = speech_like(2.0, RATE, seed=6, peak=0.99)
    spec, item = make_spec(tmp_path, reference, extra="loudness_lufs: -10")
    prepared = prepare_item(item, spec)
    assert "below -10 LUFS so that no stimulus peaks above" in prepared.warnings[0]
    peaks = [peak_dbfs(decode(s)) for s in prepared.stimuli]
    assert max(peaks) == pytest.approx(MAX_PEAK_DBFS, abs=0.05)
    levels = [loudness_lufs(decode(s), RATE) for s in prepared.stimuli]
    assert max(levels) - min(levels) < 0.1  # still matched to each other


def test_a_silent_system_output_is_refused_with_the_item_and_condition(tmp_path):
    reference = speech_like(2.0, RATE, seed=7)
    soundfile.write(tmp_path / "silent.wav", np.zeros(2 * RATE, np.float32), RATE)
    spec, item = make_spec(tmp_path, reference, conditions="  - {name: broken, files: {item: silent.wav}, alignment: none}")
    with pytest.raises(StimulusError, match="item item, condition broken: the stimulus is silent"):
        prepare_item(item, spec)
