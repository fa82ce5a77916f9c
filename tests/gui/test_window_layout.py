"""The window and its splitters come back as they were left."""

from __future__ import annotations

from PySide6.QtWidgets import QSplitter

from app.gui.main_window import MainWindow
from app.gui.window_layout import SMALL_SCREEN, show_window
from tests.gui.conftest import open_window


def _label_splitter(window: MainWindow) -> QSplitter:
    return window.findChild(QSplitter, "labelSplitter")


def test_splitter_sizes_and_geometry_survive_a_restart(qtbot, settings, demo_copy):
    first = open_window(qtbot, settings, demo_copy)
    first.resize(760, 640)  # inside the offscreen screen (800 px): Qt clamps to the screen
    size = (first.width(), first.height())
    assert size != (1280, 800)  # not the default, so restoring it means something
    _label_splitter(first).setSizes([330, 420, 350])
    chosen = _label_splitter(first).sizes()
    first.close()

    second = open_window(qtbot, settings, demo_copy)
    assert (second.width(), second.height()) == size
    assert _label_splitter(second).sizes() == chosen
    second.close()


def test_a_first_start_on_a_small_screen_is_maximised(qtbot, settings):
    window = MainWindow(settings, "gui-tester")
    qtbot.addWidget(window)
    show_window(window, settings)
    screen = window.screen().availableGeometry()
    small = screen.width() < SMALL_SCREEN.width() or screen.height() < SMALL_SCREEN.height()
    assert window.isMaximized() == small
    window.close()
