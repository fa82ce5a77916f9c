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


OPENING_TIMEOUT_MS = 180_000


@pytest.fixture
def window(qtbot, settings, demo_copy):
    """The window on the demo, settled: its opening queue landed, then import order shown.

    Import order makes the first samples known (1, 2, 3...) to the tests.
    """
    import json

    from app.labeling.queues import QueueSpec

    # Opened on import order as a returning user would find it: the default
    # opening queue (a cold-start pick over the whole pool) costs seconds per
    # test and is tested on its own (test_defects).
    settings.setValue(f"queue/{demo_copy}", json.dumps(QueueSpec(kind="unlabeled").to_json()))
    win = MainWindow(settings, "gui-tester")
    qtbot.addWidget(win)
    assert win.open_project(demo_copy)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: not win.project.queue_pending, timeout=OPENING_TIMEOUT_MS)
    win.workbench.queue_panel.select(QueueSpec(kind="unlabeled"))
    yield win
    win.close()


TRAIN_TIMEOUT_MS = 180_000


@pytest.fixture(scope="session")
def trained_template(digits_demo, tmp_path_factory):
    """The demo project with 300 true labels and one scored model version (v1)."""
    import csv

    from app.pool.label_import import import_labels
    from app.project.workspace import Workspace
    from tests.conftest import run_cli

    root = tmp_path_factory.mktemp("gui-models") / "project"
    shutil.copytree(digits_demo.project, root)
    with open(digits_demo.truth_csv, newline="") as handle:
        rows = list(csv.reader(handle))[1:301]
    subset = root.parent / "labels.csv"
    with open(subset, "w", newline="") as handle:
        csv.writer(handle).writerows([["file", "label"], *rows])
    with Workspace.open(root) as ws:
        import_labels(ws, subset, "seed")
    run_cli("train", root, "--epochs", "3", "--min-steps", "0", "--seed", "1")
    run_cli("score", root, "--mc-samples", "2")
    return root


def open_window(qtbot, settings, root):
    win = MainWindow(settings, "gui-tester")
    qtbot.addWidget(win)
    assert win.open_project(root)
    win.show()
    return win


@pytest.fixture
def trained_window(qtbot, settings, trained_template, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(trained_template, root)
    win = open_window(qtbot, settings, root)
    yield win
    win.close()
