"""The filter box narrows the queue shown, as the core's filter does."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.labeling.queue_filters import QueueFilter
from app.labeling.queues import QueueSpec
from app.learning.scoring import cached_scores


def test_predicted_class_and_confidence_filter_the_queue_by_the_model(qtbot, trained_window):
    win = trained_window
    project = win.project
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=120_000)
    panel = win.workbench.queue_panel
    panel.select(QueueSpec(kind="unlabeled"))
    everything = [item.sample_id for item in project.queue]

    # The truth, straight from the model's cached probabilities.
    version = project.workspace.latest_model()
    scores = cached_scores(project.workspace, version)
    probs = scores.probs[scores.rows_for(np.array(everything, np.int64))]
    best, confidence = probs.argmax(axis=1), probs.max(axis=1)
    # The class the model predicts most, and a bound that splits its samples,
    # whatever this small model's calibration.
    common = version.classes[int(np.bincount(best).argmax())]
    chosen = best == version.classes.index(common)
    bound = round(float(np.median(confidence[chosen])), 2)
    expected = [sid for sid, t, c in zip(everything, chosen, confidence, strict=True)
                if t and c <= bound]
    assert 0 < len(expected) < chosen.sum()

    filters = panel.filters
    filters.predicted.setCurrentIndex(filters.predicted.findData(common))
    filters.max_confidence.setValue(bound)
    filters.changed.emit()  # what a pick in the box does
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=60_000)
    assert [item.sample_id for item in project.queue] == expected
    assert project.spec.filters == QueueFilter(predicted_class=common, max_confidence=bound)
    assert f"filtered: predicted {common} · confidence ≤ {bound:g}" in win.workbench.labeling.title.text()

    qtbot.mouseClick(filters.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=60_000)
    assert [item.sample_id for item in project.queue] == everything


def test_labeled_by_lists_the_projects_annotators(qtbot, trained_window):
    project = trained_window.project
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=120_000)
    panel = trained_window.workbench.queue_panel
    names = [panel.filters.labeled_by.itemText(i)
             for i in range(panel.filters.labeled_by.count())]
    assert names == ["Any", "seed"]
    panel.filters.labeled_by.setCurrentIndex(1)
    panel.filters.changed.emit()
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=60_000)
    panel.select(QueueSpec(kind="labeled", filters=QueueFilter(labeled_by="seed")))
    assert len(project.queue) == 300


def test_a_batch_label_stores_each_samples_own_prediction(qtbot, trained_window):
    from app.monitor.live_accuracy import prediction_for

    project = trained_window.project
    qtbot.waitUntil(lambda: not project.queue_pending, timeout=120_000)
    trained_window.workbench.queue_panel.select(QueueSpec(kind="unlabeled"))
    chosen = [item.sample_id for item in project.queue[:3]]
    expected = {sid: prediction_for(project.workspace, sid) for sid in chosen}
    assert all(expected.values())
    project.set_selection(chosen)
    qtbot.keyClick(trained_window, "4")
    stored = {a.sample_id: (predicted, confidence, version)
              for a, predicted, confidence, version
              in project.workspace.annotations_with_predictions() if a.sample_id in chosen}
    assert stored == {sid: (p["predicted_class"], p["predicted_confidence"],
                            p["model_version_id"]) for sid, p in expected.items()}
