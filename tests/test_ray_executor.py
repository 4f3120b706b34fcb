"""`codecbench evaluate --executor ray` on a real two-node Ray cluster started here on 127.0.0.1:
the same rows as the local executor, a scoring worker killed mid-run, the driver interrupted,
a test set one node cannot see; and the executor's parts without a cluster."""

from __future__ import annotations

import io
import os
import signal
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from codecbench.cli import main
from codecbench.codecs import LoadOptions
from codecbench.codecs.condition import Condition
from codecbench.evaluation.conditions import resolve_conditions
from codecbench.evaluation.datasets import load_testset, parse_testset_spec
from codecbench.evaluation.metrics import ScoringConfig
from codecbench.evaluation.ray_executor import ClusterError, RayExecutor, RayNode, _path_checks, _spread
from codecbench.evaluation.ray_workers import CodecWorker, PathCheck, check_paths
from codecbench.evaluation.work import Reconstruction, WorkUnit, transcode_units
from tests.cli_runner import run_cli
from tests.corpora import make_folder, make_librispeech
from tests.eval_db import DUPLICATE_SCORES, count, stored_rows
from tests.ray_cluster import LocalRayCluster, unavailable_reason

SCORING = ScoringConfig(("visqol", "pesq", "sisnr"), ("speech",))


# -- the executor's parts, without a cluster ----------------------------------------------------


def _units(tmp_path: Path, count: int, codecs: list[Condition]) -> list[WorkUnit]:
    make_folder(tmp_path / "mine", count, seconds=1.5)
    testset = load_testset(parse_testset_spec(f"mine=folder:{tmp_path / 'mine'}"))
    conditions = resolve_conditions(codecs)
    return [WorkUnit("mine", utterance, condition, SCORING) for utterance in testset.utterances for condition in conditions]


def test_codec_worker_returns_one_object_per_unit_in_order_equal_to_the_local_transcode(tmp_path):
    units = _units(tmp_path, 3, [Condition("opus", 6.0)])
    worker = CodecWorker(units[0].condition, batch_size=2)
    assert worker.ready().problem is None
    items = worker.transcode(units)
    local = list(transcode_units(units, 2))
    assert [item.unit for item in items] == units
    for item, expected in zip(items, local, strict=True):
        assert isinstance(item, Reconstruction)
        np.testing.assert_array_equal(item.result.samples, expected.result.samples)
    single = worker.transcode(units[:1])
    assert isinstance(single, Reconstruction) and single.unit == units[0]  # bare: Ray's one return value


def test_codec_worker_reports_a_node_with_other_weights_than_the_driver(tmp_path):
    (unit,) = _units(tmp_path, 1, [Condition("opus", 6.0)])
    elsewhere = CodecWorker(type(unit.condition)(**{**unit.condition.__dict__, "checkpoint": "hub:owner/model@abc"}), 8)
    problem = elsewhere.ready().problem
    assert problem == ("opus@6 loads other weights here (none) than on the driver (hub:owner/model@abc); give every "
                       "node the same model files")


def test_codec_worker_reports_a_codec_that_cannot_load(tmp_path):
    (unit,) = _units(tmp_path, 1, [Condition("opus", 6.0)])
    condition = type(unit.condition)(**{**unit.condition.__dict__, "codec": "encodec_24khz",
                                        "load_options": LoadOptions(model_dir=tmp_path / "nothing-here")})
    problem = CodecWorker(condition, 8).ready().problem
    assert problem.startswith("encodec_24khz@6 cannot be loaded: ")


def test_a_codec_worker_started_where_the_files_are_missing_fails_its_calls_instead_of_storing_failures(tmp_path):
    from codecbench.evaluation.ray_workers import WorkerNotReady

    units = _units(tmp_path, 2, [Condition("opus", 6.0)])
    checks = [PathCheck("test set mine", tmp_path / "mine")]
    assert CodecWorker(units[0].condition, 8, checks).ready().problem is None
    (tmp_path / "mine" / "utt_0000.wav").rename(tmp_path / "elsewhere.wav")
    (tmp_path / "mine" / "utt_0001.wav").rename(tmp_path / "elsewhere1.wav")
    (tmp_path / "mine").rmdir()  # as on a node that does not mount the test sets
    restarted = CodecWorker(units[0].condition, 8, checks)
    assert restarted.ready().problem == f"test set mine {tmp_path / 'mine'}: does not exist here"
    with pytest.raises(WorkerNotReady, match="does not exist here"):
        restarted.transcode(units)


