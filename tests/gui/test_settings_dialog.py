"""File ▸ Settings…: the person's settings in QSettings, the project's in the project."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from app.labeling.queues import QueueSpec
from app.learning.training_settings import training_settings
from tests.conftest import run_cli_in_process


def _open(qtbot, window):
    qtbot.keyClick(window, ",", Qt.KeyboardModifier.ControlModifier)
    dialog = window.settings_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_ok_writes_every_setting_where_it_belongs_and_the_window_follows(qtbot, window):
    dialog = _open(qtbot, window)
    dialog.annotator.setText("  zoe  ")
    dialog.thumbnail.setValue(128)
    dialog.queue_size.setValue(40)
    dialog.epochs.setValue(7)
    dialog.lr.setValue(0.01)
    dialog.augment.setChecked(False)
    # The phase is automatic by default (on while the labels are few); choose never.
    assert dialog.semi_supervised.currentData() is None
    assert dialog.semi_supervised.currentText().startswith("Automatic: while under 10")
    dialog.semi_supervised.setCurrentIndex(
        dialog.semi_supervised.findText("Never", Qt.MatchFlag.MatchStartsWith))
    dialog._ok()  # the OK button
    assert not dialog.isVisible()

    assert window.settings.value("annotator") == "zoe"
    assert int(window.settings.value("thumbnail_size")) == 128
    workspace = window.project.workspace
    recipe = training_settings(workspace)
    # Only what differs from the built-in defaults is stored with the project.
    assert recipe.job_params() == {"epochs": 7, "lr": 0.01, "augment": False,
                                   "semi_supervised": False}
    shown = json.loads(run_cli_in_process("settings", workspace.root, "--json"))
    assert shown["queue_size"] == 40 and shown["training"]["epochs"] == 7
    assert shown["training"]["semi_supervised"] is False

    assert window.workbench.grid.iconSize().width() == 128
    assert window.workbench.thumbnails.box == 128
    assert window.workbench.training.epochs.value() == 7
    qtbot.keyClick(window, "2")
    assert {a.annotator for a in workspace.all_annotations()} == {"zoe"}
    window.workbench.queue_panel.select(QueueSpec(kind="uncertain"))
    qtbot.waitUntil(lambda: not window.project.queue_pending, timeout=120_000)
    assert len(window.project.queue) == 40  # the cold-start batch, capped by the setting


def test_an_empty_annotator_is_refused_and_nothing_is_written(qtbot, window):
    dialog = _open(qtbot, window)
    dialog.annotator.setText("   ")
    dialog.epochs.setValue(9)
    dialog._ok()
    assert dialog.isVisible() and "cannot be empty" in dialog.problem.text()
    assert training_settings(window.project.workspace).job_params() == {}
    dialog.reject()


def test_the_panels_epochs_write_the_projects_recipe(qtbot, window):
    window.workbench.training.epochs.setValue(11)
    assert training_settings(window.project.workspace).epochs == 11
    dialog = _open(qtbot, window)
    assert dialog.epochs.value() == 11
    dialog.semi_supervised.setCurrentIndex(
        dialog.semi_supervised.findText("Always", Qt.MatchFlag.MatchStartsWith))
    dialog.restore_defaults()
    assert dialog.semi_supervised.currentData() is None
    dialog._ok()
    assert training_settings(window.project.workspace).job_params() == {}
    assert window.workbench.training.epochs.value() == 30


def test_the_window_opens_as_the_annotator_chosen_in_settings(qtbot, settings, demo_copy):
    from app.gui.application import create_window

    settings.setValue("annotator", "yann")
    window = create_window(str(demo_copy), None, settings)
    qtbot.addWidget(window)
    assert window.annotator == "yann" and window.project.annotator == "yann"
    window.close()
    explicit = create_window(str(demo_copy), "cli-name", settings)
    qtbot.addWidget(explicit)
    assert explicit.annotator == "cli-name"
    explicit.close()
