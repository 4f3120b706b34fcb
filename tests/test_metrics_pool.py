"""Batch scoring: a pool of warm worker processes gives exactly the serial numbers, streamed by id."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

from codecbench.audio import prepare_audio
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import MetricsPool, ScoringConfig, ScoringPair, score_pairs
from codecbench.synthetic import speech_like

RATE_HZ = 16_000
CONFIG = ScoringConfig(("visqol", "pesq", "stoi", "sisnr", "mrstft"), ("speech",))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> list[ScoringPair]:
    """Three pairs in the three forms a batch may hold: files, arrays, and a pair that cannot be scored."""
    folder = tmp_path_factory.mktemp("pairs")
    reference = speech_like(3.0, RATE_HZ, seed=21, peak=0.3)
    opus = load_codec("opus")
    degraded = transcode(opus, prepare_audio(reference, RATE_HZ), opus.spec.operating_point(8)).samples
    soundfile.write(folder / "ref.wav", reference, RATE_HZ, subtype="PCM_16")
    soundfile.write(folder / "deg.wav", degraded, RATE_HZ, subtype="PCM_16")
    other = speech_like(2.5, 24_000, seed=22, peak=0.3)
    return [
        ScoringPair("files", folder / "ref.wav", folder / "deg.wav"),
        ScoringPair("arrays", (other, 24_000), (np.roll(other, 240) * np.float32(0.7), 24_000)),
        ScoringPair("missing", folder / "ref.wav", folder / "nowhere.wav"),
    ]


def as_table(batch) -> dict[str, list[dict]]:
    return {scores.pair_id: [result.to_dict() for result in scores.results] for scores in batch}


def test_a_pool_of_two_workers_gives_the_serial_numbers(pairs):
    serial = as_table(score_pairs(pairs, CONFIG, workers=1))
    with MetricsPool(CONFIG, workers=2) as pool:
        pooled = as_table(pool.score(pairs))

    assert set(pooled) == {"files", "arrays", "missing"}
    assert pooled == serial
    files = {record["metric"]: record for record in serial["files"]}
    assert files["visqol"]["value"] > 1.5 and files["pesq_wb"]["value"] > 1.5
    assert {record["metric"]: record["delay_samples"] for record in serial["arrays"]}["sisnr"] == 240
    assert all(record["value"] is None and "no such file" in record["error"] for record in serial["missing"])


def test_workers_end_when_the_process_that_started_them_is_killed(tmp_path):
    """A killed app cannot shut its pool down; its workers must not linger."""
    script = (
        "from codecbench.evaluation.metrics import MetricsPool, ScoringConfig\n"
        "pool = MetricsPool(ScoringConfig(('sisnr',)), workers=1)\n"
        "print(pool.start()[0].result(), flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        worker_pid = int(parent.stdout.readline())
        assert process_exists(worker_pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while process_exists(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_exists(worker_pid)


def test_workers_end_when_their_parent_is_killed_while_they_warm_up():
    """The parent can die while ViSQOL is still loading in its workers (a server stopped soon
    after start); the workers must notice, not wait for work from init."""
    script = (
        "from codecbench.evaluation.metrics import MetricsPool, ScoringConfig\n"
        "pool = MetricsPool(ScoringConfig(('visqol',)), workers=1)\n"
        "pool.start()\n"
        "print(*pool._executor._processes, flush=True)\n"
        "import time; time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        worker_pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert worker_pids and all(process_exists(pid) for pid in worker_pids)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while any(process_exists(pid) for pid in worker_pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(process_exists(pid) for pid in worker_pids)


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

