"""Routing the annotator's keys to labeling actions, wherever focus is.

An application-wide event filter, not per-widget shortcuts: the keys must
work the moment the window opens, before anything was clicked, and no child
widget (a list's type-ahead search, a button) may swallow a digit.  Text
fields keep their keys, so typing a failure-set name still works.

A key held down repeats (``QKeyEvent.isAutoRepeat``): the repeats only move
(through the queue, or across a zoomed image) and change the view; they
never label, accept, skip, undo or mark, since each of those must be one
deliberate press.  Which key does what is declared in
:mod:`app.gui.key_bindings`, the one table the help overlay and the README
are generated from.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.gui.display_adjustment import DisplayAdjustment
from app.gui.image_view import ImageView
from app.gui.key_bindings import binding_for, key_name
from app.gui.project_model import ProjectModel

_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class KeyboardRouter(QObject):
    """Turns key presses inside ``window`` into calls on the project model and the image view.

    Each :data:`app.gui.key_bindings.BINDINGS` entry names an action; the
    method ``do_<action>`` here performs it and returns whether the key was
    used (Enter outside suggestion mode is not, so a focused button keeps it).
    """

    def __init__(self, window: QWidget, project: ProjectModel, failure_set: Callable[[], str],
                 active: Callable[[], bool] = lambda: True,
                 image_view: Callable[[], ImageView | None] = lambda: None,
                 show_keys: Callable[[], None] = lambda: None) -> None:
        super().__init__(window)
        self.window = window
        self.project = project
        self.failure_set = failure_set  # returns the failure set F adds to
        self.active = active
        self.image_view = image_view
        self.show_keys = show_keys

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
        binding = binding_for(event)
        if binding is None:
            return self._class_key(event)
        if event.isAutoRepeat() and not binding.repeats:
            return True  # swallowed: a held key is not a second answer
        return bool(getattr(self, f"do_{binding.action}")())

    def _class_key(self, event: QKeyEvent) -> bool:
        name = key_name(event)
        if len(name) != 1:
            return False  # Ctrl+O, Ctrl+Q... stay with the menus
        if event.isAutoRepeat():
            return name.lower() in self.project.shortcuts()
        return self.project.label_by_key(name)

    # -- labeling ---------------------------------------------------------------

    def do_undo(self) -> bool:
        self.project.undo()
        return True

    def do_skip(self) -> bool:
        self.project.skip()
        return True

    def do_select_all(self) -> bool:
        self.project.select_all()
        return True

    def do_clear_selection(self) -> bool:
        if not self.project.selected:
            return False  # Escape still closes a dialog or a menu
        self.project.clear_selection()
        return True

    def do_mark_failure(self) -> bool:
        self.project.mark_failure(self.failure_set())
        return True

    def do_accept_suggestion(self) -> bool:
        if not self.project.suggest_mode:
            return False
        self.project.accept_suggestion()
        return True

    def do_review_accept(self) -> bool:
        self.project.review("accepted")
        return True

    def do_review_reject(self) -> bool:
        self.project.review("rejected")
        return True

    # -- moving: through the queue, or across a zoomed-in image ------------------

    def _move_or_pan(self, step: int, x: int, y: int) -> bool:
        view = self.image_view()
        if view is not None and view.is_zoomed_in():
            view.pan_step(x, y)
        else:
            self.project.move(step)
        return True

    def do_right(self) -> bool:
        return self._move_or_pan(+1, 1, 0)

    def do_down(self) -> bool:
        return self._move_or_pan(+1, 0, 1)

    def do_left(self) -> bool:
        return self._move_or_pan(-1, -1, 0)

    def do_up(self) -> bool:
        return self._move_or_pan(-1, 0, -1)

    def do_previous_frame(self) -> bool:
        self.project.step_frame(-1)
        return True

    def do_next_frame(self) -> bool:
        self.project.step_frame(+1)
        return True

    # -- the view ----------------------------------------------------------------

    def _on_view(self, change: Callable[[ImageView], None]) -> bool:
        view = self.image_view()
        if view is not None:
            change(view)
        return True

    def _adjust(self, change: Callable[[DisplayAdjustment], DisplayAdjustment]) -> bool:
        return self._on_view(lambda view: view.set_adjustment(change(view.adjustment)))

    def do_zoom_in(self) -> bool:
        return self._on_view(lambda view: view.zoom_by(1.25))

    def do_zoom_out(self) -> bool:
        return self._on_view(lambda view: view.zoom_by(1 / 1.25))

    def do_fit(self) -> bool:
        return self._on_view(ImageView.fit)

    def do_actual_pixels(self) -> bool:
        return self._on_view(ImageView.actual_pixels)

    def do_darker(self) -> bool:
        return self._adjust(lambda a: a.brighter(-1))

    def do_brighter(self) -> bool:
        return self._adjust(lambda a: a.brighter(+1))

    def do_less_contrast(self) -> bool:
        return self._adjust(lambda a: a.more_contrast(-1))

    def do_more_contrast(self) -> bool:
        return self._adjust(lambda a: a.more_contrast(+1))

    def do_invert(self) -> bool:
        return self._adjust(DisplayAdjustment.toggled_invert)

    def do_reset_view(self) -> bool:
        return self._on_view(ImageView.reset)

    def do_show_keys(self) -> bool:
        self.show_keys()
        return True


def handled_actions() -> set[str]:
    """The actions this router can perform (a test checks every binding has one)."""
    return {name[3:] for name in dir(KeyboardRouter) if name.startswith("do_")}

