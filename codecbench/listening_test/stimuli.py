"""Making the stimuli of a MUSHRA test on the server, with checks a listener can trust.

For each item every condition is rendered at the item's own sample rate: registry codecs through
:func:`codecbench.codecs.transcode` (codec delay removed, same length as the input), the
BS.1534-3 anchors by the registry's zero-phase filters (their response checked against the
standard's mask), systems given as files resampled, aligned to the reference by
cross-correlation and cut to its length. Then all stimuli of the item are brought to one
integrated loudness (BS.1770-4), lowered together if that would clip, and encoded as 16-bit WAV
with a SHA-256 of the bytes, which the server checks again whenever it serves them. WAV rather
than FLAC: every stimulus of an item then has exactly the same size, so a participant watching
the network cannot spot the hidden reference (FLAC sizes would match the open reference's).
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.signal
import soundfile

from codecbench.audio import (
    AudioError,
    AudioLimits,
    estimate_delay_samples,
    estimate_envelope_delay_samples,
    fit_length,
    load_audio,
    loudness_lufs,
    peak_dbfs,
    resample,
)
from codecbench.codecs import load_codec, transcode
from codecbench.codecs.anchors import AnchorMask, lowpass_taps
from codecbench.listening_test.sources import ItemAudio
from codecbench.listening_test.spec import CodecCondition, FileCondition, PlannedCondition, TestSpec

STIMULUS_MEDIA_TYPE = "audio/wav"
# The loudest stimulus of an item peaks at most here after loudness matching (16-bit headroom).
MAX_PEAK_DBFS = -1.0
# Systems given as files may lag or lead the reference by up to this much.
MAX_FILE_DELAY_S = 0.5
ANCHOR_CUTOFFS_HZ = {"lowpass_3500": 3500.0, "lowpass_7000": 7000.0}


class StimulusError(ValueError):
    """A stimulus cannot be made as the test asks; the message names the item and condition."""


@dataclass(frozen=True)
class MaskReport:
    """How an anchor filter, designed at one sample rate, meets the ITU-R BS.1534-3 mask.

    Attributes:
        passband_deviation_db: largest |gain| up to the cut-off.
        stopband_attenuation_db: frequency -> least attenuation at and above it (mask points
            above Nyquist are left out: nothing exists there to attenuate).
        identity: the cut-off is at or above Nyquist, so the anchor equals the reference.
    """

    cutoff_hz: float
    sample_rate_hz: int
    passband_deviation_db: float
    stopband_attenuation_db: dict[float, float]
    identity: bool = False

    @property
    def passes(self) -> bool:
        mask = AnchorMask(passband_edge_hz=self.cutoff_hz)
        required = dict(mask.stopband_points_db)
        return self.passband_deviation_db <= mask.passband_tolerance_db and all(
            attenuation >= required[frequency] for frequency, attenuation in self.stopband_attenuation_db.items()
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff_hz": self.cutoff_hz,
            "passband_deviation_db": round(self.passband_deviation_db, 4),
            "stopband_attenuation_db": {f"{f:g}": round(a, 1) for f, a in self.stopband_attenuation_db.items()},
            "identity": self.identity,
            "passes": self.passes,
        }


def anchor_mask_report(cutoff_hz: float, sample_rate_hz: int) -> MaskReport:
    """Measure the registry's anchor filter at ``sample_rate_hz`` against the BS.1534-3 mask."""
    taps = lowpass_taps(float(cutoff_hz), int(sample_rate_hz))
    nyquist = sample_rate_hz / 2
    mask = AnchorMask(passband_edge_hz=cutoff_hz)
    if taps is None:
        return MaskReport(cutoff_hz, sample_rate_hz, 0.0, {}, identity=True)
    frequencies, response = scipy.signal.freqz(taps, worN=1 << 16, fs=sample_rate_hz)
    gain_db = 20 * np.log10(np.maximum(np.abs(response), 1e-12))
    deviation = float(np.max(np.abs(gain_db[frequencies <= cutoff_hz])))
    attenuation = {
        frequency: float(-np.max(gain_db[frequencies >= frequency]))
        for frequency, _ in mask.stopband_points_db
        if frequency < nyquist
    }
    return MaskReport(cutoff_hz, sample_rate_hz, deviation, attenuation)


