"""Likely mislabeled in the window: the suspects, what the model says instead, a key fixes one."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt

from app.labeling.queues import QueueSpec
from app.learning.pick_reasons import MislabeledReason
from app.monitor.live_accuracy import prediction_for

SLIPS = 6


def test_slips_given_after_training_lead_the_queue_and_a_key_fixes_one(qtbot, trained_window):
    win = trained_window
    project = win.project
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=120_000)
    workspace = project.workspace
    # Samples the model is sure of and right about, then labeled wrong: the
    # slips an annotator makes, judged out of sample since the model predates them.
    right = []
    for sample_id, label in workspace.current_labels().items():
        predicted = prediction_for(workspace, sample_id)
        if predicted["predicted_class"] == label:
            right.append((predicted["predicted_confidence"], sample_id, label))
    sure = [(sample_id, label) for _c, sample_id, label in sorted(right, reverse=True)[:SLIPS]]
    assert len(sure) == SLIPS
    slips = {}
    for sample_id, label in sure:
        wrong = next(c for c in project.classes() if c != label)
        workspace.label(sample_id, wrong, "gui-tester")
        slips[sample_id] = (wrong, label)

    with qtbot.waitSignal(project.queueChanged, timeout=60_000):
        win.workbench.queue_panel.select(QueueSpec(kind="mislabeled"))
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=60_000)
    queue = list(project.queue)
    assert slips.keys() <= {item.sample_id for item in queue[:3 * SLIPS]}  # near the top

    # The header says what the model says instead, and how sure it is.
    project.go_to(next(i for i, item in enumerate(queue) if item.sample_id in slips))
    current = project.current
    given, truth = slips[current.sample_id]
    assert isinstance(current.reason, MislabeledReason)
    assert current.reason.suggested == truth
    header = win.workbench.labeling.reason.text()
    assert re.search(rf"Labeled <b>{given}</b>, but model v1 says <b>{truth}</b> \(\d+%", header)
    # So does the tile in the grid: label → the model's class.
    model = win.workbench.grid_model
    row = project.session.position
    assert model.data(model.index(row), Qt.ItemDataRole.DisplayRole).endswith(
        f"{given} → {truth}")

    qtbot.keyClick(win, truth)  # the fix, in the same flow
    assert workspace.current_label(current.sample_id) == truth
    assert project.current is not None and project.current.sample_id != current.sample_id
    assert model.data(model.index(row), Qt.ItemDataRole.DisplayRole).endswith(f"\n{truth}")
