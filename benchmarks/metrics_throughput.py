"""Measure how fast codecbench scores: ViSQOL per pair, its first-call cost, pool speed-up, PESQ, STOI.

Pairs are 8 s of real speech (the clips of at least 8 s in ../shared/speech, cut to 8 s)
against their reconstructions through Opus 6 kbps, Codec 2 3200 and the 3.5 kHz anchor.
Printed figures, with the targets of issue 3:

- ViSQOL ``speech`` seconds per pair after warm-up on one core (numba and BLAS on one
  thread; target <= 0.16 s, i.e. >= 50x real time per core), and with numba on every core;
- the first pair's cost in a fresh process, with numba's on-disk cache filled (the normal
  case) and empty (the first run after installing);
- whole pairs (reading, checks, alignment, ViSQOL) through a one-worker and a two-worker
  pool: seconds per pair and the speed-up of two workers over one (target >= 1.8x);
- PESQ (wide-band) and STOI seconds per pair.

    python benchmarks/metrics_throughput.py [--speech-dir DIR] [--repeats N]

Timings are wall-clock, so they depend on what else the machine is doing; for single-threaded
ViSQOL the CPU time per pair is printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from codecbench.audio import fit_length, load_audio, prepare_audio
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import MetricsPool, ScoringConfig, ScoringPair, prepare_pair
from codecbench.evaluation.metrics.pesq import PESQ_WB, pesq_mos
from codecbench.evaluation.metrics.stoi import stoi_score
from codecbench.evaluation.metrics.visqol import visqol_mos, visqol_protocol, warm_up

DEFAULT_SPEECH_DIR = Path(__file__).resolve().parents[2] / "shared/speech"
PAIR_S = 8.0
CONDITIONS = (("opus", 6.0), ("codec2", 3.2), ("lowpass_3500", None))
VISQOL_ONLY = ScoringConfig(("visqol",), ("speech",))

# Scores one pair in a fresh interpreter and prints how long the import and the score took.
FIRST_CALL = """
import time, sys
started = time.perf_counter()
from codecbench.evaluation.metrics import score_pair
from codecbench.synthetic import speech_like
reference = speech_like(8.0, 16_000, seed=1, peak=0.3)
(result,) = score_pair((reference, 16_000), (reference * 0.5, 16_000), ["visqol"])
assert result.ok, result.error
print(time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--repeats", type=int, default=3, help="passes over the pairs for each timing")
    args = parser.parse_args()

    pairs = make_pairs(args.speech_dir)
    print(f"{len(pairs)} pairs of {PAIR_S:g} s real speech from {args.speech_dir}")
    prepared = [prepare_pair(pair.reference, pair.degraded) for pair in pairs]

    warm_up(("speech",))
    import numba  # after ViSQOL, which picks numba's threading layer

    speech = visqol_protocol("speech")
    all_cores, _ = per_pair_s(lambda pair: visqol_mos(pair, speech), prepared, args.repeats)
    numba.set_num_threads(1)
    with threadpool_limits(limits=1):
        one_core, one_core_cpu = per_pair_s(lambda pair: visqol_mos(pair, speech), prepared, args.repeats)
        pesq_s, _ = per_pair_s(lambda pair: pesq_mos(pair, PESQ_WB), prepared, args.repeats)
        stoi_s, _ = per_pair_s(lambda pair: stoi_score(pair, extended=False), prepared, args.repeats)
    one_worker_s, two_workers_s = pool_seconds(pairs, args.repeats)
    cached_s, cold_s = first_call_seconds()

    num_scored = len(pairs) * args.repeats
    rows = [
        ("ViSQOL speech, s per pair, one core", f"{one_core:.3f}", "<= 0.16"),
        ("  = x real time per core", f"{PAIR_S / one_core:.0f}", ">= 50"),
        ("  CPU s per pair (what it costs on an idle core)", f"{one_core_cpu:.3f}", ""),
        ("ViSQOL speech, s per pair, numba on all cores", f"{all_cores:.3f}", ""),
        ("ViSQOL first pair in a fresh process, numba cache filled, s", f"{cached_s:.1f}", ""),
        ("ViSQOL first pair in a fresh process, numba cache empty, s", f"{cold_s:.1f}", ""),
        ("whole pairs, 1-worker pool, s per pair", f"{one_worker_s / num_scored:.3f}", ""),
        ("whole pairs, 2-worker pool, s per pair", f"{two_workers_s / num_scored:.3f}", ""),
        ("  2 workers over 1, speed-up", f"{one_worker_s / two_workers_s:.2f}x", ">= 1.8x"),
        ("PESQ wide-band, s per pair, one core", f"{pesq_s:.3f}", ""),
        ("STOI, s per pair, one core", f"{stoi_s:.3f}", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>8}  {('target ' + target) if target else ''}")


def make_pairs(speech_dir: Path) -> list[ScoringPair]:
    clips = sorted(path for path in speech_dir.rglob("*") if path.suffix in (".wav", ".flac"))
    pairs = []
    for path in clips:
        audio = load_audio(path)
        if audio.duration_s < PAIR_S or audio.sample_rate_hz != 16_000:
            continue
        reference = prepare_audio(fit_length(audio.samples, int(PAIR_S * 16_000)), 16_000, source=str(path))
        for name, kbps in CONDITIONS:
            codec = load_codec(name)
            degraded = transcode(codec, reference, codec.spec.operating_point(kbps)).samples
            pairs.append(ScoringPair(f"{path.stem}/{name}", reference, (degraded, 16_000)))
    if not pairs:
        raise SystemExit(f"no 16 kHz clip of at least {PAIR_S:g} s under {speech_dir}")
    return pairs


def per_pair_s(score, prepared, repeats: int) -> tuple[float, float]:
    """(wall-clock, CPU) seconds per pair; on a busy machine the CPU time is the fairer figure
    for single-threaded work, as it leaves out the time other processes held the core."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        for pair in prepared:
            score(pair)
    count = len(prepared) * repeats
    return (time.perf_counter() - started) / count, (time.process_time() - started_cpu) / count


def pool_seconds(pairs: list[ScoringPair], repeats: int) -> tuple[float, float]:
    """Wall-clock seconds for a one-worker and a two-worker pool to score every pair ``repeats`` times."""
    seconds = []
    for workers in (1, 2):
        with MetricsPool(VISQOL_ONLY, workers=workers) as pool:
            for ready in pool.start():
                ready.result()
            started = time.perf_counter()
            for scores in pool.score(pairs * repeats):
                assert all(result.ok for result in scores.results), scores
            seconds.append(time.perf_counter() - started)
    return seconds[0], seconds[1]


def first_call_seconds() -> tuple[float, float]:
    """(numba cache filled, numba cache empty): one fresh process each, import included."""
    cached = float(subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as empty_cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": empty_cache}
        completed = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True, env=env)
    return cached, float(completed.stdout)


if __name__ == "__main__":
    main()
