"""A reviewer in the window: settles a disagreement with a class key, accepts and
rejects labels with Ctrl+Return / Ctrl+Backspace, and an annotator may not."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.labeling.queues import QueueSpec
from app.labeling.roles import set_role


def _show(window, qtbot, kind: str) -> None:
    window.workbench.queue_panel.select(QueueSpec(kind=kind))
    qtbot.waitUntil(lambda: not window.project.queue_pending
                    and window.project.spec.kind == kind, timeout=30_000)


def test_a_reviewer_settles_a_disagreement_then_accepts_and_rejects(qtbot, window):
    project = window.project
    ws = project.workspace
    set_role(ws, "gui-tester", "reviewer")
    ws.label(1, "3", "a")
    ws.label(1, "5", "b")   # a and b disagree on item 1
    ws.label(2, "4", "a")
    ws.label(3, "4", "a")
    ws.label(4, "8", "b")

    _show(window, qtbot, "disagreements")
    assert [item.sample_id for item in project.queue] == [1]
    assert "Annotators disagree" in window.workbench.labeling.reason.text()
    qtbot.keyClick(window, "5")  # the reviewer's label settles it
    assert ws.current_label(1) == "5"
    _show(window, qtbot, "disagreements")
    assert project.queue == []
    assert [(r.annotator, r.class_name) for r in ws.history(1)] == [
        ("a", "3"), ("b", "5"), ("gui-tester", "5")]  # the votes stay

    _show(window, qtbot, "to_review")
    assert [item.sample_id for item in project.queue] == [2, 3, 4]  # 1: the reviewer's own
    assert "not reviewed yet" in window.workbench.labeling.reason.text()
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert [v.verdict for v in ws.reviews_of([2])] == ["accepted"]
    assert "Accepted the label of sample 2" in window.statusBar().notice.text()
    assert project.current.sample_id == 3
    qtbot.keyClick(window, Qt.Key.Key_Backspace, Qt.KeyboardModifier.ControlModifier)
    assert [v.verdict for v in ws.reviews_of([3])] == ["rejected"]
    assert ws.current_label(3) is None  # back to the labeling queues
    assert ws.current_label(2) == "4"
    qtbot.keyClick(window, Qt.Key.Key_Left)  # back to the rejected sample: its story
    assert project.current.sample_id == 3
    reason = window.workbench.labeling.reason.text()
    assert "rejected by gui-tester" in reason and "not reviewed yet" not in reason
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert "<b>4</b> accepted by gui-tester" in window.workbench.labeling.reason.text()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    table = window.workbench.history.table
    rows = [[table.item(r, c).text() for c in (1, 2, 3)] for r in range(table.rowCount())]
    assert rows[0] == ["gui-tester", "4", "rejected (review)"]  # newest first
    assert rows[1][:2] == ["gui-tester", "—"] and rows[2][:2] == ["a", "4"]
    assert len(rows) == 3
    _show(window, qtbot, "to_review")
    assert [item.sample_id for item in project.queue] == [4]


def test_an_annotator_is_told_that_only_reviewers_judge(qtbot, window):
    project = window.project
    ws = project.workspace
    set_role(ws, "boss", "reviewer")   # roles set: gui-tester is an annotator
    ws.label(2, "4", "a")
    _show(window, qtbot, "to_review")
    errors = []
    project.error.connect(errors.append)
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert errors and "only a reviewer accepts or rejects labels" in errors[0]
    assert ws.reviews_of([2]) == []
