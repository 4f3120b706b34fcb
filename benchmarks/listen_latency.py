"""Time the Listen page's work at library level and print it as a ratio of the clip's length.

A 10 s clip through Opus 6/12/24 kbps, Codec 2 3200 and both MUSHRA anchors, with the
original's and every condition's spectrogram, written to disk as the page does.
Target on a 2-core machine: total below 0.3 x the clip's duration.

    python benchmarks/listen_latency.py [CLIP] [--repeats N]

CLIP defaults to ../shared/speech's 10.32 s WenetSpeech clip when present, else a synthetic one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from codecbench.audio import fit_length, load_audio, prepare_audio
from codecbench.codecs import load_codec
from codecbench.comparison import Condition, compare, show_original
from codecbench.synthetic import speech_like

CONDITIONS = [
    Condition("opus", 6.0),
    Condition("opus", 12.0),
    Condition("opus", 24.0),
    Condition("codec2", 3.2),
    Condition("lowpass_3500"),
    Condition("lowpass_7000"),
]
DEFAULT_CLIP = Path(__file__).resolve().parents[2] / "shared/speech/zh/zh_wenetspeech_testnet_Y0000000028_S00207.wav"
CLIP_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clip", nargs="?", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    if args.clip.exists():
        loaded = load_audio(args.clip)
        audio = prepare_audio(fit_length(loaded.samples, int(CLIP_S * loaded.sample_rate_hz)), loaded.sample_rate_hz, source=str(args.clip))
    else:
        audio = prepare_audio(speech_like(CLIP_S, 16_000), 16_000, source="synthetic speech")
    for condition in CONDITIONS:  # loading is a one-off per process, not part of a comparison
        load_codec(condition.codec)

    totals = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            original = show_original(audio, Path(folder))
            outcomes = list(compare(audio, CONDITIONS, Path(folder), scale=original.scale))
            totals.append(time.perf_counter() - started)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise SystemExit(f"conditions failed: {[(str(o.condition), o.error) for o in failed]}")

    codec_s = sum(o.summary["processing_s"] for o in outcomes)
    print(f"clip: {audio.source} ({audio.duration_s:.2f} s at {audio.sample_rate_hz} Hz)")
    print(f"conditions: {', '.join(str(c) for c in CONDITIONS)} + 7 spectrograms")
    print(f"total per comparison: median {statistics.median(totals):.3f} s, min {min(totals):.3f} s over {args.repeats} runs")
    print(f"  of which codecs (last run): {codec_s:.3f} s")
    print(f"ratio to clip duration: {statistics.median(totals) / audio.duration_s:.3f} (target < 0.3)")


if __name__ == "__main__":
    main()
