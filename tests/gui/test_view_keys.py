"""The keyboard table: one source for the handler, the ? overlay and the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from app.gui.actions import menu_shortcuts
from app.gui.key_bindings import BINDINGS, key_name, keyboard_markdown
from app.gui.keyboard import handled_actions
from app.labeling.session import CLASS_KEYS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_keyboard_table_is_the_generated_one():
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- keys:start[^\n]*-->\n(.*?)<!-- keys:end -->", text, re.S)
    assert found, "README lost its keyboard table markers"
    assert found.group(1) == keyboard_markdown(), (
        "README's keyboard table is stale: paste `python -m app.gui.key_bindings`")


def test_every_binding_has_a_handler_and_no_key_is_bound_twice_or_given_to_a_class():
    assert {b.action for b in BINDINGS} <= handled_actions()
    keys = [key for b in BINDINGS for key in b.keys]
    assert len(keys) == len(set(keys))
    class_keys = {k.upper() for k in CLASS_KEYS}
    assert not class_keys & set(keys)


def test_the_menus_keys_are_listed_and_collide_with_no_labeling_or_class_key():
    menu_keys = [key for key, _where in menu_shortcuts()]
    assert {"Ctrl+L", "Ctrl+G", "Ctrl+,", "Ctrl+Shift+K"} <= set(menu_keys)
    assert len(menu_keys) == len(set(menu_keys))
    labeling_keys = {key for b in BINDINGS for key in b.keys}
    assert not set(menu_keys) & (labeling_keys | {k.upper() for k in CLASS_KEYS})
    table = keyboard_markdown()
    assert "| `Ctrl+L` | Label ▸ Go to sample (id or file name)… |" in table


def test_key_names_do_not_depend_on_the_shift_it_takes_to_type_them():
    plus = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Plus, Qt.KeyboardModifier.ShiftModifier, "+")
    question = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Question,
                         Qt.KeyboardModifier.ShiftModifier, "?")
    shifted_s = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_S,
                          Qt.KeyboardModifier.ShiftModifier, "S")
    ctrl_zero = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_0,
                          Qt.KeyboardModifier.ControlModifier, "0")
    keypad_enter = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Enter,
                             Qt.KeyboardModifier.KeypadModifier, "\r")
    assert [key_name(e) for e in (plus, question, shifted_s, ctrl_zero, keypad_enter)] == [
        "+", "?", "S", "Ctrl+0", "Enter"]


def _view(window):
    return window.workbench.labeling.image


def test_zoom_pan_and_adjust_from_the_keyboard_in_the_window(qtbot, window):
    project = window.project
    view = _view(window)
    qtbot.waitUntil(view.has_image)
    first = project.current.sample_id
    while view.image_rect().width() <= view.width() * 1.5:  # wider than the view: pannable
        qtbot.keyClick(window, "+")
    assert view.is_zoomed_in()
    left = view.image_rect().left()
    qtbot.keyClick(window, Qt.Key.Key_Right)  # zoomed in: pans, stays on the sample
    assert project.current.sample_id == first and view.image_rect().left() < left
    qtbot.keyClick(window, "}")
    qtbot.keyClick(window, "~")
    assert view.adjustment.brightness_steps == 1 and view.adjustment.inverted
    assert "inverted" in window.workbench.labeling.view_status.text()
    qtbot.keyClick(window, "0", Qt.KeyboardModifier.ControlModifier)  # fit
    assert not view.is_zoomed_in()
    qtbot.keyClick(window, Qt.Key.Key_Right)  # fitted: moves on, the adjustment stays
    assert project.current.sample_id != first and view.adjustment.inverted
    qtbot.keyClick(window, "r", Qt.KeyboardModifier.ControlModifier)
    assert view.adjustment.is_identity
    assert project.workspace.current_labels() == {}  # no view key labeled anything


def test_held_zoom_repeats_but_a_held_class_key_labels_once(qtbot, window):
    project = window.project
    view = _view(window)
    qtbot.waitUntil(view.has_image)
    fit = view.scale()
    for repeat in (False, True, True):
        QApplication.sendEvent(window, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Plus,
                                                 Qt.KeyboardModifier.NoModifier, "+", repeat))
    assert view.scale() == pytest.approx(fit * 1.25 ** 3)
    for repeat in (False, True, True):
        QApplication.sendEvent(window, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_3,
                                                 Qt.KeyboardModifier.NoModifier, "3", repeat))
    assert list(project.workspace.current_labels().values()) == ["3"]


def test_question_mark_lists_every_key_and_closes_again(qtbot, window):
    qtbot.keyClick(window, "?")
    overlay = window.shortcut_overlay
    assert overlay is not None and overlay.isVisible()
    text = overlay.findChild(type(window.workbench.labeling.view_status), "shortcutList").text()
    for binding in BINDINGS:
        assert binding.description.replace("'", "&#x27;") in text
    for key, where in menu_shortcuts():  # the menus' keys too: every key of the window
        assert f"<b>{key}</b>" in text and where.replace("'", "&#x27;") in text
    assert "<b>3</b>" in text  # this project's class keys too
    headings = re.findall(r"<h3>(.*?)</h3>", text)
    assert len(headings) == len(set(headings))  # each group under one heading
    qtbot.keyClick(overlay, "?")
    assert not overlay.isVisible()
    qtbot.keyClick(window, "1")  # the keys work again at once
    assert window.project.workspace.current_labels() == {1: "1"}
