"""The labeling workbench driven by key presses, as an annotator uses it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.labeling.queues import QueueSpec, build_queue
from app.project.workspace import Workspace
from tests.conftest import write_noise_images


def _rows(window):
    model = window.workbench.grid_model
    return [model.data(model.index(r), Qt.ItemDataRole.UserRole + 1)
            for r in range(model.rowCount())]


def test_keys_work_at_once_and_each_press_commits_one_label(qtbot, window):
    project = window.project
    first = project.current
    assert first is not None and first.sample_id == 1  # import order, nothing clicked
    pressed = []
    for i in range(20):
        digit = str(i % 10)
        pressed.append((project.current.sample_id, digit))
        qtbot.keyClick(window, digit)
    with Workspace.open(project.root) as ws:
        rows = ws.store.all_annotations()
    assert [(r.sample_id, r.class_name) for r in rows] == pressed
    assert {r.annotator for r in rows} == {"gui-tester"}
    assert all(r.seconds_spent is not None and r.seconds_spent >= 0 for r in rows)
    assert project.current.sample_id == 21  # the next sample is already on screen


def test_undo_skip_and_failure_marking(qtbot, window):
    project = window.project
    qtbot.keyClick(window, "4")
    qtbot.keyClick(window, "7")
    qtbot.keyClick(window, Qt.Key.Key_Backspace)  # undoes the "7" on sample 2
    assert project.current.sample_id == 2
    assert project.workspace.current_labels() == {1: "4"}
    qtbot.keyClick(window, "z", Qt.KeyboardModifier.ControlModifier)  # undoes the "4"
    assert project.workspace.current_labels() == {}
    history = project.workspace.history(1)
    assert [a.source for a in history] == ["unlabeled", "undo"]  # append-only
    qtbot.keyClick(window, "s")
    qtbot.keyClick(window, "s")
    assert project.current.sample_id == 3 and project.workspace.current_labels() == {}
    qtbot.keyClick(window, "f")
    items = project.workspace.store.failure_items("failures")
    assert [i.sample_id for i in items] == [3]
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert project.current.sample_id == 4


def test_class_buttons_show_their_keys_and_label_when_clicked(qtbot, window):
    buttons = window.workbench.labeling.class_buttons
    assert buttons["3"].text() == "[3]  3"
    qtbot.mouseClick(buttons["5"], Qt.MouseButton.LeftButton)
    assert window.project.workspace.current_labels() == {1: "5"}


def test_switching_queues_reorders_the_grid_as_the_core_ranks(qtbot, window):
    panel = window.workbench.queue_panel
    with qtbot.waitSignal(window.project.queueChanged, timeout=120_000):
        panel.select(QueueSpec(kind="random"))
    expected = [item.sample_id for item in build_queue(window.project.workspace,
                                                       QueueSpec(kind="random"))]
    assert _rows(window) == expected and expected != sorted(expected)
    for digit in "123":
        qtbot.keyClick(window, digit)
    panel.select(QueueSpec(kind="labeled"))
    assert sorted(_rows(window)) == sorted(window.project.workspace.current_labels())
    assert len(_rows(window)) == 3


def test_a_dropped_folder_is_imported_in_the_background(qtbot, window, tmp_path):
    folder = write_noise_images(tmp_path / "dropped", 5, size=32)[0].parent
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.project.idle, timeout=30_000):
        window.dropEvent(event)
    assert window.project.workspace.sample_count() == 1797 + 5


def test_the_window_fits_1280x800_and_paints_a_real_picture(qtbot, window):
    window.resize(1280, 800)
    qtbot.wait(200)
    image = window.grab().toImage()
    assert (image.width(), image.height()) == (1280, 800)
    pixels = np.array([image.pixel(x, y) for x in range(0, 1280, 40) for y in range(0, 800, 40)])
    assert len(np.unique(pixels)) > 10  # not a blank or uniform frame


def test_the_last_project_reopens(qtbot, settings, demo_copy):
    from app.gui.main_window import LAST_PROJECT, MainWindow

    assert settings.value(LAST_PROJECT) is None
    first = MainWindow(settings, "a")
    qtbot.addWidget(first)
    first.open_project(demo_copy)
    first.close()
    assert settings.value(LAST_PROJECT) == str(demo_copy)
    from app.gui.application import create_window

    again = create_window(None, "a", settings)
    qtbot.addWidget(again)
    assert again.project is not None and again.project.root == demo_copy
    assert again.project.current is not None


def test_a_broken_project_path_shows_an_error_and_the_app_stays_up(qtbot, settings, tmp_path):
    from app.gui.main_window import MainWindow

    win = MainWindow(settings, "a")
    qtbot.addWidget(win)
    assert not win.open_project(tmp_path / "nope")
    assert "not a Labelloop project" in win.last_error
    assert win.project is None


def test_marked_failures_feed_the_similar_to_failures_queue(qtbot, window):
    project = window.project
    qtbot.keyClick(window, "f")  # sample 1 becomes a known failure
    failure_path = project.workspace.sample(1).path
    window.workbench.queue_panel.reload_choices()
    with qtbot.waitSignal(project.queueChanged, timeout=60_000):
        window.workbench.queue_panel.select(
            QueueSpec(kind="failures", failure_set="failures", method="phash"))
    queue = project.queue
    assert queue and 1 not in {item.sample_id for item in queue}  # never the failure itself
    top = queue[0].reason
    assert top.nearest_failure.path == failure_path and top.hamming is not None
    scores = [item.score for item in queue]
    assert scores == sorted(scores, reverse=True)
    view = window.workbench.labeling
    assert "Similar to failure set <b>failures</b>" in view.reason.text()
    assert not view.failure_thumb.isHidden()


def test_a_long_header_wraps_instead_of_squeezing_the_grid(qtbot, window):
    from PySide6.QtWidgets import QSplitter

    from app.labeling.queue_filters import QueueFilter
    from app.labeling.queues import QueueSpec

    window.resize(1280, 800)
    qtbot.wait(100)
    panes = window.findChild(QSplitter, "labelSplitter")
    before = panes.sizes()
    window.workbench.queue_panel.select(QueueSpec(kind="unlabeled", filters=QueueFilter(
        import_batch=1, sort="name")))
    qtbot.waitUntil(lambda: not window.project.queue_pending)
    title = window.workbench.labeling.title
    assert "filtered: import batch 1 · sorted by name" in title.text()
    qtbot.wait(100)
    assert panes.sizes() == before  # the grid keeps its room
    assert title.height() > title.fontMetrics().lineSpacing() * 1.5  # on two lines
