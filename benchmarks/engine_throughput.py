"""Measure the evaluation engine: throughput with 1 and 2 workers, overhead, and re-run time.

A generated corpus of 200 speech-like utterances (2 to 6 s, 16 kHz) is evaluated with Opus at
6, 12 and 24 kbps and ViSQOL ``speech`` + PESQ (600 utterance-conditions). Printed figures,
with the targets of issue 5:

- utterance-conditions per second with ``--workers 1`` (everything in one process, metrics on
  one core) and ``--workers 2`` (codecs in this process, metrics in two warm workers), and the
  speed-up of 2 over 1 (target >= 1.8x); the 2-worker figures also with the workers' start-up
  and warm-up (ViSQOL loaded) included, as a user's run pays it once;
- the engine's overhead over the bare codec and metric calls: the same reads, transcodes and
  scores done in a plain loop on one core, against the 1-worker engine run (indexing,
  planning, storage, progress included; target <= 10 %), wall-clock and CPU time;
- an immediate re-run of the 2-worker evaluation, which finds everything stored (target <=
  2 % of the first run), in this process and as a ``codecbench evaluate`` command.

With ``--executor ray`` (issue 17) it compares the Ray executor with the local one on this
machine instead: the same evaluation with ``--workers`` scoring workers on each (warm; Ray's
start-up and the cluster check printed apart), the throughput of Ray over local (target >=
0.9x), and the per-unit overhead: the same comparison on units that cost almost nothing
(the ``lowpass_3500`` anchor scored with SI-SNR), whose time per unit is the executor's own.
Ray runs on the cluster ``--ray-address`` names, else a new one on this machine.

    python benchmarks/engine_throughput.py [--utterances 200] [--workers 2] [--executor local|ray]

Timings are wall-clock and depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from codecbench.audio import load_audio
from codecbench.codecs import load_codec, transcode
from codecbench.codecs.condition import Condition
from codecbench.evaluation.datasets import parse_testset_spec
from codecbench.evaluation.executor import LocalExecutor
from codecbench.evaluation.metrics import ScoringConfig, score_with_config
from codecbench.evaluation.metrics.visqol import warm_up
from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation, run_evaluation
from codecbench.evaluation.work import READ_LIMITS, one_core
from codecbench.storage import open_database
from codecbench.synthetic import speech_like

BITRATES_KBPS = (6.0, 12.0, 24.0)
SCORING = ScoringConfig(("visqol", "pesq"), ("speech",))
RATE_HZ = 16_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="the worker count compared with 1")
    parser.add_argument("--keep", type=Path, default=None, help="build the corpus and databases here and keep them")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: the local engine's figures; ray: Ray against local on this machine")
    parser.add_argument("--ray-address", default=None, help="the Ray cluster (default: a new one on this machine)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="engine-throughput-"))
    try:
        corpus = make_corpus(work / "corpus", args.utterances)
        total_s = sum(soundfile.info(path).duration for path in corpus.iterdir())
        units = args.utterances * len(BITRATES_KBPS)
        print(f"{args.utterances} utterances, {total_s / 60:.1f} min of audio; {units} utterance-conditions "
              f"(opus at {', '.join(f'{k:g}' for k in BITRATES_KBPS)} kbps; visqol speech + pesq)")
        spec = parse_testset_spec(f"generated=folder:{corpus}")
        request = EvaluationRequest(testsets=(spec,), conditions=tuple(Condition("opus", k) for k in BITRATES_KBPS),
                                    scoring=SCORING)
        warm_up(("speech",))  # numba's kernels in this process, as pool workers load them when they start
        if args.executor == "ray":
            compare_with_ray(work, spec, request, args.workers, args.ray_address)
            return

        bare_s, bare_cpu_s = bare_calls(sorted(corpus.iterdir()))
        one_s, one_cpu_s, _ = engine_run(work / "one.sqlite3", request, workers=1)
        many_s, _, many_warm_up_s = engine_run(work / "many.sqlite3", request, workers=args.workers)
        rerun_s, _, _ = engine_run(work / "many.sqlite3", request, workers=args.workers)
        many_total_s = many_warm_up_s + many_s
        command_s = rerun_command(work / "many.sqlite3", corpus)

        rows = [
            ("bare codec + metric calls, one core, s", f"{bare_s:.1f}", ""),
            ("engine, 1 worker, s", f"{one_s:.1f}", ""),
            (f"engine, {args.workers} workers, s (excluding worker start-up: warmed up first)", f"{many_s:.1f}", ""),
            (f"  worker start-up and warm-up, {args.workers} workers, s", f"{many_warm_up_s:.1f}", ""),
            (f"engine, {args.workers} workers, s (including worker start-up)", f"{many_total_s:.1f}", ""),
            ("utterance-conditions per s, 1 worker", f"{units / one_s:.2f}", ""),
            (f"utterance-conditions per s, {args.workers} workers, excluding start-up", f"{units / many_s:.2f}", ""),
            (f"utterance-conditions per s, {args.workers} workers, including start-up", f"{units / many_total_s:.2f}", ""),
            (f"  {args.workers} workers over 1, speed-up, excluding start-up", f"{one_s / many_s:.2f}x", ">= 1.8x"),
            (f"  {args.workers} workers over 1, speed-up, including start-up", f"{one_s / many_total_s:.2f}x", ""),
            ("engine overhead over bare calls, wall-clock", f"{100 * (one_s / bare_s - 1):+.1f} %", "<= 10 %"),
            ("engine overhead over bare calls, CPU time", f"{100 * (one_cpu_s / bare_cpu_s - 1):+.1f} %", ""),
            ("immediate re-run, in this process, s", f"{rerun_s:.2f}", ""),
            ("  as a share of the first run", f"{100 * rerun_s / many_s:.1f} %", "<= 2 %"),
            ("immediate re-run, `codecbench evaluate` command, s", f"{command_s:.2f}", ""),
            ("  as a share of the first run", f"{100 * command_s / many_s:.1f} %", ""),
        ]
        print_rows(rows)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def print_rows(rows: list[tuple[str, str, str]]) -> None:
    """One line per (figure, value, target), aligned."""
    width = max(len(name) for name, _, _ in rows)
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value:>9}  {('target ' + target) if target else ''}")


def make_corpus(folder: Path, count: int) -> Path:
    """``count`` speech-like WAV files of 2-6 s (the same ones for the same count)."""
    folder.mkdir(parents=True, exist_ok=True)
    durations = np.random.default_rng(0).uniform(2.0, 6.0, count)
    for index, duration in enumerate(durations):
        path = folder / f"utt_{index:04d}.wav"
        if not path.exists():
            soundfile.write(path, speech_like(float(duration), RATE_HZ, seed=index), RATE_HZ, subtype="PCM_16")
    return folder


def bare_calls(paths: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds of reading, transcoding and scoring every unit in a plain loop."""
    codec = load_codec("opus")
    points = [codec.spec.operating_point(kbps) for kbps in BITRATES_KBPS]
    started, started_cpu = time.perf_counter(), time.process_time()
    for path in paths:
        reference = load_audio(path, limits=READ_LIMITS)
        for point in points:
            result = transcode(codec, reference, point)
            with one_core():
                scores = score_with_config(reference, (result.samples, result.sample_rate_hz), SCORING)
            assert all(score.ok for score in scores), scores
    return time.perf_counter() - started, time.process_time() - started_cpu


