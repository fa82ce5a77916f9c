"""Routing the annotator's keys to labeling actions, wherever focus is.

An application-wide event filter, not per-widget shortcuts: the keys must
work the moment the window opens, before anything was clicked, and no child
widget (a list's type-ahead search, a button) may swallow a digit.  Text
fields keep their keys, so typing a failure-set name still works.

A key held down repeats (``QKeyEvent.isAutoRepeat``): the repeats only move
through the queue; they never label, accept, skip, undo or mark, since each
of those must be one deliberate press.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.gui.project_model import ProjectModel

_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class KeyboardRouter(QObject):
    """Turns key presses inside ``window`` into calls on the project model."""

    def __init__(self, window: QWidget, project: ProjectModel, failure_set: Callable[[], str],
                 active: Callable[[], bool] = lambda: True) -> None:
        super().__init__(window)
        self.window = window
        self.project = project
        self.failure_set = failure_set  # returns the failure set F adds to
        self.active = active

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(watched, QWidget):
            return False
        if watched.window() is not self.window or not self.window.isEnabled():
            return False
        if not self.active():
            return False
        if isinstance(watched, _TEXT_INPUTS) or (
                isinstance(watched, QComboBox) and watched.isEditable()):
            return False
        return self.handle(event)  # type: ignore[arg-type]

    def handle(self, event: QKeyEvent) -> bool:
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        project = self.project
        navigation = (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Up)
        if event.isAutoRepeat() and key not in navigation:
            return self._is_ours(event)  # swallowed: a held key is not a second answer
        if key == Qt.Key.Key_Z and modifiers == Qt.KeyboardModifier.ControlModifier:
            project.undo()
            return True
        if modifiers not in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
            return False  # leave Ctrl+O, Ctrl+Q... to the menus
        if key == Qt.Key.Key_Backspace:
            project.undo()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            project.move(+1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            project.move(-1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and project.suggest_mode:
            project.accept_suggestion()
        elif key == Qt.Key.Key_S:
            project.skip()
        elif key == Qt.Key.Key_F:
            project.mark_failure(self.failure_set())
        else:
            text = event.text()
            return bool(text) and project.label_by_key(text)
        return True

    def _is_ours(self, event: QKeyEvent) -> bool:
        """Whether ``handle`` would act on this key (menus keep the others)."""
        if event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Return, Qt.Key.Key_Enter,
                           Qt.Key.Key_S, Qt.Key.Key_F, Qt.Key.Key_Z):
            return True
        return event.text().lower() in self.project.shortcuts()
