"""Measure Codec 2's decoder delay per mode from spectral envelopes, on real and synthetic speech.

Codec 2 synthesises its own phase, so the delay is read from band-energy trajectories
(:func:`codecbench.audio.estimate_envelope_delay_samples`) of the raw decoder output, per clip;
the median per mode is printed next to the value codecbench compensates
(``codecbench.codecs.codec2.DELAY_SAMPLES_8KHZ``).

    python benchmarks/codec2_delay.py [SPEECH_DIR]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from codecbench.audio import estimate_envelope_delay_samples, load_audio, resample
from codecbench.codecs import load_codec
from codecbench.codecs.codec2 import DELAY_SAMPLES_8KHZ
from codecbench.synthetic import speech_like

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared/speech"


def raw_delays(codec, clips, label: str) -> list[int]:
    point = next(p for p in codec.spec.operating_points if p.label == label)
    delays = []
    for clip in clips:
        decoded = codec.decode(codec.encode(clip, 8_000, point))[: clip.shape[0]]
        delays.append(estimate_envelope_delay_samples(clip, decoded, 8_000, max_delay_samples=400, resolution_samples=2))
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("speech_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()

    real = []
    for path in sorted(args.speech_dir.glob("**/*.wav")) + sorted(args.speech_dir.glob("**/*.flac")):
        audio = load_audio(path)
        real.append(resample(audio.samples, audio.sample_rate_hz, 8_000))
    synthetic = [speech_like(6.0, 8_000, seed=seed) for seed in range(10)]
    codec = load_codec("codec2")

    print(f"{len(real)} real clips from {args.speech_dir}, {len(synthetic)} synthetic clips; delays in 8 kHz samples")
    print(f"{'mode':6} {'compensated':>11} {'real median':>11} {'synthetic median':>16}")
    for label, compensated in DELAY_SAMPLES_8KHZ.items():
        real_median = statistics.median(raw_delays(codec, real, label)) if real else float("nan")
        synthetic_median = statistics.median(raw_delays(codec, synthetic, label))
        print(f"{label:6} {compensated:11d} {real_median:11.1f} {synthetic_median:16.1f}")


if __name__ == "__main__":
    main()