def test_gpu_workers_get_shares_that_divide_one_gpu(monkeypatch):
    """12 neural conditions on 8 GPUs: two workers per GPU at 0.5 each (0.667 would fit one per GPU
    and leave four workers unplaced); conditions on CPUs take no GPU share."""
    from codecbench.evaluation import ray_executor

    placed: list[float] = []

    class FakeActorClass:
        def options(self, **options):
            placed.append(options.get("num_gpus", 0))
            return self

        def remote(self, *args):
            return object()

    class FakeRay:
        def remote(self, cls):
            return FakeActorClass()

    monkeypatch.setattr(ray_executor, "needs_gpu", lambda condition: condition.codec != "opus")
    executor = RayExecutor()
    executor._ray = FakeRay()
    executor._nodes = [RayNode("a" * 20, "10.0.0.1", 32, 8)]
    neural = [type("C", (), {"codec": f"neural{index}", "load_options": LoadOptions(device="cuda"), "key": f"n{index}"})()
              for index in range(12)]
    for condition in neural:
        executor._start_codec_workers(condition, gpu_conditions=12)
    assert placed == [0.5] * 12
    placed.clear()
    for condition in neural[:4]:
        executor._codec_workers.pop(condition)
        executor._start_codec_workers(condition, gpu_conditions=4)
    assert placed == [1.0] * 8  # 4 conditions on 8 GPUs: two workers each, a whole GPU each


def test_path_checks_name_what_a_node_cannot_read_or_write(tmp_path):
    make_folder(tmp_path / "mine", 2)
    testset = load_testset(parse_testset_spec(f"mine=folder:{tmp_path / 'mine'}"))
    checks = _path_checks([testset], tmp_path / "kept")
    assert checks == [PathCheck("test set mine", tmp_path / "mine"),
                      PathCheck("test set mine's audio", tmp_path / "mine" / "utt_0000.wav"),
                      PathCheck("--keep-audio folder", tmp_path / "kept", writable=True)]
    (tmp_path / "kept").mkdir()
    assert check_paths(checks)[1] == []
    (tmp_path / "mine" / "utt_0000.wav").unlink()
    (tmp_path / "kept").rmdir()
    assert check_paths(checks)[1] == [
        f"test set mine's audio {tmp_path / 'mine' / 'utt_0000.wav'}: does not exist here",
        f"--keep-audio folder {tmp_path / 'kept'}: does not exist here",
    ]
    (tmp_path / "kept").write_text("a file, not a folder")
    (problem,) = check_paths([PathCheck("--keep-audio folder", tmp_path / "kept", writable=True)])[1]
    assert problem.startswith(f"--keep-audio folder {tmp_path / 'kept'}: cannot be written here (")


def test_scoring_workers_are_spread_over_the_nodes_within_their_cpus():
    nodes = [RayNode("a" * 20, "10.0.0.1", 2, 0), RayNode("b" * 20, "10.0.0.2", 1, 0), RayNode("c" * 20, "10.0.0.3", 3.5, 0)]
    assert [node.address[-1] for node in _spread(nodes, 6)] == list("123133")
    assert [node.address[-1] for node in _spread(nodes, 2)] == list("12")


def test_an_utterance_goes_back_to_its_scoring_worker_only_when_no_other_is_less_busy(tmp_path):
    units = _units(tmp_path, 1, [Condition("opus", 6.0), Condition("opus", 12.0)])
    executor = RayExecutor()
    executor._scorers = [object(), object(), object()]
    remembered: OrderedDict = OrderedDict()
    assert executor._pick_scorer([0, 0, 0], units[0], remembered) == 0
    assert executor._pick_scorer([1, 0, 0], units[1], remembered) == 1  # worker 0 is busier: another one
    assert executor._pick_scorer([1, 1, 0], units[1], remembered) == 2
    assert executor._pick_scorer([1, 1, 1], units[0], remembered) == 2  # all as busy: the one that had it last
    assert executor._pick_scorer([2, 2, 2], units[0], remembered) is None  # every worker full
    executor._dead_scorers.add(2)  # the one that had it last is dead: the first of the least busy
    assert executor._pick_scorer([1, 1, 0], units[0], remembered) == 0
    assert executor._pick_scorer([0, 1, 0], units[1], remembered, suspects=frozenset({0})) == 1  # 0 being checked


