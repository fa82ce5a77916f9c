"""Background jobs (training, scoring) seen from the window.

The job itself is a separate process (app.learning.jobs); a small QThread only reads
its events (the typed schema of app.learning.job_events, shared with the CLI)
and re-emits them as signals, so the UI thread never waits on a pipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from app.gui.garbage_collection import collect_on_ui_thread
from app.learning.compute_setting import with_compute
from app.learning.job_events import (
    EpochProgress,
    FinalEvent,
    JobEvent,
    JobFailed,
    PretrainDone,
    PretrainProgress,
    ScoringDone,
    ScoringProgress,
    TrainingDone,
    TrainingPlan,
    UnreadableEvent,
)
from app.learning.jobs import JobHandle, start_job
from app.project.workspace import Workspace, WorkspaceError


class _EventReader(QThread):
    event = Signal(object)  # a JobEvent or an UnreadableEvent
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

    progress = Signal(object)   # EpochProgress, ScoringProgress or PretrainProgress
    planned = Signal(object)    # TrainingPlan, before the first epoch
    succeeded = Signal(object)  # TrainingDone, ScoringDone or PretrainDone
    failed = Signal(str)
    cancelled = Signal()
    started = Signal(int)       # job id
    unreadable = Signal(str)    # a line of the job's output that is no known event

    def __init__(self, project_root: Path, kind: str) -> None:
        super().__init__()
        self.project_root = project_root
        self.kind = kind
        self._handle: JobHandle | None = None
        self._reader: _EventReader | None = None
        self._final: FinalEvent | None = None

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self, workspace: Workspace, params: dict[str, Any]) -> bool:
        if self.running:
            self.failed.emit(f"a {self.kind} job is already running")
            return False
        try:
            # The project's compute setting decides where the job's heavy part runs.
            self._handle = start_job(workspace, self.kind, with_compute(workspace, params))
        except WorkspaceError as exc:
            self.failed.emit(str(exc))
            return False
        self._final = None
        collect_on_ui_thread()  # the reader thread never collects the UI thread's cycles
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

    def _on_event(self, event: JobEvent | UnreadableEvent) -> None:
        if isinstance(event, EpochProgress | ScoringProgress | PretrainProgress):
            self.progress.emit(event)
        elif isinstance(event, TrainingPlan):
            self.planned.emit(event)
        elif isinstance(event, FinalEvent):
            self._final = event
        elif isinstance(event, UnreadableEvent):
            self.unreadable.emit(f"the {self.kind} job printed a line this version cannot "
                                 f"read ({event.problem}): {event.line[:200]}")

    def _on_ended(self, job: Any) -> None:
        self._handle = None
        if self._reader is not None:
            self._reader.wait()
            self._reader = None
        final, self._final = self._final, None
        if job.status == "succeeded" and isinstance(final, TrainingDone | ScoringDone
                                                    | PretrainDone):
            self.succeeded.emit(final)
        elif job.status == "cancelled":
            self.cancelled.emit()
        elif job.status == "succeeded":
            self.failed.emit(f"the {self.kind} job succeeded but its outcome never arrived")
        else:
            message = final.message if isinstance(final, JobFailed) else None
            self.failed.emit(job.error or message or "the job failed")
