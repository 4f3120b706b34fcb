"""Speech-like test signals made on the spot (no recordings needed).

A source-filter model: a glottal pulse train with a falling, jittered pitch contour, shaped by
three formant resonators per vowel, opened and closed syllable by syllable at about four
syllables a second, with fricative noise bursts and pauses between words. Codecs built for
speech treat it much as they treat speech, which is what tests, benchmarks and demos need.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

# (F1, F2, F3) in Hz for a few vowels of an adult voice.
_VOWEL_FORMANTS_HZ = (
    (730, 1090, 2440),  # a
    (530, 1840, 2480),  # e
    (270, 2290, 3010),  # i
    (570, 840, 2410),  # o
    (300, 870, 2240),  # u
    (660, 1720, 2410),  # ae
)
_FORMANT_BANDWIDTHS_HZ = (90, 110, 170)


def speech_like(duration_s: float, sample_rate_hz: int = 16_000, *, seed: int = 0, peak: float = 0.5) -> np.ndarray:
    """A float32 mono speech-like signal of exactly ``duration_s`` seconds, peaking at ``peak``."""
    rng = np.random.default_rng(seed)
    num_samples = int(round(duration_s * sample_rate_hz))
    signal = np.zeros(num_samples, dtype=np.float64)
    position = int(0.15 * sample_rate_hz)
    syllable_index = 0
    while position < num_samples - int(0.1 * sample_rate_hz):
        syllable = _syllable(rng, sample_rate_hz, syllable_index, position / sample_rate_hz)
        end = min(num_samples, position + syllable.size)
        signal[position:end] += syllable[: end - position]
        position = end + int(rng.uniform(0.02, 0.06) * sample_rate_hz)
        syllable_index += 1
        if rng.random() < 0.25:  # a pause between words
            position += int(rng.uniform(0.12, 0.3) * sample_rate_hz)
    signal += 3e-3 * rng.standard_normal(num_samples)  # room noise about 50 dB below the peaks
    return (signal / np.max(np.abs(signal)) * peak).astype(np.float32)


def _syllable(rng: np.random.Generator, sample_rate_hz: int, index: int, time_s: float) -> np.ndarray:
    parts = []
    if rng.random() < 0.5:
        parts.append(_fricative(rng, sample_rate_hz))
    parts.append(_vowel(rng, sample_rate_hz, time_s))
    return np.concatenate(parts)


def _vowel(rng: np.random.Generator, sample_rate_hz: int, time_s: float) -> np.ndarray:
    length = int(rng.uniform(0.12, 0.26) * sample_rate_hz)
    f0_start = 150.0 - 4.0 * time_s + rng.uniform(-15, 15)  # declination over the utterance
    f0 = np.linspace(f0_start, f0_start * rng.uniform(0.8, 1.05), length)
    f0 *= 1 + 0.01 * rng.standard_normal(length).cumsum() / np.sqrt(np.arange(1, length + 1))
    phase = np.cumsum(f0 / sample_rate_hz)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    glottal = scipy.signal.lfilter([1.0], [1.0, -0.95], pulses)  # -6 dB/octave source tilt
    glottal *= 1 + 0.1 * rng.standard_normal(length)  # shimmer
    glottal += 0.15 * rng.standard_normal(length)  # breathiness
    # A transition between two vowels (a diphthong or a coarticulated pair).
    first, second = (_filter_vowel(glottal, rng.integers(len(_VOWEL_FORMANTS_HZ)), sample_rate_hz) for _ in range(2))
    blend = np.clip(np.linspace(-0.5, 1.5, length), 0.0, 1.0)
    voiced = np.diff((1 - blend) * first + blend * second, prepend=0.0)  # lip radiation
    envelope = np.sin(np.linspace(0, np.pi, length)) ** 0.6
    voiced *= envelope / (np.max(np.abs(voiced)) + 1e-12)
    return voiced * rng.uniform(0.5, 1.0)


def _filter_vowel(source: np.ndarray, vowel: int, sample_rate_hz: int) -> np.ndarray:
    filtered = source
    for frequency, bandwidth in zip(_VOWEL_FORMANTS_HZ[vowel], _FORMANT_BANDWIDTHS_HZ):
        if frequency < sample_rate_hz / 2 - bandwidth:
            filtered = scipy.signal.lfilter(*_resonator(frequency, bandwidth, sample_rate_hz), filtered)
    return filtered / (np.max(np.abs(filtered)) + 1e-12)


def _fricative(rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    length = int(rng.uniform(0.04, 0.09) * sample_rate_hz)
    centre_hz = min(rng.uniform(2500, 6000), 0.4 * sample_rate_hz)
    noise = scipy.signal.lfilter(*_resonator(centre_hz, centre_hz / 3, sample_rate_hz), rng.standard_normal(length))
    noise *= np.hanning(length) / (np.max(np.abs(noise)) + 1e-12)
    return 0.3 * noise


def _resonator(frequency_hz: float, bandwidth_hz: float, sample_rate_hz: int) -> tuple[list[float], list[float]]:
    radius = np.exp(-np.pi * bandwidth_hz / sample_rate_hz)
    theta = 2 * np.pi * frequency_hz / sample_rate_hz
    a = [1.0, -2 * radius * np.cos(theta), radius**2]
    return [sum(a)], a