@dataclass(frozen=True)
class RenderedStimulus:
    """One condition applied to one item, before loudness matching.

    Attributes:
        samples: float32 ``[num_samples]`` at the item's rate, as long as the reference.
        checks: what was measured or removed on the way (delay, bitrate, anchor mask), stored
            with the stimulus.
    """

    condition: PlannedCondition
    samples: np.ndarray
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedStimulus:
    """A finished stimulus: loudness-matched audio encoded as WAV, with its checksum and checks."""

    condition: PlannedCondition
    samples: np.ndarray
    sample_rate_hz: int
    audio_bytes: bytes
    sha256: str
    checks: dict[str, Any]

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])


@dataclass(frozen=True)
class PreparedItem:
    """All stimuli of one item, equal in length and loudness."""

    item: ItemAudio
    stimuli: tuple[PreparedStimulus, ...]
    warnings: tuple[str, ...] = ()

    @property
    def sample_rate_hz(self) -> int:
        return self.item.audio.sample_rate_hz

    @property
    def num_samples(self) -> int:
        return self.item.audio.num_samples


def prepare_item(item: ItemAudio, spec: TestSpec) -> PreparedItem:
    """Render, align, level-match and encode every condition of ``spec`` for one item.

    Raises:
        StimulusError: a condition fails, yields silence, or an anchor misses its mask.
    """
    rendered = [render_condition(item, planned) for planned in spec.planned_conditions()]
    return match_loudness(item, rendered, spec.loudness_lufs)


def render_condition(item: ItemAudio, planned: PlannedCondition) -> RenderedStimulus:
    """Apply one condition to an item's reference, at the item's rate and length."""
    reference = item.audio
    where = f"item {item.name}, condition {planned.name}"
    if planned.source is None:
        return RenderedStimulus(planned, reference.samples.copy(), {"source": "reference"})
    try:
        if isinstance(planned.source, FileCondition):
            return _render_file(item, planned, planned.source)
        return _render_codec(item, planned, planned.source)
    except StimulusError:
        raise
    except Exception as error:  # a codec or file failure names the item and condition
        raise StimulusError(f"{where}: {error}") from error


def _render_codec(item: ItemAudio, planned: PlannedCondition, source: CodecCondition) -> RenderedStimulus:
    codec = load_codec(source.codec)
    result = transcode(codec, item.audio, codec.spec.operating_point(source.bitrate_kbps))
    checks: dict[str, Any] = {
        "source": "codec",
        "codec": source.codec,
        "operating_point": result.operating_point.label,
        "measured_kbps": None if result.measured_kbps is None else round(result.measured_kbps, 3),
        "codec_delay_removed_samples": result.delay_samples,
        "codec_sample_rate_hz": result.codec_sample_rate_hz,
    }
    if source.codec in ANCHOR_CUTOFFS_HZ:
        report = anchor_mask_report(ANCHOR_CUTOFFS_HZ[source.codec], item.audio.sample_rate_hz)
        if not report.passes:
            raise StimulusError(
                f"item {item.name}, anchor {source.codec}: the filter misses the BS.1534-3 mask at "
                f"{item.audio.sample_rate_hz} Hz ({report.to_dict()})."
            )
        checks["anchor_mask"] = report.to_dict()
    return RenderedStimulus(planned, result.samples, checks)


