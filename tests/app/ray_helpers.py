"""A real local Ray cluster for the tests: started once per test session, stopped at exit.

``ray start --head --block`` runs in its own process group on 127.0.0.1 with
2 CPUs, no dashboard and a 200 MB object store (it shares the machine with
other work); stopping it signals that group only, so nothing else named
``ray`` on the machine is touched. Tests that need a cluster of their own
(one they stop half-way) start another with :func:`start_cluster`.

A watchdog (:mod:`tests.app.server_watchdog`) kills the cluster and removes
its temp dir should the test process die without stopping it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.app import server_watchdog

RAY = Path(sys.executable).with_name("ray")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LocalCluster:
    """A ``ray start --head --block`` process group and its address."""

    address: str
    process: subprocess.Popen
    temp_dir: Path
    watchdog: subprocess.Popen | None = field(default=None, repr=False)

    def _members(self) -> dict[int, str]:
        """PID -> command line of every process of this cluster but the head.

        Ray's workers put themselves in process groups of their own, but stay
        in the session that ``start_new_session`` gave the head: the session
        id is what tells this cluster's processes from anything else.
        """
        session = self.process.pid  # the head leads its session
        return {pid: line for pid, line in server_watchdog.session_processes(session).items()
                if pid != session}

    def worker_pids(self, task_name: str) -> list[int]:
        """PIDs of this cluster's workers running ``task_name`` now."""
        return [pid for pid, line in self._members().items()
                if line.startswith(f"ray::{task_name}")]

    def kill(self) -> None:
        """The whole cluster dies at once (SIGKILL to each of its processes): a lost head."""
        server_watchdog.retire(self.watchdog)  # first: it must not act after this stop
        for pid in [self.process.pid, *self._members()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)
        self.stop()

    def stop(self) -> None:
        """Stop every process of this cluster (its process group) and remove its files."""
        server_watchdog.retire(self.watchdog)  # first: it must not act after this stop
        if self.process.poll() is None:
            group = os.getpgid(self.process.pid)
            os.killpg(group, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                pass
            # Whatever of the group outlived the head (workers, agents).
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
        # Workers and agents in groups of their own, should any outlive the head.
        for pid in self._members():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_cluster(cpus: int = 2) -> LocalCluster:
    """Start a head node on a free port; returns once it accepts connections."""
    port = free_port()
    # Short: Ray's socket paths live under it and must stay under 108 bytes.
    temp_dir = Path(tempfile.mkdtemp(prefix="llray", dir="/tmp"))
    # Authentication off, said explicitly: Ray would otherwise turn token
    # authentication on when ~/.ray/auth_token happens to exist, and a client
    # naming an address does not send that token.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", f"--port={port}",
         "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", "--num-gpus=0",
         "--include-dashboard=false", "--object-store-memory=200000000",
         f"--temp-dir={temp_dir}", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )
    watchdog = server_watchdog.spawn("ray", "--session", str(process.pid),
                                     "--temp-dir", str(temp_dir))
    cluster = LocalCluster(f"127.0.0.1:{port}", process, temp_dir, watchdog)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(1.0)  # GCS answers before the raylet is registered
                return cluster
        except OSError:
            time.sleep(0.3)
    cluster.stop()
    raise RuntimeError("the local Ray cluster did not start within 60 s")


_shared: LocalCluster | None = None


def shared_cluster() -> LocalCluster:
    """The session's cluster, started on first use and stopped when the tests end."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = start_cluster()
        atexit.register(_shared.stop)
    return _shared


def disconnect() -> None:
    """Drop this process's connection to any cluster (between tests)."""
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()
