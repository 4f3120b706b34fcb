"""Measure how fast codecbench scores, and that its ViSQOL engine agrees with visqol-python.

Timing pairs are 8 s of real speech (the clips of at least 8 s in ../shared/speech, cut to
8 s); every timing runs on one core (numba and BLAS on one thread). Printed, for each ViSQOL
protocol, with the targets of issue 16:

- visqol-python's seconds per pair, and codecbench's engine on a single pair (the reference
  analysed for that pair alone; target >= 60x real time for ``speech`` and ``audio-native``);
- codecbench's engine per condition when one reference is scored against 1, 5 and 20
  conditions (its analysis shared), and the marginal cost of one more condition (target
  <= 0.08 s, i.e. >= 100x real time);
- agreement with visqol-python over every clip of ../shared/speech (at least 2.5 s, at 16 kHz)
  through Opus, Codec 2 and the anchors at several rates and generated degradations (low-pass,
  noise, clipping, delay, gain): pairs, mean and max |difference| (target 1e-4 and 1e-3);
- the whole ``standard`` metric set per pair with each engine, PESQ and STOI alone, the pool's
  speed-up with two workers, the first pair's cost in a fresh process;
- what a 20-condition board over the seven full test sets (100 h of speech) costs on 32 cores.

    python benchmarks/metrics_throughput.py [--speech-dir DIR] [--repeats N] [--profile]
        [--agreement-protocols speech,audio-native,...] [--skip-agreement]

Timings are wall-clock and depend on what else the machine is doing; CPU seconds are printed
beside the single-threaded ViSQOL figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.signal
from threadpoolctl import threadpool_limits

from codecbench.audio import fit_length, load_audio, prepare_audio, resample
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import MetricsPool, ScoringConfig, ScoringPair, prepare_pair, score_prepared_pair
from codecbench.evaluation.metrics.pesq import PESQ_WB, pesq_mos
from codecbench.evaluation.metrics.registry import DEFAULT_METRICS, VISQOL_ENGINE_VARIABLE
from codecbench.evaluation.metrics.stoi import stoi_score
from codecbench.evaluation.metrics.visqol import VISQOL_PROTOCOLS, fast_engine, visqol_mos, visqol_protocol, warm_up

DEFAULT_SPEECH_DIR = Path(__file__).resolve().parents[2] / "shared/speech"
PAIR_S = 8.0
RATE_HZ = 16_000
AGREEMENT_MIN_S = 2.5
BOARD_HOURS = 100.0
BOARD_CONDITIONS = 20
BOARD_CORES = 32
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


def degraded_versions(reference: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """23 conditions: codecs and anchors at several rates, and generated degradations."""
    audio = prepare_audio(reference.astype(np.float32), RATE_HZ)
    out: dict[str, np.ndarray] = {}
    for name, points in (("opus", (6.0, 8.0, 12.0, 16.0, 24.0)), ("codec2", (0.7, 1.2, 2.4, 3.2)),
                         ("lowpass_3500", (None,)), ("lowpass_7000", (None,))):
        codec = load_codec(name)
        for kbps in points:
            result = transcode(codec, audio, codec.spec.operating_point(kbps))
            out[f"{name} {kbps or ''}".strip()] = np.asarray(result.samples, np.float64)
    level = np.std(reference)
    for cutoff in (1500, 2500, 5000):
        out[f"low-pass {cutoff} Hz"] = scipy.signal.sosfilt(scipy.signal.butter(8, cutoff, fs=RATE_HZ, output="sos"), reference)
    for snr in (5, 15, 30):
        out[f"noise {snr} dB"] = reference + rng.standard_normal(reference.size) * level * 10 ** (-snr / 20)
    for fraction in (0.1, 0.4):
        peak = fraction * np.max(np.abs(reference))
        out[f"clipped at {fraction:g} of peak"] = np.clip(reference, -peak, peak)
    for delay_ms in (30, 250):
        out[f"late {delay_ms} ms"] = np.concatenate([np.zeros(RATE_HZ * delay_ms // 1000), reference])[: reference.size]
    for gain_db in (-20, 6):
        out[f"gain {gain_db} dB"] = reference * 10 ** (gain_db / 20)
    return out


def speech_clips(speech_dir: Path, min_s: float) -> list[tuple[str, np.ndarray]]:
    """Every clip of at least ``min_s`` seconds, as 16 kHz float64."""
    clips = []
    for path in sorted(p for p in speech_dir.rglob("*") if p.suffix in (".wav", ".flac")):
        audio = load_audio(path)
        if audio.duration_s < min_s:
            continue
        samples = audio.samples if audio.samples.ndim == 1 else audio.samples.mean(axis=1)
        if audio.sample_rate_hz != RATE_HZ:
            samples = resample(samples, audio.sample_rate_hz, RATE_HZ)
        clips.append((path.name, np.ascontiguousarray(samples, np.float64)))
    return clips


def score_both(reference: np.ndarray, degraded: np.ndarray, protocol_name: str) -> tuple[float, float]:
    pair = prepare_pair((reference.astype(np.float32), RATE_HZ), (degraded.astype(np.float32), RATE_HZ))
    protocol = visqol_protocol(protocol_name)
    return visqol_mos(pair, protocol, "visqol-python"), visqol_mos(pair, protocol, "codecbench")


def agreement(clips: list[tuple[str, np.ndarray]], protocols: list[str]) -> list[tuple[str, int, float, float, str]]:
    """(protocol, pairs, mean |d|, max |d|, worst pair) over every clip and condition."""
    rng = np.random.default_rng(0)
    versions = [(name, reference, degraded_versions(reference, rng)) for name, reference in clips]
    rows = []
    for protocol in protocols:
        differences: list[tuple[float, str]] = []
        for name, reference, degraded in versions:
            for condition, signal in degraded.items():
                theirs, ours = score_both(reference, signal, protocol)
                differences.append((abs(ours - theirs), f"{name} / {condition}"))
        values = np.array([d for d, _ in differences])
        worst = max(differences)
        rows.append((protocol, len(values), float(values.mean()), float(values.max()), worst[1]))
    return rows


def seconds(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(wall-clock, CPU) seconds per call."""
    started, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats, (time.process_time() - started_cpu) / repeats