def _render_file(item: ItemAudio, planned: PlannedCondition, source: FileCondition) -> RenderedStimulus:
    path = source.files[item.name]
    try:
        audio = load_audio(path, limits=AudioLimits(min_duration_s=0.0))
    except AudioError as error:
        raise StimulusError(f"item {item.name}, condition {planned.name}: {error}") from None
    rate = item.audio.sample_rate_hz
    samples = resample(audio.samples, audio.sample_rate_hz, rate)
    reference = item.audio.samples
    max_delay = int(MAX_FILE_DELAY_S * rate)
    if source.alignment == "waveform":
        delay = estimate_delay_samples(reference, samples, max_delay_samples=max_delay)
    elif source.alignment == "envelope":
        delay = estimate_envelope_delay_samples(reference, samples, rate, max_delay_samples=max_delay)
    else:
        delay = 0
    aligned = samples[delay:] if delay >= 0 else np.concatenate([np.zeros(-delay, np.float32), samples])
    checks = {
        "source": "file",
        "path": str(path),
        "file_sample_rate_hz": audio.sample_rate_hz,
        "alignment": source.alignment,
        "delay_removed_samples": int(delay),
        "length_difference_samples": int(samples.shape[0] - delay - reference.shape[0]),
    }
    return RenderedStimulus(planned, fit_length(aligned.astype(np.float32), reference.shape[0]), checks)


def match_loudness(item: ItemAudio, rendered: list[RenderedStimulus], target_lufs: float) -> PreparedItem:
    """Bring every stimulus of an item to ``target_lufs``, lowering all together to avoid clipping."""
    rate = item.audio.sample_rate_hz
    warnings = []
    levels = []
    for stimulus in rendered:
        level = loudness_lufs(stimulus.samples, rate)
        if not math.isfinite(level):
            raise StimulusError(
                f"item {item.name}, condition {stimulus.condition.name}: the stimulus is silent "
                "(below the BS.1770 absolute gate); the codec or file produced no audible signal."
            )
        levels.append(level)
    gains_db = [target_lufs - level for level in levels]
    loudest_peak = max(peak_dbfs(s.samples) + g for s, g in zip(rendered, gains_db))
    headroom_cut_db = max(0.0, loudest_peak - MAX_PEAK_DBFS)
    if headroom_cut_db > 0:
        warnings.append(
            f"item {item.name}: played {headroom_cut_db:.1f} dB below {target_lufs:g} LUFS so that no "
            f"stimulus peaks above {MAX_PEAK_DBFS:g} dBFS."
        )
    prepared = []
    for stimulus, level, gain_db in zip(rendered, levels, gains_db):
        gain_db -= headroom_cut_db
        samples = (stimulus.samples * np.float32(10 ** (gain_db / 20))).astype(np.float32)
        audio_bytes = encode_wav(samples, rate)
        checks = {
            **stimulus.checks,
            "input_loudness_lufs": round(level, 2),
            "gain_db": round(gain_db, 3),
            "loudness_lufs": round(loudness_lufs(samples, rate), 2),
            "peak_dbfs": round(peak_dbfs(samples), 2),
        }
        prepared.append(
            PreparedStimulus(
                condition=stimulus.condition,
                samples=samples,
                sample_rate_hz=rate,
                audio_bytes=audio_bytes,
                sha256=hashlib.sha256(audio_bytes).hexdigest(),
                checks=checks,
            )
        )
    lengths = {stimulus.num_samples for stimulus in prepared}
    assert lengths == {item.audio.num_samples}, f"unequal stimulus lengths {lengths}"
    return PreparedItem(item=item, stimuli=tuple(prepared), warnings=tuple(warnings))


def encode_wav(samples: np.ndarray, sample_rate_hz: int) -> bytes:
    """16-bit PCM WAV bytes of mono float audio (what every browser's ``decodeAudioData`` reads)."""
    buffer = io.BytesIO()
    clipped = np.clip(samples, -1.0, 32767 / 32768)
    soundfile.write(buffer, clipped, sample_rate_hz, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def anchor_identity_warnings(items: list[PreparedItem]) -> list[str]:
    """Anchors that equal the reference at some item's rate (e.g. the 7 kHz anchor at 8 kHz)."""
    warnings = []
    for prepared in items:
        for stimulus in prepared.stimuli:
            mask = stimulus.checks.get("anchor_mask")
            if mask and mask["identity"]:
                warnings.append(
                    f"item {prepared.item.name}: {stimulus.condition.name} equals the reference at "
                    f"{prepared.sample_rate_hz} Hz (nothing lies above its cut-off)."
                )
    return warnings
