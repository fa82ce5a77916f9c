"""Starting the GUI: ``labelloop gui [PROJECT]``."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.domain.annotator import resolve_annotator
from app.gui.main_window import LAST_PROJECT, MainWindow
from app.gui.settings_dialog import ANNOTATOR_KEY
from app.gui.window_layout import show_window


def create_window(project: str | None, annotator: str | None,
                  settings: QSettings | None = None) -> MainWindow:
    """The main window on ``project``, else on the last project opened.

    ``annotator``: the name given on the command line; None takes the one
    chosen in Settings, else the OS user name.
    """
    settings = settings or QSettings("Labelloop", "Labelloop")
    if annotator is None:
        chosen = str(settings.value(ANNOTATOR_KEY, "") or "").strip()
        annotator = chosen or resolve_annotator(None)
    window = MainWindow(settings, annotator, auto_pretrain=True)
    target = project or settings.value(LAST_PROJECT)
    if target and Path(str(target)).exists():
        window.open_project(str(target))
    return window


def run_gui(project: str | None, annotator: str | None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Labelloop")
    window = create_window(project, annotator)
    show_window(window, window.settings)
    window.activateWindow()
    return app.exec()
