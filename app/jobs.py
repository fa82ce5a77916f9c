"""Background jobs (training, scoring), each in its own process.

The caller starts a job and gets a :class:`JobHandle`: it streams the job's
JSON-line events, cancels it with SIGTERM, and, whatever happens to the
process, leaves a final status in the ``jobs`` table.  The CLI follows the
handle in the foreground; the GUI reads the same events from a thread.

Job processes run ``python -m app.job_worker PROJECT JOB_ID``; stderr goes
to ``cache/jobs/job-N.log`` (a pipe nobody reads could fill and block the job).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.records import Job
from app.store import StoreError, utc_now
from app.workspace import Workspace, WorkspaceError

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
# Only one of these may run per project at a time.
EXCLUSIVE_KINDS = frozenset({"train"})
EXIT_CANCELLED = 2


def job_log_path(workspace: Workspace, job_id: int) -> Path:
    return workspace.cache_dir / "jobs" / f"job-{job_id:05d}.log"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); waitpid tells it apart.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True  # not our child: it exists


def reconcile_jobs(workspace: Workspace) -> list[Job]:
    """Mark jobs whose process is gone without a final status as failed."""
    fixed = []
    for job in workspace.store.list_jobs():
        if job.status in FINAL_STATUSES or (job.status == "queued" and job.pid is None):
            continue
        if not _pid_alive(job.pid):
            workspace.store.update_job(
                job.id, status="failed", finished_at=utc_now(),
                error=job.error or "the job's process ended without reporting (crashed or killed)",
            )
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

    def events(self) -> Iterator[dict[str, Any]]:
        """Yield each JSON event the job prints, until its output ends."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except ValueError:
                yield {"event": "log", "message": line}

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
            job = workspace.store.get_job(self.job_id)
            assert job is not None
            if job.status not in FINAL_STATUSES:
                if self._cancel_requested:
                    status, error = "cancelled", None
                else:
                    status = "failed"
                    error = f"the job's process exited with code {code}: {_log_tail(workspace, job.id)}"
                workspace.store.update_job(job.id, status=status, error=error,
                                           finished_at=utc_now())
                job = workspace.store.get_job(self.job_id)
            assert job is not None
            return job


def _log_tail(workspace: Workspace, job_id: int, lines: int = 5) -> str:
    try:
        text = job_log_path(workspace, job_id).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


def start_job(workspace: Workspace, kind: str, params: dict[str, Any]) -> JobHandle:
    """Record and launch a job process; a clear error if an exclusive one runs."""
    reconcile_jobs(workspace)
    try:
        job_id = workspace.store.create_job(kind, params, exclusive=kind in EXCLUSIVE_KINDS)
    except StoreError as exc:
        raise WorkspaceError(str(exc)) from exc
    log_path = job_log_path(workspace, job_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.job_worker", str(workspace.root), str(job_id)],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
            # Its own session: a Ctrl+C in the terminal reaches only the caller,
            # which then cancels the job cleanly instead of killing it mid-write.
            start_new_session=True,
        )
    workspace.store.update_job(job_id, pid=process.pid)
    return JobHandle(workspace.root, job_id, process)