def engine_timings(references: list[np.ndarray], protocol_name: str, repeats: int) -> dict[str, float]:
    """Per-pair seconds of each engine under one protocol, over the 8 s references."""
    engine = fast_engine()
    protocol = visqol_protocol(protocol_name)
    rng = np.random.default_rng(1)
    prepared = []
    for reference in references:
        rate = protocol.run_rate_hz(RATE_HZ)
        conditions = list(degraded_versions(reference, rng).values())[:20]
        if rate != RATE_HZ:
            reference = resample(reference, RATE_HZ, rate)
            conditions = [resample(signal, RATE_HZ, rate) for signal in conditions]
        prepared.append((np.ascontiguousarray(reference, np.float64), [np.ascontiguousarray(c, np.float64) for c in conditions], rate))
    settings = [engine.VisqolSettings(protocol.mode == "speech", protocol.mapping, rate) for _, _, rate in prepared]

    def legacy() -> None:
        api = _legacy_api(protocol_name)
        for (reference, conditions, rate) in prepared:
            api.measure_from_arrays(reference, conditions[0], rate)

    def single() -> None:
        for (reference, conditions, _), setting in zip(prepared, settings):
            engine.score(engine.analyse_reference(reference, setting), conditions[0])

    def shared(count: int) -> Callable[[], None]:
        def run() -> None:
            for (reference, conditions, _), setting in zip(prepared, settings):
                analysis = engine.analyse_reference(reference, setting)
                for condition in conditions[:count]:
                    engine.score(analysis, condition)
        return run

    legacy()  # loads the models
    single()
    figures: dict[str, float] = {}
    count = len(prepared)
    figures["visqol-python"], figures["visqol-python cpu"] = (v / count for v in seconds(legacy, repeats))
    figures["single"], figures["single cpu"] = (v / count for v in seconds(single, repeats))
    for conditions in (1, 5, 20):
        wall, _ = seconds(shared(conditions), repeats)
        figures[f"per condition, {conditions}"] = wall / count / conditions
    analyses = [engine.analyse_reference(reference, setting) for (reference, _, _), setting in zip(prepared, settings)]

    def marginal() -> None:
        for analysis, (_, conditions, _) in zip(analyses, prepared):
            for condition in conditions[:5]:
                engine.score(analysis, condition)

    figures["marginal"], _ = seconds(marginal, repeats)
    figures["marginal"] /= count * 5
    return figures


def _legacy_api(protocol_name: str):  # type: ignore[no-untyped-def]
    from codecbench.evaluation.metrics.visqol import _visqol_api

    return _visqol_api(protocol_name)


