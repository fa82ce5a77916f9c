"""Cycle collection on the UI thread only, and never while a task is inside torch.

Python's automatic collector runs on whichever thread happens to allocate
when a threshold is crossed.  The window's tests crashed (segmentation
fault) inside such collections, in two ways:

* on a pool thread, which may free cycles that hold the UI thread's Qt
  objects and so run their C++ destructors on the wrong thread;
* on the UI thread while a pool thread was inside torch, which works on
  its objects with the interpreter lock released.

So the window turns automatic collection off and collects itself, from a
timer on the UI thread, with the generations and thresholds Python would
use, and only while no workspace task is running (see ``hold_while``).
Reference counting still frees everything that is not in a cycle at once;
cycles wait at most until the running task ends.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QTimer
from shiboken6 import isValid

CHECK_INTERVAL_MS = 500  # a collection is due at most this long before it runs


class UiThreadCollector(QObject):
    """Runs the collections that Python would have run, from the UI thread."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._busy_checks: list[Callable[[], bool]] = []
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start()

    def hold_while(self, busy: Callable[[], bool]) -> None:
        """No collection while ``busy()`` says threads are in native code that must not race it."""
        self._busy_checks.append(busy)

    def collect_if_due(self) -> int | None:
        """Collect the oldest generation over its threshold; the generation collected."""
        if any(busy() for busy in self._busy_checks):
            return None
        generation = _due_generation(gc.get_count(), gc.get_threshold())
        if generation is not None:
            gc.collect(generation)  # counted per generation by gc.get_stats()
        return generation


def _due_generation(counts: tuple[int, int, int],
                    thresholds: tuple[int, int, int]) -> int | None:
    """What CPython's own trigger would collect: the oldest generation past its threshold."""
    for generation in (2, 1, 0):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            return generation
    return None


_collector: UiThreadCollector | None = None


def collect_on_ui_thread() -> UiThreadCollector:
    """The application's collector, installed on first call; call from the UI thread.

    Whatever starts threads calls this first (workspace tasks, thumbnail
    decoding, job readers), so no thread runs while automatic collection is on.
    """
    global _collector
    if _collector is None or not isValid(_collector):
        _collector = UiThreadCollector(QCoreApplication.instance())
    return _collector
