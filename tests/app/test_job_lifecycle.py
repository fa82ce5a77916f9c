"""Jobs never wedge: failed starts, stale rows, cancel, a closed terminal.

Everything runs real processes: the CLI in a subprocess, real job workers,
real ``sleep`` processes standing in for a PID reused by someone else.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import app.learning.jobs
from app.files.process_identity import is_alive, process_identity
from app.learning.job_events import EpochProgress
from app.learning.jobs import cancel_job, job_log_path, reconcile_jobs, start_job
from app.pool.importer import import_images
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import REPO, run_cli, write_noise_images

# Each epoch of 6 tiny images is one optimiser step: min-steps sets how long
# a job runs (and how many progress events it prints).
LONG = {"epochs": 1, "patience": 0, "min_steps": 100_000}


@pytest.fixture
def labeled(tmp_path: Path) -> Path:
    """A two-class project with 6 labeled noise images."""
    images = write_noise_images(tmp_path / "images", 6)
    with Workspace.init(tmp_path / "proj", ["a", "b"]) as ws:
        import_images(ws, [images[0].parent], workers=1)
        for sample in ws.samples():
            ws.label(sample.id, "a" if sample.id <= 3 else "b", "t")
    return tmp_path / "proj"


def _wait_until(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def _job(root: Path, job_id: int):
    with Workspace.open(root) as ws:
        return ws.store.get_job(job_id)


def test_a_start_that_runs_out_of_file_descriptors_fails_the_job_not_the_next_start(labeled):
    # 10 descriptors: enough to open the project and record the job, not to
    # open its log and the pipes of its process.
    result = subprocess.run(
        ["bash", "-c", f'ulimit -n 10; exec "{sys.executable}" -m app train "{labeled}" '
                       "--epochs 1 --min-steps 0"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Too many open files" in result.stderr
    with Workspace.open(labeled) as ws:
        (job,) = ws.store.list_jobs()
        assert job.status == "failed" and "could not start" in job.error
    # The failed job does not say "already running" to the next one.
    run_cli("train", labeled, "--epochs", "1", "--min-steps", "0")
    with Workspace.open(labeled) as ws:
        assert [j.status for j in ws.store.list_jobs()] == ["failed", "succeeded"]


def test_a_popen_that_raises_marks_the_job_failed(labeled, monkeypatch):
    def no_process(*_args, **_kwargs):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(app.learning.jobs.subprocess, "Popen", no_process)
    with Workspace.open(labeled) as ws:
        with pytest.raises(WorkspaceError, match="could not start.*temporarily unavailable"):
            start_job(ws, "train", {})
        (job,) = ws.store.list_jobs()
        assert job.status == "failed" and job.finished_at is not None


@pytest.fixture
def sleeper():
    """A live process that is not a job worker (stands in for a reused PID)."""
    process = subprocess.Popen(["sleep", "120"])
    yield process
    process.kill()
    process.wait()


def test_stale_rows_are_failed_and_live_ones_kept(labeled, sleeper):
    gone = subprocess.Popen(["true"])
    gone.wait()
    with Workspace.open(labeled) as ws:
        store = ws.store
        no_pid = store.create_job("score", {}, exclusive=False)
        dead = store.create_job("score", {}, exclusive=False)
        store.update_job(dead, status="running", pid=gone.pid)
        reused = store.create_job("score", {}, exclusive=False)
        # The PID is alive but belongs to a process started at another time.
        store.update_job(reused, status="running", pid=sleeper.pid,
                         process_identity="some-other-boot:12345")
        live = store.create_job("score", {}, exclusive=False)
        store.update_job(live, status="running", pid=sleeper.pid,
                         process_identity=process_identity(sleeper.pid))
        fixed = {job.id for job in reconcile_jobs(ws)}
        assert fixed == {no_pid, dead, reused}
        assert "belongs to another process" in store.get_job(reused).error
        assert "crashed or killed" in store.get_job(dead).error
        assert store.get_job(live).status == "running"
    listed = {j["id"]: j["status"] for j in json.loads(run_cli("jobs", labeled, "--json").stdout)}
    assert listed == {no_pid: "failed", dead: "failed", reused: "failed", live: "running"}


def test_a_queued_row_whose_launcher_lives_on_expires(labeled):
    with Workspace.open(labeled) as ws:
        me = os.getpid()
        job_id = ws.store.create_job("train", {}, exclusive=True, pid=me,
                                     process_identity=process_identity(me))
        assert reconcile_jobs(ws) == []  # just queued: its launcher vouches for it
        old = "2000-01-01T00:00:00.000000+00:00"
        with ws.store.transaction() as conn:
            conn.exec_driver_sql("UPDATE jobs SET created_at = ? WHERE id = ?", (old, job_id))
        assert [j.id for j in reconcile_jobs(ws)] == [job_id]
        assert "still queued" in ws.store.get_job(job_id).error


def test_a_running_row_is_not_overwritten_once_its_job_has_finished(labeled):
    with Workspace.open(labeled) as ws:
        job_id = ws.store.create_job("score", {}, exclusive=False)
        ws.store.update_job(job_id, status="succeeded")
        # A reconcile that read "running" before the job finished must not win.
        assert not ws.store.finish_job_if(job_id, seen_status="running", seen_pid=None,
                                          status="failed", error="stale")
        assert ws.store.get_job(job_id).status == "succeeded"


def test_jobs_cancel_stops_a_running_worker_from_another_process(labeled):
    with Workspace.open(labeled) as ws:
        handle = start_job(ws, "train", LONG)
        for event in handle.events():
            if isinstance(event, EpochProgress):
                break
        result = run_cli("jobs", labeled, "--cancel", str(handle.job_id))
        assert f"job {handle.job_id} cancelled" in result.stdout
        job = handle.wait(timeout=60)
        assert job.status == "cancelled" and handle.process.returncode == 2
        assert ws.model_versions() == []
        assert list((labeled / "models").iterdir()) == []


def test_jobs_cancel_on_a_finished_job_is_a_clear_error(labeled):
    with Workspace.open(labeled) as ws:
        job_id = ws.store.create_job("train", {}, exclusive=True)
        ws.store.update_job(job_id, status="failed", finished_at="2026-01-01T00:00:00")
    result = run_cli("jobs", labeled, "--cancel", str(job_id), check=False)
    assert result.returncode == 1
    assert result.stderr == (f"labelloop: error: job {job_id} is not running: "
                             "it failed at 2026-01-01T00:00:00\n")
    result = run_cli("jobs", labeled, "--cancel", "99", check=False)
    assert result.returncode == 1 and "no job 99" in result.stderr


def test_cancel_never_signals_a_process_that_is_not_the_jobs_worker(labeled, sleeper):
    with Workspace.open(labeled) as ws:
        job_id = ws.store.create_job("train", {}, exclusive=True)
        # Alive, and the identity even matches: but it is `sleep`, not our worker.
        ws.store.update_job(job_id, status="running", pid=sleeper.pid,
                            process_identity=process_identity(sleeper.pid))
        job = cancel_job(ws, job_id, timeout=5)
        assert job.status == "cancelled"
    assert sleeper.poll() is None and is_alive(sleeper.pid)


def test_a_job_cancelled_while_queued_never_runs(labeled):
    with Workspace.open(labeled) as ws:
        me = os.getpid()
        job_id = ws.store.create_job("train", {}, exclusive=True, pid=me,
                                     process_identity=process_identity(me))
        assert cancel_job(ws, job_id).status == "cancelled"
    # Its worker, started late, finds the row cancelled and leaves.
    worker = subprocess.run([sys.executable, "-m", "app.learning.job_worker", str(labeled), str(job_id)],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert worker.returncode == 2 and '"cancelled"' in worker.stdout
    assert _job(labeled, job_id).status == "cancelled"


def _start_train_cli(root: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "app", "train", str(root), "--epochs", "1", "--patience", "0",
         "--min-steps", "300", "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        cwd=REPO, start_new_session=True,  # its own process group, as a terminal gives it
        # A hang-up ends it, as in a terminal, even where pytest itself was started
        # with SIGHUP ignored (nohup), which children inherit.
        preexec_fn=_hang_up_ends_the_process,
    )


def _hang_up_ends_the_process() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def test_closing_the_terminal_of_train_leaves_the_job_running_detached(labeled):
    cli = _start_train_cli(labeled)
    first = json.loads(cli.stdout.readline())
    assert first["event"] == "plan"  # the worker is running: it states its plan first
    # The terminal goes away: its process group gets SIGHUP, its reader closes.
    os.killpg(cli.pid, signal.SIGHUP)
    cli.stdout.close()
    assert cli.wait(timeout=60) == -signal.SIGHUP
    cli.stderr.close()
    with Workspace.open(labeled) as ws:
        (job,) = ws.store.list_jobs()
    _wait_until(lambda: _job(labeled, job.id).status != "running")
    finished = _job(labeled, job.id)
    assert finished.status == "succeeded" and finished.model_version_id == 1
    with Workspace.open(labeled) as ws:
        log = job_log_path(ws, job.id).read_text()
        assert [v.id for v in ws.model_versions()] == [1]
    assert "carries on detached" in log and '"event": "done"' in log


def test_train_piped_into_a_reader_that_leaves_finishes_in_the_background(labeled):
    result = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -m app train "{labeled}" --epochs 1 --patience 0 '
                       "--min-steps 300 --json | head -n 1"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert json.loads(result.stdout)["event"] == "plan"
    assert "job 1 carries on in the background" in result.stderr
    assert "Traceback" not in result.stderr
    _wait_until(lambda: _job(labeled, 1).status != "running")
    assert _job(labeled, 1).status == "succeeded"


def test_a_schema_2_project_migrates_and_its_pid_only_running_row_is_reconciled(tmp_path,
                                                                                sleeper):
    import sqlite3

    from app.store import sqlite_engine
    from app.store.migrate import SCHEMA_VERSION, upgrade

    root = tmp_path / "old"
    root.mkdir()
    # A project as Labelloop left it before job rows carried an identity
    # (schema version 2, the revision 0002 of the migrations).
    engine = sqlite_engine.sqlite_engine(root / "labelloop.sqlite", read_only=False)
    with engine.connect() as conn, conn.begin():
        upgrade(conn, "0002")
    engine.dispose()
    with sqlite3.connect(root / "labelloop.sqlite") as conn:
        assert conn.execute("SELECT value FROM meta").fetchone() == ("2",)
        conn.execute("INSERT INTO jobs(kind, status, pid, created_at, params) "
                     "VALUES ('train', 'running', ?, '2026-01-01T00:00:00+00:00', '{}')",
                     (sleeper.pid,))
    with Workspace.open(root) as ws:
        assert ws.store.schema_version() == SCHEMA_VERSION
        (job,) = ws.store.list_jobs()
        assert job.process_identity is None and job.pid == sleeper.pid
        # The PID is alive (a reboot handed it to `sleep`), yet the row is stale.
        assert [j.id for j in reconcile_jobs(ws)] == [job.id]
        assert "older Labelloop" in ws.store.get_job(job.id).error
