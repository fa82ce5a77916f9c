"""Label ▸ Classes…: every change reaches the project, the buttons and the keys at once."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox


def _open(qtbot, window):
    qtbot.keyClick(window, "k", Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    manager = window.class_manager
    assert manager is not None and manager.isVisible()
    return manager


def _names(manager):
    return [manager.table.item(r, 0).text() for r in range(manager.table.rowCount())]


def test_add_rename_reorder_and_the_buttons_follow(qtbot, window):
    manager = _open(qtbot, window)
    workspace = window.project.workspace
    assert _names(manager) == [str(d) for d in range(10)]
    assert manager.add("blurry, other")
    assert workspace.classes()[-2:] == ["blurry", "other"]
    assert list(window.workbench.labeling.class_buttons)[-2:] == ["blurry", "other"]

    manager.table.item(10, 0).setText("smudged")  # an edit in place renames
    assert workspace.classes()[10] == "smudged"
    manager.table.selectRow(10)
    assert manager.move_selected(-10) and workspace.classes()[0] == "smudged"
    assert _names(manager)[0] == "smudged" and manager.selected_class() == "smudged"
    assert list(window.workbench.labeling.class_buttons)[0] == "smudged"

    assert not manager.rename("smudged", "3")  # a name in use is refused, shown, unchanged
    assert "already exists" in manager.problem.text()
    assert workspace.classes()[0] == "smudged"


def test_a_chosen_key_labels_its_class_and_a_taken_key_is_refused(qtbot, window):
    manager = _open(qtbot, window)
    manager.add("blurry")
    assert manager.set_key("blurry", "b")
    assert "[B]  blurry" in window.workbench.labeling.class_buttons["blurry"].text()
    manager.accept()
    first = window.project.current.sample_id
    qtbot.keyClick(window, "b")
    assert window.project.workspace.current_labels() == {first: "blurry"}

    manager = _open(qtbot, window)
    manager.add("noise")
    assert not manager.set_key("noise", "b")
    assert "already labels class 'blurry'" in manager.problem.text()
    assert not manager.set_key("noise", "s")  # skip's key: no class may have it
    assert "cannot label a class" in manager.problem.text()


def test_remove_is_refused_while_samples_carry_the_class(qtbot, window):
    qtbot.keyClick(window, "4")
    manager = _open(qtbot, window)
    manager.table.selectRow(4)
    assert not manager.remove_selected()
    assert "in use by 1 labeled sample" in manager.problem.text()
    assert "4" in window.project.classes()
    assert manager.table.item(4, 3).text() == "1"  # the count column says why
    manager.table.selectRow(5)
    assert manager.remove_selected()
    assert "5" not in window.project.classes() and "5" not in _names(manager)
    assert "5" not in window.workbench.labeling.class_buttons


def test_a_colour_shows_on_the_class_button_and_the_labeled_tiles(qtbot, window):
    manager = _open(qtbot, window)
    assert manager.set_colour("7", "#FF8800")
    assert window.project.workspace.class_styles()["7"].colour == "#ff8800"
    assert "#ff8800" in window.workbench.labeling.class_buttons["7"].styleSheet()
    assert not manager.set_colour("7", "orange")
    assert "#rrggbb" in manager.problem.text()
    manager.accept()
    qtbot.keyClick(window, "7")
    model = window.workbench.grid_model
    colour = model.data(model.index(0, 0), Qt.ItemDataRole.ForegroundRole)
    assert colour.name() == "#ff8800"


def test_the_key_box_says_which_rule_gave_an_unchosen_key(qtbot, window):
    manager = _open(qtbot, window)
    manager.add("blurry")
    assert manager.findChild(QComboBox, "key_3").itemText(0) == "own name (3)"
    assert manager.findChild(QComboBox, "key_blurry").itemText(0) == "next free (A)"
