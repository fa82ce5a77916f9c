"""Go to a sample by id or file name, and the label history beside the grid."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.labeling.queues import QueueSpec
from app.learning.pick_reasons import OpenedReason


def _history(window) -> list[list[str]]:
    table = window.workbench.history.table
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def test_go_to_jumps_within_the_queue_or_detours_from_it(qtbot, window):
    project = window.project
    assert window.go_to_sample("digit_0900.png")  # a file name, as a user types it
    assert project.current.path == "pool/digit_0900.png"  # in this queue: jumps there
    qtbot.keyClick(window, "5")
    labeled = project.current.sample_id - 1
    window.workbench.queue_panel.select(QueueSpec(kind="labeled"))
    qtbot.waitUntil(lambda: [i.sample_id for i in project.queue] == [labeled])

    assert window.go_to_sample("digit_0010.png")  # not in the review queue: a detour
    opened = project.current
    assert opened.path == "pool/digit_0010.png" and isinstance(opened.reason, OpenedReason)
    assert "Go to" in window.workbench.labeling.reason.text()
    qtbot.keyClick(window, "3")
    assert project.workspace.current_labels()[opened.sample_id] == "3"
    assert project.current.sample_id == labeled  # the queue walks on where it was
    assert window.go_to_sample(str(opened.sample_id))  # by id, now in the queue
    assert project.current.sample_id == opened.sample_id and len(project.queue) == 2


def test_an_unknown_name_is_an_error_and_nothing_moves(qtbot, window):
    before = window.project.current.sample_id
    assert not window.go_to_sample("no-such-file.png")
    assert "no-such-file.png" in window.last_error
    assert window.project.current.sample_id == before


def test_the_history_panel_tells_the_story_of_the_sample_on_screen(qtbot, window):
    qtbot.keyClick(window, "4")                      # sample 1: 4
    qtbot.keyClick(window, Qt.Key.Key_Backspace)     # undo: back on sample 1
    qtbot.keyClick(window, "7")                      # sample 1: 7
    window.go_to_sample("1")
    rows = _history(window)
    assert window.workbench.history.title.text() == "History of sample 1"
    assert [row[2] for row in rows] == ["7", "—", "4"]  # newest first; the undo row has no label
    assert [row[3] for row in rows] == ["manual (unlabeled)", "undo",
                                        "manual (unlabeled), undone"]
    assert {row[1] for row in rows} == {"gui-tester"}
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert _history(window) == []  # sample 2 was never labeled
