"""Running core functions off the UI thread, with progress reported back.

A task opens its own :class:`Workspace` (SQLite connections belong to one
thread), runs a core function, and reports through Qt signals, which Qt
delivers on the UI thread.

Every Qt object and every callback of a task lives on the UI thread and is
dropped there: the runnable that Qt deletes on its pool thread holds only a
ticket number.  A signal-carrying QObject owned by the runnable would be
destroyed on the pool thread, against Qt's threading rules, racing the UI
thread's delivery of its last signal — an occasional segmentation fault.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal

from app.gui.garbage_collection import collect_on_ui_thread
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
        # No cycle collection races the import: the UI thread's collector
        # holds off while any task runs (app.gui.garbage_collection).
        import torch  # noqa: F401
        import torchvision  # noqa: F401


TaskFunction = Callable[[Workspace, Callable[[int, int], None]], Any]


@dataclass
class _Pending:
    """What the UI thread keeps for a task until its last signal arrives."""

    fn: TaskFunction
    on_done: Callable[[Any], None]
    on_error: Callable[[str], None]
    on_progress: Callable[[int, int], None] | None


class _Relay(QObject):
    """The one signal source of every task, alive as long as the application."""

    progress = Signal(int, int, int)   # ticket, done, total
    finished = Signal(int, object)     # ticket, result
    failed = Signal(int, str)          # ticket, message

    def __init__(self, parent: QObject | None) -> None:
        super().__init__(parent)
        self.pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()  # pool threads read `pending` while the UI adds
        self.progress.connect(self._on_progress)
        self.finished.connect(self._on_finished)
        self.failed.connect(self._on_failed)

    def add(self, ticket: int, pending: _Pending) -> None:
        with self._lock:
            self.pending[ticket] = pending

    def busy(self) -> bool:
        """Whether a task is queued or running, or its result is still on its way."""
        return bool(self.pending)

    def function(self, ticket: int) -> TaskFunction:
        with self._lock:
            return self.pending[ticket].fn

    def _take(self, ticket: int) -> _Pending | None:
        with self._lock:
            return self.pending.pop(ticket, None)

    def _on_progress(self, ticket: int, done: int, total: int) -> None:
        with self._lock:
            pending = self.pending.get(ticket)
        if pending is not None and pending.on_progress is not None:
            _call(pending.on_progress, done, total)

    def _on_finished(self, ticket: int, result: Any) -> None:
        pending = self._take(ticket)
        if pending is not None:
            _call(pending.on_done, result)

    def _on_failed(self, ticket: int, message: str) -> None:
        pending = self._take(ticket)
        if pending is not None:
            _call(pending.on_error, message)


def _call(callback: Callable[..., None], *args: Any) -> None:
    try:
        callback(*args)
    except RuntimeError as exc:
        # The widget the callback belongs to was closed while the task ran.
        if "already deleted" not in str(exc):
            raise


_relay: _Relay | None = None
_tickets = count(1)


def _the_relay() -> _Relay:
    """Created on first use, on the UI thread, and parented to the application."""
    global _relay
    if _relay is None:
        _relay = _Relay(QCoreApplication.instance())
        # Tasks run torch with the interpreter lock released: no collection meanwhile.
        collect_on_ui_thread().hold_while(_relay.busy)
    return _relay


class WorkspaceTask(QRunnable):
    """One core call on a pool thread against a project folder."""

    def __init__(self, project: Path, ticket: int, relay: _Relay) -> None:
        super().__init__()
        self.project = project
        self.ticket = ticket
        self._relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        succeeded, payload = self._call_function()
        # The function's frame is gone by now: what it held is the UI thread's to drop.
        if succeeded:
            self._relay.finished.emit(self.ticket, payload)
        else:
            self._relay.failed.emit(self.ticket, payload)

    def _call_function(self) -> tuple[bool, Any]:
        try:
            import_torch_once()
            fn = self._relay.function(self.ticket)
            with Workspace.open(self.project) as workspace:
                return True, fn(workspace, self._progress)
        except WorkspaceError as exc:
            return False, str(exc)
        except Exception as exc:  # shown to the user; the app stays usable
            traceback.print_exc()
            return False, f"{type(exc).__name__}: {exc}"

    def _progress(self, done: int, total: int) -> None:
        self._relay.progress.emit(self.ticket, done, total)


def run_task(project: Path, fn: TaskFunction, *, on_done: Callable[[Any], None],
             on_error: Callable[[str], None],
             on_progress: Callable[[int, int], None] | None = None,
             pool: QThreadPool | None = None) -> int:
    """Start ``fn`` on a worker thread; callbacks run on the UI thread.

    Returns the task's ticket.  Call from the UI thread.
    """
    relay = _the_relay()
    ticket = next(_tickets)
    relay.add(ticket, _Pending(fn, on_done, on_error, on_progress))
    (pool or QThreadPool.globalInstance()).start(WorkspaceTask(project, ticket, relay))
    return ticket