def metric_set_seconds(pairs: list[ScoringPair], repeats: int) -> dict[str, float]:
    """Seconds per pair of the whole ``standard`` set with each ViSQOL engine, and PESQ, STOI alone."""
    config = ScoringConfig(DEFAULT_METRICS)
    prepared = [prepare_pair(pair.reference, pair.degraded) for pair in pairs]
    figures = {}
    for engine in ("visqol-python", "codecbench"):
        os.environ[VISQOL_ENGINE_VARIABLE] = engine
        for pair in prepared:  # loads, and lets the engine analyse each reference once before timing
            score_prepared_pair(pair, config)
        figures[engine] = seconds(lambda: [score_prepared_pair(pair, config) for pair in prepared], repeats)[0] / len(prepared)
    os.environ.pop(VISQOL_ENGINE_VARIABLE)
    figures["pesq"] = seconds(lambda: [pesq_mos(pair, PESQ_WB) for pair in prepared], repeats)[0] / len(prepared)
    figures["stoi"] = seconds(lambda: [stoi_score(pair, extended=False) for pair in prepared], repeats)[0] / len(prepared)
    return figures


def timing_references(speech_dir: Path) -> list[np.ndarray]:
    return [fit_length(samples, int(PAIR_S * RATE_HZ)) for _, samples in speech_clips(speech_dir, PAIR_S)]


def timing_pairs(references: list[np.ndarray]) -> list[ScoringPair]:
    """Each reference against Opus 6 kbps, Codec 2 3200 and the 3.5 kHz anchor."""
    pairs = []
    for index, samples in enumerate(references):
        reference = prepare_audio(samples.astype(np.float32), RATE_HZ)
        for name, kbps in (("opus", 6.0), ("codec2", 3.2), ("lowpass_3500", None)):
            codec = load_codec(name)
            degraded = transcode(codec, reference, codec.spec.operating_point(kbps)).samples
            pairs.append(ScoringPair(f"{index}/{name}", reference, (degraded, RATE_HZ)))
    return pairs


def pool_seconds(pairs: list[ScoringPair], repeats: int) -> tuple[float, float]:
    """Wall-clock seconds for a one-worker and a two-worker pool to score every pair ``repeats`` times."""
    result = []
    for workers in (1, 2):
        with MetricsPool(VISQOL_ONLY, workers=workers) as pool:
            for ready in pool.start():
                ready.result()
            started = time.perf_counter()
            for scores in pool.score(pairs * repeats):
                assert all(item.ok for item in scores.results), scores
            result.append(time.perf_counter() - started)
    return result[0], result[1]


def first_call_seconds() -> tuple[float, float]:
    """(numba cache filled, numba cache empty): one fresh process each, import included."""
    cached = float(subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as empty_cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": empty_cache}
        completed = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=True, env=env)
    return cached, float(completed.stdout)


