"""Running core functions off the UI thread, with progress reported back.

A task opens its own :class:`Workspace` (SQLite connections belong to one
thread), runs a core function, and reports through Qt signals, which Qt
delivers on the UI thread.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.workspace import Workspace, WorkspaceError

# fn(workspace, progress) -> result; progress(done, total)
TaskFunction = Callable[[Workspace, Callable[[int, int], None]], Any]


class TaskSignals(QObject):
    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)


class WorkspaceTask(QRunnable):
    """One core call on a pool thread against a project folder."""

    def __init__(self, project: Path, fn: TaskFunction) -> None:
        super().__init__()
        self.project = project
        self.fn = fn
        self.signals = TaskSignals()
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            with Workspace.open(self.project) as workspace:
                result = self.fn(workspace, self.signals.progress.emit)
        except WorkspaceError as exc:
            self.signals.failed.emit(str(exc))
        except Exception as exc:  # shown to the user; the app stays usable
            traceback.print_exc()
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.finished.emit(result)


def run_task(project: Path, fn: TaskFunction, *, on_done: Callable[[Any], None],
             on_error: Callable[[str], None],
             on_progress: Callable[[int, int], None] | None = None,
             pool: QThreadPool | None = None) -> WorkspaceTask:
    """Start ``fn`` on a worker thread; callbacks run on the UI thread."""
    task = WorkspaceTask(project, fn)
    task.signals.finished.connect(on_done)
    task.signals.failed.connect(on_error)
    if on_progress is not None:
        task.signals.progress.connect(on_progress)
    (pool or QThreadPool.globalInstance()).start(task)
    return task
