"""The queue panel's strategy picker offers the low-budget strategies; auto fills the grid."""

from __future__ import annotations

import csv
from pathlib import PurePath

from app.labeling.queues import TYPICAL_HINT, QueueSpec, build_queue, set_queue_batch_size
from tests.gui.test_workbench import _rows


def test_auto_in_the_picker_ranks_a_first_batch_over_every_digit(qtbot, window, digits_demo):
    # A first batch of 10, as the Settings dialog sets it: TypiClust makes one
    # cluster per pick, so a batch the size of a labeling session covers the pool.
    set_queue_batch_size(window.project.workspace, 10)
    panel = window.workbench.queue_panel
    offered = {panel.strategy.itemData(i) for i in range(panel.strategy.count())}
    assert {"typiclust", "probcover", "auto"} <= offered
    with qtbot.waitSignal(window.project.queueChanged, timeout=180_000):
        panel.select(QueueSpec(kind="uncertain", strategy="auto"))
    assert panel.hint.text() == TYPICAL_HINT  # not the k-center cold-start hint
    workspace = window.project.workspace
    rows = _rows(window)
    assert rows == [item.sample_id for item in build_queue(workspace, window.project.spec)]
    # No model yet: auto is TypiClust on the pixel embedding; its ten picks (the
    # most typical digit of each of ten clusters) span most of the ten digits.
    with open(digits_demo.truth_csv, newline="") as handle:
        truth = {row["file"]: row["label"] for row in csv.DictReader(handle)}
    paths = {s.id: PurePath(s.path).name for s in workspace.samples(rows[:10])}
    assert len({truth[paths[sid]] for sid in rows[:10]}) >= 8