def print_profiles(reference: np.ndarray) -> None:
    """Where a pair's time goes in visqol-python and in codecbench's engine (``speech``)."""
    engine = fast_engine()
    degraded = degraded_versions(reference, np.random.default_rng(2))["opus 6.0"]
    settings = engine.VisqolSettings(True, "lattice", RATE_HZ)
    api = _legacy_api("speech")
    runs = {
        "visqol-python, one pair": lambda: api.measure_from_arrays(reference, degraded, RATE_HZ),
        "codecbench engine, one pair": lambda: engine.score(engine.analyse_reference(reference, settings), degraded),
        "codecbench engine, one more condition": lambda: engine.score(engine.reference_analysis(reference, settings), degraded),
    }
    for title, run in runs.items():
        run()
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(5):
            run()
        profile.disable()
        print(f"\n--- profile: {title} (5 runs; tottime is per 5) ---")
        pstats.Stats(profile).strip_dirs().sort_stats("tottime").print_stats(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--repeats", type=int, default=3, help="passes over the pairs for each timing")
    parser.add_argument("--profile", action="store_true", help="also print where a pair's time goes in each engine")
    parser.add_argument("--agreement-protocols", default=",".join(VISQOL_PROTOCOLS),
                        help="ViSQOL protocols to check against visqol-python (comma-separated)")
    parser.add_argument("--skip-agreement", action="store_true")
    args = parser.parse_args()

    references = timing_references(args.speech_dir)
    if not references:
        raise SystemExit(f"no clip of at least {PAIR_S:g} s under {args.speech_dir}")
    print(f"timing: {len(references)} references of {PAIR_S:g} s real speech from {args.speech_dir}, one core")
    warm_up(tuple(VISQOL_PROTOCOLS))
    import numba  # after ViSQOL, which picks numba's threading layer

    numba.set_num_threads(1)
    with threadpool_limits(limits=1):
        by_protocol = {protocol: engine_timings(references, protocol, args.repeats) for protocol in VISQOL_PROTOCOLS}
        pairs = timing_pairs(references)
        metric_set = metric_set_seconds(pairs, args.repeats)
        if args.profile:
            print_profiles(references[0])

    print("\nViSQOL, seconds per 8 s pair (x real time)")
    print("(ours: codecbench's engine per condition when one reference is scored against 1, 5 or 20 conditions;")
    print(" marginal: one more condition once the reference is analysed)")
    header = ["protocol", "visqol-python", "ours, 1", "ours, 5", "ours, 20", "marginal", "target"]
    print("  ".join(f"{h:>15}" for h in header))
    for protocol, figures in by_protocol.items():
        cells = [figures[key] for key in ("visqol-python", "per condition, 1", "per condition, 5", "per condition, 20", "marginal")]
        target = "60x / 100x" if protocol in ("speech", "audio-native") else ""
        print(f"{protocol:>15}  " + "  ".join(f"{v:.3f} ({PAIR_S / v:3.0f}x)" for v in cells) + f"  {target:>15}")
    print("CPU seconds per pair, one pair: " + ", ".join(
        f"{p} visqol-python {f['visqol-python cpu']:.3f} / ours {f['single cpu']:.3f}" for p, f in by_protocol.items()))

    one_worker_s, two_workers_s = pool_seconds(pairs, args.repeats)
    cached_s, cold_s = first_call_seconds()
    scored = len(pairs) * args.repeats
    rows = [
        ("standard metric set per pair, visqol-python engine, s", f"{metric_set['visqol-python']:.3f}"),
        ("standard metric set per pair, codecbench engine, s", f"{metric_set['codecbench']:.3f}"),
        ("  of which PESQ wide-band, s", f"{metric_set['pesq']:.3f}"),
        ("  of which STOI, s", f"{metric_set['stoi']:.3f}"),
        ("ViSQOL speech pairs, 1-worker pool, s per pair", f"{one_worker_s / scored:.3f}"),
        ("ViSQOL speech pairs, 2-worker pool, s per pair", f"{two_workers_s / scored:.3f}"),
        ("  2 workers over 1, speed-up", f"{one_worker_s / two_workers_s:.2f}x"),
        ("first pair in a fresh process, numba cache filled, s", f"{cached_s:.1f}"),
        ("first pair in a fresh process, numba cache empty, s", f"{cold_s:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name.ljust(width)}  {value:>8}")

    speech = by_protocol["speech"]
    core_hours = BOARD_HOURS * 3600 / PAIR_S * BOARD_CONDITIONS / 3600
    print(f"\n{BOARD_CONDITIONS}-condition board over {BOARD_HOURS:g} h of speech on {BOARD_CORES} cores, scoring only:")
    print(f"  ViSQOL speech, visqol-python:        {core_hours * speech['visqol-python']:7.1f} core-hours, "
          f"{core_hours * speech['visqol-python'] / BOARD_CORES:5.2f} h")
    print(f"  ViSQOL speech, codecbench (shared):  {core_hours * speech['per condition, 20']:7.1f} core-hours, "
          f"{core_hours * speech['per condition, 20'] / BOARD_CORES:5.2f} h")
    for engine in ("visqol-python", "codecbench"):
        print(f"  standard metric set, {engine + ':':14} {core_hours * metric_set[engine]:7.1f} core-hours, "
              f"{core_hours * metric_set[engine] / BOARD_CORES:5.2f} h")

    if not args.skip_agreement:
        clips = speech_clips(args.speech_dir, AGREEMENT_MIN_S)
        protocols = [p.strip() for p in args.agreement_protocols.split(",") if p.strip()]
        print(f"\nagreement with visqol-python: {len(clips)} clips of at least {AGREEMENT_MIN_S:g} s x 23 conditions")
        with threadpool_limits(limits=1):
            for protocol, count, mean, worst, where in agreement(clips, protocols):
                print(f"  {protocol:>13}: {count} pairs, mean |d| {mean:.2e}, max |d| {worst:.2e} ({where})  target 1e-4 / 1e-3")


if __name__ == "__main__":
    main()