def engine_run(database_path: Path, request: EvaluationRequest, workers: int) -> tuple[float, float, float]:
    """(wall, CPU of this process) seconds of planning and running the evaluation with warm
    workers, and the wall seconds the workers took to start and warm up before it."""
    database = open_database(f"sqlite:///{database_path}")
    with LocalExecutor(workers) as executor:
        warm_up_started = time.perf_counter()
        executor.warm_up(request.scoring)
        warm_up_s = time.perf_counter() - warm_up_started
        started, started_cpu = time.perf_counter(), time.process_time()
        summary = run_evaluation(database, plan_evaluation(request), executor)
        elapsed = time.perf_counter() - started, time.process_time() - started_cpu
    database.close()
    assert summary.failed == 0, summary.describe()
    return (*elapsed, warm_up_s)


def compare_with_ray(work: Path, spec, request: EvaluationRequest, workers: int, ray_address: str | None) -> None:
    """Print Ray's throughput against the local executor's, and the per-unit overhead of each."""
    from codecbench.evaluation.ray_executor import RayExecutor

    cheap = EvaluationRequest(testsets=(spec,), conditions=(Condition("lowpass_3500"),),
                              scoring=ScoringConfig(("sisnr",)))
    with RayExecutor(ray_address, scoring_workers=workers) as executor:
        started = time.perf_counter()
        print(executor.connect())
        plan = plan_evaluation(request)
        executor.prepare(plan.testsets, plan.conditions, request.scoring)
        cheap_plan = plan_evaluation(cheap)
        executor.prepare(cheap_plan.testsets, cheap_plan.conditions, cheap.scoring)
        start_up_s = time.perf_counter() - started
        ray_s = timed_run(work / "ray.sqlite3", plan, executor)
        ray_cheap_s = timed_run(work / "ray-cheap.sqlite3", cheap_plan, executor)
    local_s, _, _ = engine_run(work / "local.sqlite3", request, workers=workers)
    local_cheap_s, _, _ = engine_run(work / "local-cheap.sqlite3", cheap, workers=workers)
    units = len(plan.testsets[0]) * len(plan.conditions)
    cheap_units = len(cheap_plan.testsets[0])
    rows = [
        (f"local executor, {workers} workers, s (warm)", f"{local_s:.1f}", ""),
        (f"Ray executor, {workers} scoring workers, s (warm)", f"{ray_s:.1f}", ""),
        ("  Ray start-up: connect, check the nodes, start and warm the workers, s", f"{start_up_s:.1f}", ""),
        ("utterance-conditions per s, local", f"{units / local_s:.2f}", ""),
        ("utterance-conditions per s, Ray", f"{units / ray_s:.2f}", ""),
        ("  Ray over local, throughput", f"{local_s / ray_s:.2f}x", ">= 0.9x"),
        (f"cheap units ({cheap_units}: lowpass_3500, SI-SNR), local, ms per unit", f"{1000 * local_cheap_s / cheap_units:.1f}", ""),
        ("cheap units, Ray, ms per unit", f"{1000 * ray_cheap_s / cheap_units:.1f}", ""),
        ("  Ray's overhead per unit over local's, ms", f"{1000 * (ray_cheap_s - local_cheap_s) / cheap_units:+.1f}", ""),
    ]
    print_rows(rows)


def timed_run(database_path: Path, plan, executor) -> float:
    database = open_database(f"sqlite:///{database_path}")
    started = time.perf_counter()
    summary = run_evaluation(database, plan, executor)
    elapsed = time.perf_counter() - started
    database.close()
    assert summary.failed == 0, summary.describe()
    return elapsed


def rerun_command(database_path: Path, corpus: Path) -> float:
    command = [str(Path(sys.executable).with_name("codecbench")), "evaluate", "--testset", f"generated=folder:{corpus}",
               "--codec", "opus@" + ",".join(f"{k:g}" for k in BITRATES_KBPS), "--metrics", "visqol,pesq",
               "--workers", "2", "--db", f"sqlite:///{database_path}"]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    elapsed = time.perf_counter() - started
    assert completed.returncode == 0 and " 0 unit(s) computed now" in completed.stdout, completed.stdout + completed.stderr
    return elapsed


if __name__ == "__main__":
    main()
