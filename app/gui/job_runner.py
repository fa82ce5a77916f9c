"""Background jobs (training, scoring) seen from the window.

The job itself is a separate process (app.learning.jobs); a small QThread only reads
its JSON-line events and re-emits them as signals, so the UI thread never
waits on a pipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from app.learning.jobs import JobHandle, start_job
from app.project.workspace import Workspace, WorkspaceError


class _EventReader(QThread):
    event = Signal(dict)
    ended = Signal(object)  # the final Job record

    def __init__(self, handle: JobHandle) -> None:
        super().__init__()
        self.handle = handle

    def run(self) -> None:
        for event in self.handle.events():
            self.event.emit(event)
        self.ended.emit(self.handle.wait())


class JobRunner(QObject):
    """Starts one job at a time and reports it: progress, done, failed, cancelled."""

    progress = Signal(dict)
    planned = Signal(dict)     # a training job's plan, before its first epoch
    succeeded = Signal(dict)   # the job's "done" event
    failed = Signal(str)
    cancelled = Signal()
    started = Signal(int)      # job id

    def __init__(self, project_root: Path, kind: str) -> None:
        super().__init__()
        self.project_root = project_root
        self.kind = kind
        self._handle: JobHandle | None = None
        self._reader: _EventReader | None = None
        self._final: dict[str, Any] = {}

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, workspace: Workspace, params: dict[str, Any]) -> bool:
        if self.running:
            self.failed.emit(f"a {self.kind} job is already running")
            return False
        try:
            self._handle = start_job(workspace, self.kind, params)
        except WorkspaceError as exc:
            self.failed.emit(str(exc))
            return False
        self._final = {}
        self._reader = _EventReader(self._handle)
        self._reader.event.connect(self._on_event)
        self._reader.ended.connect(self._on_ended)
        self._reader.start()
        self.started.emit(self._handle.job_id)
        return True

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    def wait(self, msecs: int = 60_000) -> None:
        """Block until the reader thread ends (closing the window, tests)."""
        if self._reader is not None:
            self._reader.wait(msecs)

    def _on_event(self, event: dict) -> None:
        if event.get("event") == "progress":
            self.progress.emit(event)
        elif event.get("event") == "plan":
            self.planned.emit(event)
        elif event.get("event") in ("done", "error", "cancelled"):
            self._final = event

    def _on_ended(self, job: Any) -> None:
        self._handle = None
        if self._reader is not None:
            self._reader.wait()
            self._reader = None
        if job.status == "succeeded":
            self.succeeded.emit(self._final)
        elif job.status == "cancelled":
            self.cancelled.emit()
        else:
            self.failed.emit(job.error or self._final.get("message", "the job failed"))
