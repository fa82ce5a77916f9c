"""The training panel shows what a run will really do, and its bar moves in even steps."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from app.pool.label_import import import_labels
from app.project.workspace import Workspace
from models.train_config import JOB_DEFAULTS

TRAIN_TIMEOUT_MS = 180_000


def _label_three_per_class(root, truth_csv):
    with open(truth_csv, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    picked, seen = [], {}
    for name, label in rows:
        if seen.get(label, 0) < 3:
            seen[label] = seen.get(label, 0) + 1
            picked.append([name, label])
    subset = root.parent / "thirty.csv"
    with open(subset, "w", newline="") as handle:
        csv.writer(handle).writerows([["file", "label"], *picked])
    with Workspace.open(root) as ws:
        import_labels(ws, subset, "seed")
    return len(picked)


def test_thirty_labels_plan_no_validation_and_the_bar_never_jumps(qtbot, settings, demo_copy,
                                                                   digits_demo):
    from app.gui.main_window import MainWindow

    assert _label_three_per_class(demo_copy, digits_demo.truth_csv) == 30
    win = MainWindow(settings, "gui-tester")
    qtbot.addWidget(win)
    assert win.open_project(demo_copy)
    win.show()
    training = win.workbench.training
    # The panel starts from the same defaults as `labelloop train`.
    assert (training.epochs.value(), training.min_steps.value()) == (
        JOB_DEFAULTS.epochs, JOB_DEFAULTS.min_steps)
    training.epochs.setValue(2)
    training.min_steps.setValue(12)  # 30 labels: one step per epoch, so 12 epochs
    plans, bar = [], []
    training.trainer.planned.connect(lambda _e: plans.append(training.state.text()))
    training.trainer.progress.connect(lambda _e: bar.append(training.progress.value()))
    with qtbot.waitSignal(training.trainer.succeeded, timeout=TRAIN_TIMEOUT_MS):
        qtbot.mouseClick(training.retrain, Qt.MouseButton.LeftButton)
    # Under 10 labels per class the default adds the semi-supervised phase
    # over the other 1,767 images: 150 steps, reported every 50.
    assert plans == ["30 labels to train on, no validation split; up to 12 epochs (raised from 2 "
                     "to reach 12 steps), no early stopping; then 150 semi-supervised steps "
                     "over 1767 unlabeled images."]
    # One value per epoch, then per 50 steps of the phase, each 1/15 further:
    # no jump from 5 % to 100 %.
    assert bar == [int(1000 * (report / 15)) for report in range(1, 16)]
    assert "not validated" in training.state.text()
    table = win.models_tab.table_model
    table.reload()
    accuracy = table.index(0, 4)
    assert table.data(accuracy) == "not validated"
    assert "not enough labels to validate" in table.data(accuracy,
                                                         Qt.ItemDataRole.ToolTipRole)
    win.close()
