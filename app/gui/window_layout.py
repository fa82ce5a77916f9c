"""The window comes back as it was left: size, place, and every splitter.

Saved per user (QSettings), not per project: it is about this person's screen.
A first start on a small screen (a laptop) opens maximised, since the
workbench's three panes need the room; on a large one it opens at its
default size instead of covering the desktop.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize
from PySide6.QtWidgets import QMainWindow, QSplitter, QWidget

GEOMETRY = "window/geometry"
SPLITTER = "window/splitter/"
SMALL_SCREEN = QSize(1440, 900)  # below this in either direction, start maximised


def restore_geometry(window: QMainWindow, settings: QSettings) -> bool:
    """Put ``window`` back where it was last closed; False on a first start.

    Called before a project opens, so the splitters are restored into a
    window of their old size.
    """
    saved = settings.value(GEOMETRY)
    return saved is not None and window.restoreGeometry(saved)


def show_window(window: QMainWindow, settings: QSettings) -> None:
    """Show ``window`` as restored, or sized for this screen on a first start."""
    if settings.value(GEOMETRY) is not None:
        window.show()
        return
    screen = window.screen().availableGeometry()
    if screen.width() < SMALL_SCREEN.width() or screen.height() < SMALL_SCREEN.height():
        window.showMaximized()
    else:
        window.show()


def save_window(window: QMainWindow, settings: QSettings) -> None:
    settings.setValue(GEOMETRY, window.saveGeometry())


def restore_splitters(root: QWidget, settings: QSettings) -> None:
    """Put back the sizes of every named splitter under ``root``."""
    for splitter in root.findChildren(QSplitter):
        saved = settings.value(SPLITTER + splitter.objectName()) if splitter.objectName() else None
        if saved is not None:
            splitter.restoreState(saved)


def save_splitters(root: QWidget, settings: QSettings) -> None:
    for splitter in root.findChildren(QSplitter):
        if splitter.objectName():
            settings.setValue(SPLITTER + splitter.objectName(), splitter.saveState())
