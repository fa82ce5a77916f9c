"""Servers the tests start go when the test process is killed, and only then.

A child Python process stands for pytest: it starts a real server through
the same helpers the fixtures use, writes what identifies the server to a
file, and sleeps until the test SIGKILLs it (no teardown runs).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app import server_watchdog
from tests.app.pg_server import start_server
from tests.app.ray_helpers import REPO, start_cluster

GONE_WITHIN = 30  # seconds from the kill until the server and its folder must be gone

CHILD = """
import json, subprocess, sys, tempfile, time
from pathlib import Path

kind, facts_file = sys.argv[1], Path(sys.argv[2])
if kind == "postgres":
    from tests.app.pg_server import find_bindir, start_server
    server = start_server(find_bindir())
    facts = {"port": server.port, "folder": str(server.folder), "watchdog": server.watchdog.pid}
elif kind == "ray":
    from tests.app.ray_helpers import start_cluster
    cluster = start_cluster(cpus=1)
    facts = {"session": cluster.process.pid, "folder": str(cluster.temp_dir),
             "watchdog": cluster.watchdog.pid}
else:  # "session [OPTIONS]": a process session standing for a Ray head
    from tests.app import server_watchdog
    head = subprocess.Popen(["sleep", "600"], start_new_session=True)
    folder = tempfile.mkdtemp(prefix="llwatch")
    watchdog = server_watchdog.spawn(*kind.split()[1:], "ray", "--session", str(head.pid),
                                     "--temp-dir", folder)
    facts = {"session": head.pid, "folder": folder, "watchdog": watchdog.pid}
facts_file.with_suffix(".part").write_text(json.dumps(facts))
facts_file.with_suffix(".part").rename(facts_file)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie has ended: orphans may stay unreaped here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def watchdogs_of(folder: str) -> list[int]:
    """PIDs of live watchdog processes whose command line names ``folder``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            line = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "tests.app.server_watchdog" in line and folder in line and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def eventually(condition, seconds: float = GONE_WITHIN) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def start_and_kill(kind: str, tmp_path: Path, check_running) -> dict:
    """Start the child, check its server runs, SIGKILL the child; the server's facts."""
    facts_file = tmp_path / "facts.json"
    log = tmp_path / "child.log"
    with log.open("w") as output:
        child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(facts_file)], cwd=REPO,
                                 env={**os.environ, "PYTHONPATH": str(REPO)},
                                 stdout=output, stderr=subprocess.STDOUT)
    try:
        if not eventually(lambda: facts_file.exists() or child.poll() is not None, 180):
            pytest.fail(f"the child started no {kind} server within 180 s:\n{log.read_text()}")
        if not facts_file.exists():
            pytest.fail(f"the child exited with {child.returncode}:\n{log.read_text()}")
        facts = json.loads(facts_file.read_text())
        assert check_running(facts), facts  # so that "gone" below means something
        assert Path(facts["folder"]).is_dir()
        assert alive(facts["watchdog"])
    finally:
        child.send_signal(signal.SIGKILL)  # no teardown, no atexit: as a killed pytest
        child.wait(10)
    return facts


def clean_up_after_a_failure(facts: dict, stop) -> None:
    """Should the watchdog have failed, its own stop keeps this run from leaking a server."""
    if alive(facts["watchdog"]):
        os.kill(facts["watchdog"], signal.SIGKILL)
    stop()


def assert_the_watchdog_took_it_along(facts: dict, server_gone, stop) -> None:
    """The server (``server_gone()``), its folder and the watchdog end; ``stop`` if not."""
    try:
        assert eventually(server_gone)
        assert eventually(lambda: not Path(facts["folder"]).exists())
        assert eventually(lambda: not alive(facts["watchdog"]))
    finally:
        clean_up_after_a_failure(facts, stop)


def session_gone(facts: dict):
    return lambda: not server_watchdog.session_processes(facts["session"])


def stop_session(facts: dict):
    return lambda: server_watchdog.stop_ray(facts["session"], Path(facts["folder"]))


@pytest.mark.parametrize("options", ["", "--poll"], ids=["pidfd", "polling"])
def test_a_killed_test_process_takes_its_process_session_along(tmp_path, options):
    facts = start_and_kill(f"session {options}", tmp_path,
                           lambda f: bool(server_watchdog.session_processes(f["session"])))
    assert_the_watchdog_took_it_along(facts, session_gone(facts), stop_session(facts))


def test_a_killed_test_process_takes_its_postgres_server_along(tmp_path, pg_bindir):
    facts = start_and_kill("postgres", tmp_path, lambda f: accepts_connections(f["port"]))
    run_as = "postgres" if os.geteuid() == 0 else None
    assert_the_watchdog_took_it_along(
        facts, lambda: not accepts_connections(facts["port"]),
        lambda: server_watchdog.stop_postgres(str(pg_bindir / "pg_ctl"), Path(facts["folder"]),
                                              run_as))


@pytest.mark.slow
def test_a_killed_test_process_takes_its_ray_cluster_along(tmp_path):
    facts = start_and_kill("ray", tmp_path,
                           lambda f: len(server_watchdog.session_processes(f["session"])) > 1)
    assert_the_watchdog_took_it_along(facts, session_gone(facts), stop_session(facts))


def assert_a_normal_stop_ends_the_watchdog_first(watchdog, folder: Path, stop) -> None:
    """``stop()`` ends the server's ``watchdog`` (which never acts) and removes ``folder``."""
    try:
        assert watchdog.poll() is None
        assert watchdogs_of(str(folder)) == [watchdog.pid]
    finally:
        stop()
    assert watchdog.returncode == -signal.SIGTERM  # ended by the stop, not by acting itself
    assert watchdogs_of(str(folder)) == []
    assert not folder.exists()


def test_a_normal_stop_of_postgres_ends_its_watchdog_first(pg_bindir):
    server = start_server(pg_bindir)
    assert_a_normal_stop_ends_the_watchdog_first(server.watchdog, server.folder, server.destroy)


@pytest.mark.slow
def test_a_normal_stop_of_ray_ends_its_watchdog_first():
    cluster = start_cluster(cpus=1)
    assert_a_normal_stop_ends_the_watchdog_first(cluster.watchdog, cluster.temp_dir,
                                                 cluster.stop)
    assert not server_watchdog.session_processes(cluster.process.pid)