def test_ray_address_without_the_ray_executor_is_a_usage_error(tmp_path):
    make_folder(tmp_path / "mine", 1)
    result = CliRunner().invoke(main, ["evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "opus@6",
                                       "--ray-address", "auto", "--db", f"sqlite:///{tmp_path / 'r.sqlite3'}"])
    assert result.exit_code == 2 and "--ray-address is for --executor ray." in result.output


def test_the_ray_executor_without_ray_installed_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # `import ray` raises ImportError
    make_folder(tmp_path / "mine", 1)
    database = tmp_path / "r.sqlite3"
    result = CliRunner().invoke(main, ["evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "opus@6",
                                       "--metrics", "sisnr", "--executor", "ray", "--db", f"sqlite:///{database}"])
    assert result.exit_code == 1
    assert ('--executor ray needs Ray, which is not installed: install Ray on this machine and on every node of the '
            'cluster: pip install "codecbench[ray]"') in result.output
    assert count(database, "SELECT count(*) FROM eval_units") == 0


def test_an_address_nobody_answers_at_fails_at_once_naming_it(tmp_path):
    make_folder(tmp_path / "mine", 1)
    for address in ("127.0.0.1:1", "ray://127.0.0.1:1"):
        result = run_cli("evaluate", "--testset", f"mine=folder:{tmp_path / 'mine'}", "--codec", "opus@6", "--metrics",
                         "sisnr", "--executor", "ray", "--ray-address", address, "--db",
                         f"sqlite:///{tmp_path / 'r.sqlite3'}", home=tmp_path / "home", timeout=120)
        assert result.returncode == 1, result.stderr
        assert f"Error: no Ray cluster answers at {address} (Connection refused); start it" in result.stderr
    assert count(tmp_path / "r.sqlite3", "SELECT count(*) FROM eval_units") == 0


class _FlakyClientRay:
    """A stand-in for the ``ray`` module whose Ray Client sessions fail to start ``failures`` times
    (as the head's client server reports it), or fail with ``other`` once."""

    __version__ = "2.60.0"
    SESSION_FAILED = ("Initialization failure from server:\nTraceback (most recent call last):\n  File \"proxier.py\", "
                      "line 772, in Datapath\n    raise RuntimeError(\nRuntimeError: Starting Ray client server failed. "
                      "See ray_client_server_23011.err for detailed logs.\n")

    def __init__(self, failures: int, other: Exception | None = None) -> None:
        self.failures, self.other, self.calls, self.initialized = failures, other, 0, False

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **_: object) -> None:
        self.calls += 1
        if self.other is not None:
            raise self.other
        if self.calls <= self.failures:
            raise ConnectionAbortedError(self.SESSION_FAILED)
        self.initialized = True

    def nodes(self) -> list[dict]:
        return [{"NodeID": "n" * 28, "NodeManagerAddress": "127.0.0.1", "Resources": {"CPU": 2.0}, "Alive": True}]

    def shutdown(self) -> None:
        self.initialized = False


