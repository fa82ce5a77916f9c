"""Starting the GUI: ``labelloop gui [PROJECT]``."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.gui.main_window import LAST_PROJECT, MainWindow
from app.gui.window_layout import show_window


def create_window(project: str | None, annotator: str,
                  settings: QSettings | None = None) -> MainWindow:
    """The main window on ``project``, else on the last project opened."""
    settings = settings or QSettings("Labelloop", "Labelloop")
    window = MainWindow(settings, annotator)
    target = project or settings.value(LAST_PROJECT)
    if target and Path(str(target)).exists():
        window.open_project(str(target))
    return window


def run_gui(project: str | None, annotator: str) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Labelloop")
    window = create_window(project, annotator)
    show_window(window, window.settings)
    window.activateWindow()
    return app.exec()
