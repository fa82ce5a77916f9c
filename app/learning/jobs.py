"""Background jobs (training, scoring), each in its own process.

The caller starts a job and gets a :class:`JobHandle`: it streams the job's
JSON-line events, cancels it with SIGTERM, and, whatever happens to the
process, leaves a final status in the ``jobs`` table.  The CLI follows the
handle in the foreground; the GUI reads the same events from a thread.

Job processes run ``python -m app.learning.job_worker PROJECT JOB_ID``; stderr goes
to ``cache/jobs/job-N.log`` (a pipe nobody reads could fill and block the job).

A job never wedges: a start that fails marks its row failed; a row whose
process is gone (PID dead, or reused by another process: the PID is checked
together with the process's start time) is marked failed by
:func:`reconcile_jobs` on every start and every ``labelloop jobs``; and
:func:`cancel_job` stops one from another process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app.domain.records import Job
from app.domain.timestamps import utc_now
from app.files.process_identity import (
    is_alive,
    machine_id,
    process_command_line,
    process_identity,
)
from app.learning.job_events import JobEvent, UnreadableEvent, parse_event_line
from app.project.workspace import Workspace, WorkspaceError
from app.store.errors import StoreError

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# Only one of these may run per project at a time.
EXCLUSIVE_KINDS = frozenset({"train", "pretrain"})
EXIT_CANCELLED = 2


def job_log_path(workspace: Workspace, job_id: int) -> Path:
    return workspace.cache_dir / "jobs" / f"job-{job_id:05d}.log"


# A job's own process claims its row within seconds; a row still queued
# after this long lost its launcher (and a live launcher such as the GUI
# cannot vouch for it).
QUEUED_TIMEOUT_S = 600
# The job parameter naming the machine that launched it (see machine_id).
LAUNCHED_ON = "launched_on"


def _stale_reason(job: Job, now: datetime) -> str | None:
    """Why a job row that is not final no longer has a process behind it, if so."""
    launched_on = job.params.get(LAUNCHED_ON)
    if launched_on is not None and launched_on != machine_id():
        # Another desktop of a team project runs it: its PID means nothing
        # here, and that desktop reconciles its own jobs.
        return None
    if job.pid is None:
        return "the job has no process (its start was interrupted)"
    if not is_alive(job.pid):
        if job.status == "queued":
            return "the job never started: the process launching it ended first"
        return "the job's process ended without reporting (crashed or killed)"
    if not is_alive(job.pid, job.process_identity):
        return (f"the job's process is gone (PID {job.pid} now belongs to another "
                "process, e.g. after a reboot)")
    if job.process_identity is None and process_identity(os.getpid()) is not None:
        # Recorded before identities were (schema < 3): a live PID proves nothing.
        return (f"the job's process cannot be confirmed (recorded by PID {job.pid} alone, "
                "by an older Labelloop)")
    if job.status == "queued":
        age = (now - datetime.fromisoformat(job.created_at)).total_seconds()
        if age > QUEUED_TIMEOUT_S:
            return f"the job never started: still queued after {age:.0f} s"
    return None


def reconcile_jobs(workspace: Workspace) -> list[Job]:
    """Mark jobs whose process is gone without a final status as failed.

    Runs before every job start and in ``labelloop jobs``.  A process counts
    as the job's only if its PID *and* identity (start time) match what was
    recorded, so a reused PID cannot keep a dead job "running".  On a
    read-only project nothing is written and nothing is returned.
    """
    if workspace.read_only:
        return []
    fixed = []
    now = datetime.now(timezone.utc)
    for job in workspace.list_jobs():
        if job.status in FINAL_STATUSES:
            continue
        reason = _stale_reason(job, now)
        if reason is None:
            continue
        # Only if the row is still as read: the job may have just finished.
        if workspace.finish_job_if(job.id, seen_status=job.status, seen_pid=job.pid,
                                         status="failed", error=job.error or reason):
            fixed.append(job)
    return fixed


class JobHandle:
    """A running job process and its event stream."""

    def __init__(self, workspace_root: Path, job_id: int, process: subprocess.Popen) -> None:
        self.workspace_root = workspace_root
        self.job_id = job_id
        self.process = process
        self._cancel_requested = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> Iterator[JobEvent | UnreadableEvent]:
        """Yield each event the job prints (:mod:`app.learning.job_events`), until its output ends.

        Text that is not JSON comes as :class:`JobOutput`; JSON that is no known
        event as :class:`UnreadableEvent`, for the reader to report.
        """
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = parse_event_line(line)
            if event is not None:
                yield event

    def cancel(self) -> None:
        """Ask the job to stop (SIGTERM); it discards its work and exits."""
        self._cancel_requested = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> Job:
        """Wait for the process; make sure the job row ends in a final status."""
        code = self.process.wait(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        with Workspace.open(self.workspace_root) as workspace:
            job = workspace.get_job(self.job_id)
            assert job is not None
            if job.status not in FINAL_STATUSES:
                if self._cancel_requested:
                    status, error = "cancelled", None
                else:
                    status = "failed"
                    error = f"the job's process exited with code {code}: {_log_tail(workspace, job.id)}"
                workspace.update_job(job.id, status=status, error=error,
                                           finished_at=utc_now())
                job = workspace.get_job(self.job_id)
            assert job is not None
            return job


def _log_tail(workspace: Workspace, job_id: int, lines: int = 5) -> str:
    try:
        text = job_log_path(workspace, job_id).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def start_job(workspace: Workspace, kind: str, params: dict[str, Any]) -> JobHandle:
    """Record and launch a job process; a clear error if an exclusive one runs.

    If the process cannot be started (no file descriptors left, no memory,
    the log cannot be written), the job is marked failed before the error is
    raised, so it never blocks the next start.
    """
    reconcile_jobs(workspace)
    me = os.getpid()
    try:
        job_id = workspace.create_job(
            kind, {**params, LAUNCHED_ON: machine_id()}, exclusive=kind in EXCLUSIVE_KINDS,
            pid=me,
            process_identity=process_identity(me),
        )
    except StoreError as exc:
        raise WorkspaceError(str(exc)) from exc
    try:
        log_path = job_log_path(workspace, job_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.learning.job_worker", str(workspace.root), str(job_id)],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                # Its own session: a Ctrl+C or a closed terminal reaches only the
                # caller; the job is then cancelled cleanly (Ctrl+C) or carries on
                # detached (see app.learning.job_worker), never killed mid-write.
                start_new_session=True,
            )
    except BaseException as exc:
        message = f"could not start the {kind} job's process: {_describe(exc)}"
        _mark_start_failed(workspace, job_id, me, message)
        if isinstance(exc, Exception):
            raise WorkspaceError(f"job {job_id}: {message}") from exc
        raise
    try:
        workspace.update_job(job_id, pid=process.pid,
                                   process_identity=process_identity(process.pid))
    except Exception:
        # The worker records its own PID when it claims the row; nothing is lost.
        pass
    return JobHandle(workspace.root, job_id, process)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__


def _mark_start_failed(workspace: Workspace, job_id: int, launcher: int, message: str) -> None:
    try:
        workspace.finish_job_if(job_id, seen_status="queued", seen_pid=launcher,
                                      status="failed", error=message)
    except Exception:
        # Even the database cannot be written (disk full, ...): the row names
        # this process, so the next reconcile marks it failed once we exit.
        pass


def is_job_worker(workspace: Workspace, job: Job) -> bool:
    """Whether the job's recorded process is alive and is this project's worker for it."""
    if not is_alive(job.pid, job.process_identity):
        return False
    argv = process_command_line(job.pid or 0)
    if argv is None:  # no /proc: PID and identity are all there is
        return True
    return ("app.learning.job_worker" in argv and len(argv) >= 2 and argv[-1] == str(job.id)
            and Path(argv[-2]).resolve() == workspace.root)


def cancel_job(workspace: Workspace, job_id: int, *, timeout: float = 60.0) -> Job:
    """Stop a queued or running job and return its row once final (or at ``timeout``).

    A running job's worker gets SIGTERM (it discards its work and records
    ``cancelled``); only a process whose PID, start time and command line
    say it is this job's worker is signalled.  A job still queued is marked
    cancelled, and its worker, when it starts, finds that and exits.

    Raises
    ------
    WorkspaceError
        No such job, or the job is not running (already finished).
    """
    reconcile_jobs(workspace)
    job = workspace.get_job(job_id)
    if job is None:
        raise WorkspaceError(f"no job {job_id} in {workspace.root}")
    if job.status in FINAL_STATUSES:
        ended = f" at {job.finished_at[:19]}" if job.finished_at else ""
        raise WorkspaceError(f"job {job_id} is not running: it {job.status}{ended}")
    if not is_job_worker(workspace, job):
        # Queued, its launcher alive (or just gone): no worker to signal yet.
        if workspace.finish_job_if(job_id, seen_status=job.status, seen_pid=job.pid,
                                         status="cancelled", error=None):
            return _final_job(workspace, job_id)
        job = workspace.get_job(job_id)  # a worker claimed it meanwhile
        assert job is not None
        if not is_job_worker(workspace, job):
            return job
    assert job.pid is not None
    try:
        os.kill(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = workspace.get_job(job_id)
        assert current is not None
        if current.status in FINAL_STATUSES:
            return current
        if not is_alive(current.pid, current.process_identity):
            # Killed before it could record anything: it did stop, on our request.
            workspace.finish_job_if(job_id, seen_status=current.status,
                                          seen_pid=current.pid, status="cancelled", error=None)
            return _final_job(workspace, job_id)
        time.sleep(0.1)
    return _final_job(workspace, job_id)


def _final_job(workspace: Workspace, job_id: int) -> Job:
    job = workspace.get_job(job_id)
    assert job is not None
    return job