@pytest.fixture
def client_port():
    """A port something listens at, for the executor's is-anybody-there check."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def test_a_ray_client_session_the_cluster_could_not_start_is_tried_again(monkeypatch, client_port):
    fake = _FlakyClientRay(failures=2)
    monkeypatch.setattr("codecbench.evaluation.ray_executor.import_ray", lambda: fake)
    said: list[str] = []
    line = RayExecutor(f"ray://127.0.0.1:{client_port}").connect(notify=said.append)
    assert fake.calls == 3 and line.startswith("Ray 2.60.0 cluster: 1 node(s) taking work, 2 CPU(s)")
    assert said == [f"the Ray Client server at ray://127.0.0.1:{client_port} could not start a session (RuntimeError: "
                    f"Starting Ray client server failed. See ray_client_server_23011.err for detailed logs.); "
                    f"connecting again ({n} of 3)" for n in (2, 3)]


def test_a_ray_client_session_failing_every_time_names_the_servers_reason(monkeypatch, client_port):
    fake = _FlakyClientRay(failures=5)
    monkeypatch.setattr("codecbench.evaluation.ray_executor.import_ray", lambda: fake)
    with pytest.raises(ClusterError) as raised:
        RayExecutor(f"ray://127.0.0.1:{client_port}").connect()
    assert fake.calls == 3
    assert str(raised.value) == (
        f"cannot join the Ray cluster at ray://127.0.0.1:{client_port}: its Ray Client server could not start a "
        "session 3 times (RuntimeError: Starting Ray client server failed. See ray_client_server_23011.err for "
        "detailed logs). Its logs are on the head node (ray_client_server*.err under /tmp/ray/session_latest/logs); "
        "or connect on the head node with --ray-address auto.")


def test_other_connection_errors_and_non_client_addresses_are_not_tried_again(monkeypatch, client_port):
    refused = _FlakyClientRay(failures=0, other=ConnectionError("ray client connection timeout\nmore"))
    monkeypatch.setattr("codecbench.evaluation.ray_executor.import_ray", lambda: refused)
    with pytest.raises(ClusterError, match="ray client connection timeout. Start it"):
        RayExecutor(f"ray://127.0.0.1:{client_port}").connect()
    assert refused.calls == 1
    direct = _FlakyClientRay(failures=5)  # the session message, but not through Ray Client: once
    monkeypatch.setattr("codecbench.evaluation.ray_executor.import_ray", lambda: direct)
    with pytest.raises(ClusterError):
        RayExecutor(f"127.0.0.1:{client_port}").connect()
    assert direct.calls == 1


# -- a real cluster ----------------------------------------------------------------------------

cluster_only = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("ray-home")
    started = LocalRayCluster({"CODECBENCH_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    try:
        yield started.start()
    finally:
        started.stop()


def _evaluate_args(*specs: str, database: Path, codecs: tuple[str, ...] = ("opus@6,12", "lowpass_3500"),
                   metrics: str = "visqol,pesq,sisnr") -> list[str]:
    args = ["evaluate"]
    for spec in specs:
        args += ["--testset", spec]
    for codec in codecs:
        args += ["--codec", codec]
    return [*args, "--metrics", metrics, "--db", f"sqlite:///{database}"]


def _export(database: Path, env: dict[str, str]) -> pd.DataFrame:
    exported = run_cli("export", "scores", "--format", "csv", "--db", f"sqlite:///{database}", env=env)
    assert exported.returncode == 0, exported.stderr
    frame = pd.read_csv(io.StringIO(exported.stdout), keep_default_na=False, na_values=[""])
    keys = ["testset", "utterance", "codec", "operating_point", "metric", "protocol"]
    return frame.sort_values(keys, na_position="first").reset_index(drop=True)


@cluster_only
def test_a_run_on_two_nodes_stores_exactly_what_the_local_executor_stores(cluster):
    shared = cluster.folder / "equal"
    make_librispeech(shared / "corpora")
    make_folder(shared / "mine", 5, seconds=2.0)
    (shared / "mine" / "broken.wav").write_bytes(b"RIFF but not really")
    specs = (f"librispeech-test-clean={shared / 'corpora'}", f"mine=folder:{shared / 'mine'}")
    env = cluster.env

    local = run_cli(*_evaluate_args(*specs, database=shared / "local.sqlite3"), "--keep-audio", str(shared / "kept-local"),
                    env=env)
    assert local.returncode == 0, local.stderr
    on_ray = cluster.codecbench(*_evaluate_args(*specs, database=shared / "ray.sqlite3"), "--keep-audio",
                                str(shared / "kept-ray"), "--executor", "ray", "--ray-address", cluster.address)
    assert on_ray.returncode == 0, on_ray.stderr
    assert "Ray 2." in on_ray.stderr and "2 node(s) taking work, 2 CPU(s), 0 GPU(s); 2 scoring worker(s)" in on_ray.stderr
    assert on_ray.stdout == local.stdout  # the same summary: units, failures and their errors
    assert "run 1: 27 unit(s) computed now; 12 failed in all" in on_ray.stdout

    pd.testing.assert_frame_equal(_export(shared / "ray.sqlite3", env), _export(shared / "local.sqlite3", env))
    kept_local = sorted(path.relative_to(shared / "kept-local") for path in (shared / "kept-local").rglob("*.flac"))
    kept_ray = sorted(path.relative_to(shared / "kept-ray") for path in (shared / "kept-ray").rglob("*.flac"))
    assert kept_ray == kept_local and len(kept_ray) == 24
    for name in kept_ray:  # the reconstructions, written by the codec workers on either node
        assert (shared / "kept-ray" / name).read_bytes() == (shared / "kept-local" / name).read_bytes()


@cluster_only
def test_a_run_through_ray_client_stores_what_the_local_executor_stores(cluster):
    shared = cluster.folder / "client"
    make_folder(shared / "mine", 4, seconds=2.0, first_seed=300)
    spec = f"mine=folder:{shared / 'mine'}"
    local = run_cli(*_evaluate_args(spec, database=shared / "local.sqlite3"), env=cluster.env)
    assert local.returncode == 0, local.stderr
    client = cluster.codecbench(*_evaluate_args(spec, database=shared / "ray.sqlite3"), "--executor", "ray",
                                "--ray-address", f"ray://{cluster.address.split(':')[0]}:10001")
    assert client.returncode == 0, client.stderr
    assert client.stdout == local.stdout
    pd.testing.assert_frame_equal(_export(shared / "ray.sqlite3", cluster.env), _export(shared / "local.sqlite3", cluster.env))


@cluster_only
def test_a_scoring_worker_killed_mid_run_loses_nothing(cluster):
    shared = cluster.folder / "killed"
    make_folder(shared / "many", 30, seconds=2.0)
    spec = f"many=folder:{shared / 'many'}"
    database = shared / "ray.sqlite3"
    args = _evaluate_args(spec, database=database, codecs=("opus@6,12",), metrics="visqol,pesq")
    process = cluster.popen_codecbench(*args, "--executor", "ray", "--ray-address", cluster.address)
    try:
        _wait_until_stored(process, database, units=4)
        victims = cluster.processes("ray::ScoringWorker")
        assert victims, "no scoring worker process found"
        os.kill(victims[0], signal.SIGKILL)
        stored_at_kill = count(database, "SELECT count(*) FROM eval_units")
        assert process.poll() is None and stored_at_kill < 60, "kill the worker part-way through the run"
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "; 0 failed in all" in stdout
    if "left uncomputed" in stdout:  # units Ray could not finish come back to the next run, never as failures
        again = cluster.codecbench(*args, "--executor", "ray", "--ray-address", cluster.address)
        assert again.returncode == 0 and "; 0 failed in all" in again.stdout, again.stderr
    assert count(database, "SELECT count(*) FROM eval_units WHERE error IS NULL") == 60
    assert count(database, "SELECT count(*) FROM eval_scores WHERE value IS NOT NULL") == 60 * 2
    assert count(database, DUPLICATE_SCORES) == 0

    local = run_cli(*_evaluate_args(spec, database=shared / "local.sqlite3", codecs=("opus@6,12",),
                                    metrics="visqol,pesq"), env=cluster.env)
    assert local.returncode == 0, local.stderr
    pd.testing.assert_frame_equal(_export(database, cluster.env), _export(shared / "local.sqlite3", cluster.env))


@cluster_only
def test_a_run_interrupted_on_the_driver_resumes_with_nothing_lost_or_duplicated(cluster):
    shared = cluster.folder / "interrupted"
    make_folder(shared / "many", 30, seconds=2.0, first_seed=500)
    database = shared / "ray.sqlite3"
    args = [*_evaluate_args(f"many=folder:{shared / 'many'}", database=database, codecs=("opus@6,12",),
                            metrics="visqol,pesq"), "--executor", "ray", "--ray-address", cluster.address]
    process = cluster.popen_codecbench(*args)
    try:
        _wait_until_stored(process, database, units=4)
        process.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted: every finished unit is stored" in stderr
    before = stored_rows(database)
    assert 4 <= len(before) < 60, "interrupt the run part-way"

    again = cluster.codecbench(*args)
    assert again.returncode == 0, again.stderr
    assert f"run 2: {60 - len(before)} unit(s) computed now; 0 failed in all" in again.stdout
    after = stored_rows(database)
    assert len(after) == 60 and all(after[key] == value for key, value in before.items())
    assert count(database, DUPLICATE_SCORES) == 0


@cluster_only
def test_a_node_lost_mid_run_loses_nothing(tmp_path):
    """The second node's processes all killed at once (its machine gone): the units its workers
    held are sent again to the head's workers, or left for the next run, never stored as failed."""
    lost = LocalRayCluster({"CODECBENCH_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}).start()
    try:
        make_folder(lost.folder / "many", 30, seconds=2.0, first_seed=700)
        database = lost.folder / "ray.sqlite3"
        args = [*_evaluate_args(f"many=folder:{lost.folder / 'many'}", database=database, codecs=("opus@6,12",),
                                metrics="visqol,pesq"), "--executor", "ray", "--ray-address", lost.address]
        process = lost.popen_codecbench(*args)
        try:
            _wait_until_stored(process, database, units=4)
            assert lost.kill_second_node() >= 3  # its raylet, its object store's and workers' processes
            assert process.poll() is None and count(database, "SELECT count(*) FROM eval_units") < 60, \
                "lose the node part-way through the run"
            stdout, stderr = process.communicate(timeout=400)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, stderr
        assert "; 0 failed in all" in stdout
        if "left uncomputed" in stdout:
            again = lost.codecbench(*args)
            assert again.returncode == 0 and "; 0 failed in all" in again.stdout, again.stderr
        assert count(database, "SELECT count(*) FROM eval_units WHERE error IS NULL") == 60
        assert count(database, "SELECT count(*) FROM eval_scores WHERE value IS NOT NULL") == 60 * 2
        assert count(database, DUPLICATE_SCORES) == 0
    finally:
        lost.stop()


@cluster_only
def test_a_test_set_one_node_cannot_see_stops_the_run_before_anything_runs(cluster):
    make_folder(cluster.hidden / "unseen", 3)  # on the head's file system, not on the second node's
    database = cluster.folder / "hidden.sqlite3"
    result = cluster.codecbench(*_evaluate_args(f"unseen=folder:{cluster.hidden / 'unseen'}", database=database,
                                                codecs=("opus@6",), metrics="sisnr"),
                                "--executor", "ray", "--ray-address", cluster.address)
    assert result.returncode == 1
    assert "Error: not every node of the cluster sees the files this run needs; nothing was run." in result.stderr
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  Ray node")]
    where = {line.split(": ", 1)[0] for line in problems}
    assert len(where) == 1, result.stderr  # the head sees the test set; only the second node is named
    assert where.pop().startswith("Ray node 127.0.0.1 (host ")
    assert [line.split(": ", 1)[1] for line in problems] == [
        f"test set unseen {cluster.hidden / 'unseen'}: does not exist here",
        f"test set unseen's audio {cluster.hidden / 'unseen' / 'utt_0000.wav'}: does not exist here",
    ]
    assert "a file system every node mounts" in result.stderr and "Traceback" not in result.stderr
    assert count(database, "SELECT count(*) FROM eval_units") == 0


# -- the app's evaluate panel ------------------------------------------------------------------


def _plan(tmp_path: Path):
    from codecbench.evaluation.runner import EvaluationRequest, plan_evaluation

    make_folder(tmp_path / "mine", 1)
    return plan_evaluation(EvaluationRequest((parse_testset_spec(f"mine=folder:{tmp_path / 'mine'}"),),
                                             (Condition("opus", 6.0),), ScoringConfig(("sisnr",))))


def test_the_evaluate_panel_offers_the_ray_cluster_only_when_the_server_has_one(tmp_path, monkeypatch):
    import gradio as gr

    from codecbench.app.evaluate_panel import ON_THIS_SERVER, prepared_executor, run_places
    from codecbench.app.settings import AppSettings
    from codecbench.evaluation.executor import LocalExecutor

    plain, clustered = AppSettings(), AppSettings(ray_address="ray://head:10001")
    assert run_places(plain) == [ON_THIS_SERVER]
    assert run_places(clustered) == [ON_THIS_SERVER, "the Ray cluster"]  # the page never shows the address
    plan = _plan(tmp_path)
    assert isinstance(prepared_executor(clustered, ON_THIS_SERVER, plan), LocalExecutor)
    with pytest.raises(gr.Error, match="cannot run on 'the Ray cluster': choose one of this server"):
        prepared_executor(plain, "the Ray cluster", plan)  # a forged choice on a server without a cluster
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(gr.Error, match=r'--executor ray needs Ray, which is not installed: .*pip install "codecbench\[ray\]"'):
        prepared_executor(clustered, "the Ray cluster", plan)


def _wait_until_stored(process, database: Path, units: int) -> None:
    """Wait (at most three minutes) until the running evaluation has stored ``units`` units."""
    deadline = time.monotonic() + 180
    while count(database, "SELECT count(*) FROM eval_units") < units:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run stored nothing in three minutes"
        time.sleep(0.05)
