"""GUI fixtures: a real main window on a real project, offscreen."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings

from app.gui.main_window import MainWindow


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def demo_copy(digits_demo, tmp_path):
    """A private copy of the demo project (1,797 unlabeled digits)."""
    target = tmp_path / "project"
    shutil.copytree(digits_demo.project, target)
    return target


@pytest.fixture
def window(qtbot, settings, demo_copy):
    win = MainWindow(settings, "gui-tester")
    qtbot.addWidget(win)
    assert win.open_project(demo_copy)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
