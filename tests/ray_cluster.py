"""A real two-node Ray cluster on this machine for tests, reachable only on 127.0.0.1.

Ray's servers listen on every interface whatever ``--node-ip-address`` says, so the cluster and
every command that uses it run in a network namespace of their own, whose only interface is
loopback (``unshare --net``; tests run as root, as CI does). The second node runs in a mount
namespace of its own too, with an empty tmpfs over :attr:`LocalRayCluster.hidden`: files put
there are visible to this machine and the head node, not to the second node (a node that does
not mount the shared file system). Stopping kills exactly the processes of the namespace.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from tests.cli_runner import CODECBENCH, DEFAULT_TIMEOUT_S

RAY = str(Path(sys.executable).with_name("ray"))
HEAD_PORT = 6379
OBJECT_STORE_BYTES = 200 * 1024 * 1024
START_TIMEOUT_S = 120.0


def unavailable_reason() -> str | None:
    """Why a cluster cannot be made here (None: it can)."""
    if not Path(RAY).exists():
        return 'Ray is not installed (pip install "codecbench[ray]")'
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "unshare and nsenter (util-linux) are needed to keep the test cluster on 127.0.0.1"
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make network and mount namespaces here (root is needed): {probe.stderr.strip()}"
    return None


class LocalRayCluster:
    """A head node and a second node, one CPU each, in a private network namespace.

    Args:
        env: the environment of the nodes and of the commands run with :meth:`run` (the
            codecbench home, ...).
    """

    address = f"127.0.0.1:{HEAD_PORT}"

    def __init__(self, env: Mapping[str, str]) -> None:
        # The nodes and the commands share a token: Ray's token authentication is on by default.
        self.env = {**os.environ, **env, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.folder = Path(tempfile.mkdtemp(prefix="cbray"))  # short: Ray's socket paths have a length limit
        self.hidden = self.folder / "hidden"
        self.hidden.mkdir()
        self._holder: subprocess.Popen | None = None
        self._namespace = ""

    def start(self) -> LocalRayCluster:
        self._holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep infinity"])
        self._namespace = f"/proc/{self._holder.pid}/ns/net"
        deadline = time.monotonic() + 10
        while _loopback_down(self._holder.pid):
            assert time.monotonic() < deadline, "the network namespace did not come up"
            time.sleep(0.05)
        common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", f"--object-store-memory={OBJECT_STORE_BYTES}",
                  f"--temp-dir={self.folder / 'ray'}", "--disable-usage-stats"]
        self._check(self.inside([RAY, "start", "--head", f"--port={HEAD_PORT}", "--include-dashboard=false", *common]))
        hidden_mount = f"mount -t tmpfs none {self.hidden} && exec {RAY} start --address={self.address} {' '.join(common)}"
        self._check(self.inside(["unshare", "--mount", "sh", "-c", hidden_mount]))
        self._wait_for_nodes(2)
        return self

    def inside(self, command: list[str], timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the cluster's network namespace and wait for it."""
        return subprocess.run(["nsenter", f"--net={self._namespace}", *command], capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def codecbench(self, *args: str, timeout: float = DEFAULT_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """``codecbench ARGS`` run as a user on the cluster's head machine runs it."""
        return self.inside([CODECBENCH, *args], timeout=timeout)

    def popen_codecbench(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["nsenter", f"--net={self._namespace}", CODECBENCH, *args], env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def processes(self, title: str) -> list[int]:
        """Process ids of the cluster whose command line holds ``title`` (``ray::ScoringWorker``)."""
        found = []
        for pid in self._members():
            try:
                if title in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(pid)
            except OSError:
                continue
        return found

    def kill_second_node(self) -> int:
        """Kill every process of the second node at once (its machine lost); returns how many."""
        ours = os.readlink("/proc/self/ns/mnt")
        victims = []
        for pid in self._members():
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") != ours:
                    victims.append(pid)
            except OSError:
                continue
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(victims)

    def stop(self) -> None:
        """Kill every process of the namespace (the nodes, their workers, any command left)."""
        if self._holder is not None:
            for _ in range(3):
                for pid in self._members():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.2)
            self._holder.wait(timeout=10)
            self._holder = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def _members(self) -> list[int]:
        """Processes in the cluster's network namespace."""
        if self._holder is None:
            return []
        try:
            namespace = os.readlink(self._namespace)
        except OSError:
            return []
        members = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.readlink(entry / "ns" / "net") == namespace:
                        members.append(int(entry.name))
                except OSError:
                    continue
        return members

    def _wait_for_nodes(self, count: int) -> None:
        script = f"import ray; ray.init(address='{self.address}', logging_level='ERROR'); " \
                 "print(sum(1 for node in ray.nodes() if node['Alive']))"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            answer = self.inside([sys.executable, "-c", script])
            if answer.returncode == 0 and answer.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            assert time.monotonic() < deadline, f"the cluster did not get {count} nodes: {answer.stdout}{answer.stderr}"
            time.sleep(0.5)

    @staticmethod
    def _check(result: subprocess.CompletedProcess[str]) -> None:
        assert result.returncode == 0, f"{result.args}: {result.stdout}{result.stderr}"


def _loopback_down(pid: int) -> bool:
    """The namespace's holder has not reached ``sleep`` yet (it execs it once loopback is up)."""
    try:
        return not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep")
    except OSError:
        return True
