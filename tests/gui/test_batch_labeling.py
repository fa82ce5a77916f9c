"""Select several thumbnails, label them with one key, take them back with one undo."""

from __future__ import annotations

from PySide6.QtCore import Qt


def _grid(window):
    return window.workbench.grid


def _click(qtbot, grid, row, modifier=Qt.KeyboardModifier.NoModifier):
    rect = grid.visualRect(grid.model().index(row, 0))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def test_click_and_ctrl_click_select_tiles_one_key_labels_them_one_undo(qtbot, window):
    project, grid = window.project, _grid(window)
    _click(qtbot, grid, 2)  # a plain click shows the sample
    assert project.session.position == 2 and project.selected == []
    for row in (4, 5):
        _click(qtbot, grid, row, Qt.KeyboardModifier.ControlModifier)
    chosen = [project.queue[row].sample_id for row in (2, 4, 5)]
    assert sorted(project.selected) == sorted(chosen)
    assert project.session.position == 2  # Ctrl-clicks select, they do not move

    qtbot.keyClick(window, "7")
    labels = project.workspace.current_labels()
    assert labels == dict.fromkeys(chosen, "7")  # rows 3 was skipped over, not labeled
    assert project.selected == [] and len(grid.selectionModel().selectedIndexes()) == 1
    assert project.session.position == 6  # past the last one labeled
    assert "Labeled 3 samples" in window.statusBar().notice.text()

    qtbot.keyClick(window, "z", Qt.KeyboardModifier.ControlModifier)
    assert project.workspace.current_labels() == {}
    assert "batch of 3" in window.statusBar().notice.text()
    assert project.session.position == 2


def test_shift_click_selects_a_range(qtbot, window):
    project, grid = window.project, _grid(window)
    _click(qtbot, grid, 1)
    _click(qtbot, grid, 4, Qt.KeyboardModifier.ShiftModifier)
    assert sorted(project.selected) == sorted(project.queue[r].sample_id for r in range(1, 5))


def test_ctrl_a_selects_the_whole_filtered_queue_and_escape_none(qtbot, window):
    from app.labeling.queues import QueueSpec

    project, grid = window.project, _grid(window)
    for key in ("1", "1", "2"):
        qtbot.keyClick(window, key)
    window.workbench.queue_panel.select(QueueSpec(kind="labeled", class_filter="1"))
    qtbot.waitUntil(lambda: len(project.queue) == 2)
    qtbot.keyClick(window, "a", Qt.KeyboardModifier.ControlModifier)
    assert sorted(project.selected) == sorted(i.sample_id for i in project.queue)
    assert len(grid.selectionModel().selectedIndexes()) == 2
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert project.selected == []

    qtbot.keyClick(window, "a", Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, "9")  # relabel both: a review fix in one press
    labels = project.workspace.current_labels()
    assert sorted(labels.values()) == ["2", "9", "9"]


def test_a_big_queue_shows_its_first_page_at_once_and_the_rest_follows(
        qtbot, window, monkeypatch):
    from app.gui import project_model
    from app.labeling.queues import QueueSpec

    monkeypatch.setattr(project_model, "FIRST_PAGE", 5)
    project = window.project
    window.workbench.queue_panel.select(QueueSpec(kind="unlabeled"))
    assert [item.sample_id for item in project.queue] == [1, 2, 3, 4, 5]
    assert project.queue_pending and "loading the rest" in project.header()
    qtbot.keyClick(window, "3")            # labeling goes on meanwhile
    qtbot.keyClick(window, Qt.Key.Key_Right)
    on_screen = project.current.sample_id  # sample 3
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=60_000)
    assert len(project.queue) == 1797 - 1  # the labeled sample left the unlabeled queue
    assert project.current.sample_id == on_screen and "loading" not in project.header()
