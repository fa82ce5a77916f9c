"""Qt objects of background work are created and destroyed on the UI thread.

A QObject destroyed on a pool thread while the UI thread delivers its last
signal is an occasional segmentation fault; these tests pin down that the
pool threads never hold the last reference to anything of the window's.
"""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QThreadPool

from app.gui.garbage_collection import CHECK_INTERVAL_MS, _due_generation
from app.gui.tasks import run_task
from app.gui.thumbnails import ImageCache
from tests.conftest import write_noise_images


class _Witness:
    """Records the thread on which it is destroyed."""

    def __init__(self, record: list[str]) -> None:
        self.record = record

    def __del__(self) -> None:
        self.record.append(threading.current_thread().name)


def test_a_tasks_function_and_callbacks_are_dropped_on_the_ui_thread(qtbot, project):
    ui_thread = threading.current_thread().name
    destroyed: list[str] = []
    results: list[object] = []
    for _ in range(20):  # a race: many tasks make a wrong order show
        witness = _Witness(destroyed)

        def project_root(workspace, progress, witness=witness):
            progress(1, 1)
            return workspace.root

        run_task(project.root, project_root, on_done=results.append, on_error=results.append)
        del witness, project_root
    qtbot.waitUntil(lambda: len(results) == 20, timeout=30_000)
    QThreadPool.globalInstance().waitForDone(10_000)
    gc.collect()
    assert results == [project.root] * 20
    assert len(destroyed) == 20
    assert set(destroyed) == {ui_thread}


def test_a_failing_task_reports_its_error_and_frees_its_function_on_the_ui_thread(qtbot, project):
    ui_thread = threading.current_thread().name
    destroyed: list[str] = []
    errors: list[str] = []
    witness = _Witness(destroyed)

    def broken(workspace, progress, witness=witness):
        raise ValueError("no such thing")

    run_task(project.root, broken, on_done=lambda _: None, on_error=errors.append)
    del witness, broken
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=30_000)
    QThreadPool.globalInstance().waitForDone(10_000)
    gc.collect()
    assert errors == ["ValueError: no such thing"]
    assert destroyed == [ui_thread]


def test_a_cache_closed_while_its_images_decode_gets_nothing_and_nothing_breaks(qtbot, tmp_path):
    paths = write_noise_images(tmp_path / "images", 30)
    closed = ImageCache(32, 100)
    for sample_id, path in enumerate(paths):
        closed.request(sample_id, str(path))
    del closed
    gc.collect()
    open_cache = ImageCache(32, 100)
    arrived: list[int] = []
    open_cache.ready.connect(arrived.append)
    for sample_id, path in enumerate(paths):
        open_cache.request(sample_id, str(path))
    qtbot.waitUntil(lambda: len(arrived) == len(paths), timeout=30_000)
    assert sorted(arrived) == list(range(len(paths)))
    assert all(not open_cache.get(i).isNull() for i in arrived)


class _Cycle:
    """An object only the cycle collector can free: it refers to itself."""

    def __init__(self, record: list[str]) -> None:
        self.itself = self
        self.witness = _Witness(record)


def _allocate_past_every_threshold() -> list[list[int]]:
    """Enough new containers that Python's own trigger would collect every generation."""
    return [[i] for i in range(50 * gc.get_threshold()[0] * gc.get_threshold()[1])]


def test_cycles_are_collected_on_the_ui_thread_and_not_while_a_task_runs(qtbot, project):
    ui_thread = threading.current_thread().name
    destroyed: list[str] = []
    cycle_dropped, release = threading.Event(), threading.Event()
    seen_by_task: list[bool] = []

    def allocating_task(workspace, progress):
        # A pool thread that allocates heavily: with automatic collection on,
        # it would collect the UI thread's cycle here, on the pool thread.
        cycle_dropped.wait(30)
        _allocate_past_every_threshold()
        seen_by_task.append(bool(destroyed))
        release.wait(30)
        return None

    finished: list[object] = []
    run_task(project.root, allocating_task, on_done=finished.append, on_error=finished.append)
    assert not gc.isenabled()
    _Cycle(destroyed)
    # Kept alive: Python's counts fall back as objects are freed, and the
    # collection is due only while the count stays over the threshold.
    allocated = _allocate_past_every_threshold()
    cycle_dropped.set()
    qtbot.waitUntil(lambda: bool(seen_by_task), timeout=30_000)
    qtbot.wait(4 * CHECK_INTERVAL_MS)  # the collector's timer fires, and holds off
    assert seen_by_task == [False]
    assert destroyed == []
    release.set()
    qtbot.waitUntil(lambda: finished == [None], timeout=30_000)
    qtbot.waitUntil(lambda: bool(destroyed), timeout=10 * CHECK_INTERVAL_MS)
    assert destroyed == [ui_thread]
    del allocated


def test_the_collector_collects_the_generation_python_would():
    thresholds = (700, 10, 10)
    assert _due_generation((0, 0, 0), thresholds) is None
    assert _due_generation((701, 0, 0), thresholds) == 0
    assert _due_generation((701, 11, 0), thresholds) == 1
    assert _due_generation((701, 11, 11), thresholds) == 2
    assert _due_generation((5, 0, 11), thresholds) == 2
    assert _due_generation((10**6, 0, 0), (0, 10, 10)) is None  # threshold 0: collection off
