"""Running core functions off the UI thread, with progress reported back.

A task opens its own :class:`Workspace` (SQLite connections belong to one
thread), runs a core function, and reports through Qt signals, which Qt
delivers on the UI thread.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, SignalInstance

from app.project.workspace import Workspace, WorkspaceError

# fn(workspace, progress) -> result; progress(done, total)

# Two pool threads importing torch at the same time can leave its operator
# registry half-built ("operator prims::acosh does not exist"); the first
# import is serialised here, later ones find the module already loaded.
_TORCH_IMPORT = threading.Lock()


def import_torch_once() -> None:
    if "torch" in sys.modules and "torchvision" in sys.modules:
        return
    with _TORCH_IMPORT:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
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
            import_torch_once()
            with Workspace.open(self.project) as workspace:
                result = self.fn(workspace, self._progress)
        except WorkspaceError as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception as exc:  # shown to the user; the app stays usable
            traceback.print_exc()
            self._emit(self.signals.failed, f"{type(exc).__name__}: {exc}")
        else:
            self._emit(self.signals.finished, result)

    def _progress(self, done: int, total: int) -> None:
        self._emit(self.signals.progress, done, total)

    @staticmethod
    def _emit(signal: SignalInstance, *args: object) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:
            pass  # the window closed while we worked: nobody is listening any more


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
