"""Live accuracy from a scripted label history, checked against hand-computed figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.learning.scoring import PoolScores, _save
from app.monitor.live_accuracy import (
    live_accuracy,
    live_predictions,
    prediction_for,
    wilson_interval,
)
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import run_cli_in_process

ANNOTATOR = "ann"


def _add_version(workspace: Workspace, validation_recall: dict[str, float]) -> int:
    per_class = {name: {"precision": 1.0, "recall": r, "f1": 1.0, "support": 10}
                 for name, r in validation_recall.items()}
    return workspace.store.add_model_version({
        "creator": "test", "arch": "small_cnn", "input_shape": [3, 24, 24],
        "classes": ["cat", "dog", "bird"], "seed": 0, "hyperparameters": {},
        "torch_version": "x", "torchvision_version": "x", "checkpoint_path": "models/none.pt",
        "checkpoint_sha256": "0" * 64, "data_version": "unknown", "n_train": 1, "n_labels": 1,
        "metrics": {"accuracy": 0.9, "split": "validation", "per_class": per_class},
        "parent_id": None, "duration_s": 1.0,
    })


def _label(workspace, sample_id, label, predicted=None, source="uncertain", model=None):
    workspace.label(sample_id, label, ANNOTATOR, source=source, predicted_class=predicted,
                    predicted_confidence=None if predicted is None else 0.7,
                    model_version_id=model)


@pytest.fixture
def scripted(project):
    """Samples 1..12 of the three-class fixture with a scripted label history.

    Counted for version v, in order (label / prediction / queue):
    s1 cat/cat, s2 cat/dog, s3 dog/dog random, s4 dog/dog random,
    s5 bird/cat random, s7 cat/cat (a correction of dog/cat), s11 cat/cat random.
    Left out: s6 (undone), s8 (no prediction), s9 (another version's
    prediction), s10 (unlabel row), s12 (in v's training data).
    """
    workspace = project
    _label(workspace, 12, "cat", source="import-labels")  # training data of v
    v = _add_version(workspace, {"cat": 1.0, "dog": 0.9, "bird": 0.8})
    other = _add_version(workspace, {"cat": 1.0, "dog": 1.0, "bird": 1.0})
    _label(workspace, 1, "cat", "cat", model=v)
    _label(workspace, 2, "cat", "dog", model=v)
    _label(workspace, 3, "dog", "dog", "random", model=v)
    _label(workspace, 6, "bird", "bird", model=v)
    assert workspace.undo_last(ANNOTATOR).sample_id == 6
    _label(workspace, 4, "dog", "dog", "random", model=v)
    _label(workspace, 7, "dog", "cat", model=v)
    _label(workspace, 5, "bird", "cat", "random", model=v)
    _label(workspace, 8, "cat", source="cli")
    _label(workspace, 9, "cat", "cat", model=other)
    _label(workspace, 10, None, "cat", model=v)
    _label(workspace, 7, "cat", "cat", model=v)
    workspace.label(11, "cat", ANNOTATOR, source="random", predicted_class="cat",
                    predicted_confidence=0.9, model_version_id=v, suggested=True)
    _label(workspace, 12, "dog", "dog", model=v)
    return workspace, v


def test_wilson_interval_known_values():
    assert wilson_interval(8, 10) == pytest.approx((0.4901625, 0.9433178), abs=1e-6)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775328), abs=1e-6)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_counted_predictions_follow_the_rules(scripted):
    workspace, v = scripted
    counted = live_predictions(workspace, workspace.model_version(v))
    assert [(p.sample_id, p.label, p.predicted) for p in counted] == [
        (1, "cat", "cat"), (2, "cat", "dog"), (3, "dog", "dog"), (4, "dog", "dog"),
        (5, "bird", "cat"), (7, "cat", "cat"), (11, "cat", "cat"),
    ]


def test_live_figures_equal_the_hand_computed_ones(scripted):
    workspace, v = scripted
    report = live_accuracy(workspace, v, window=3, margin=0.1, min_alert_samples=3)
    overall = report.overall
    assert (overall.overall.n, overall.overall.correct) == (7, 5)
    assert overall.overall.interval == pytest.approx((0.3589345, 0.9177811), abs=1e-6)
    assert {k: (t.n, t.correct) for k, t in overall.per_class.items()} == {
        "cat": (4, 3), "dog": (2, 2), "bird": (1, 0)}
    # The last three: s5 (wrong), s7, s11.
    assert (report.windowed.overall.n, report.windowed.overall.correct) == (3, 2)
    assert report.windowed.overall.interval == pytest.approx((0.2076596, 0.9385081), abs=1e-6)
    assert {k: (t.n, t.correct) for k, t in report.windowed.per_class.items()} == {
        "cat": (2, 2), "dog": (0, 0), "bird": (1, 0)}
    # Random queue: s3, s4, s5, s11; its window: s4, s5, s11.
    assert (report.random_overall.overall.n, report.random_overall.overall.correct) == (4, 3)
    assert report.random_overall.overall.accuracy == 0.75
    assert (report.random_windowed.overall.n, report.random_windowed.overall.correct) == (3, 2)
    # Random window 2/3 < 0.9 - 0.1: the alert judges the unbiased figures; bird fell most.
    alert = report.alert
    assert alert is not None and alert.basis == "random"
    assert alert.threshold == pytest.approx(0.8)
    assert [(c.name, c.validation, c.live) for c in alert.classes] == [("bird", 0.8, 0.0)]
    assert "bird" in alert.message and not alert.significant


def test_alert_falls_back_to_all_labels_and_names_the_classes_that_fell(scripted):
    workspace, v = scripted
    # Only 4 random-queue predictions: too few, so the window over all labels decides.
    report = live_accuracy(workspace, v, window=7, margin=0.1, min_alert_samples=5)
    assert report.alert is not None and report.alert.basis == "all"
    assert report.alert.live.accuracy == pytest.approx(5 / 7)
    # bird 0.8 -> 0.0 and cat 1.0 -> 0.75 fell by more than 0.1; dog did not fall.
    assert [c.name for c in report.alert.classes] == ["bird", "cat"]
    assert [c.drop for c in report.alert.classes] == pytest.approx([0.8, 0.25])


def test_margin_setting_and_minimum_sample_count_silence_the_alert(scripted):
    workspace, v = scripted
    workspace.set_setting("accuracy_alert_margin", "0.3")
    assert live_accuracy(workspace, v, window=7, min_alert_samples=5).alert is None
    workspace.set_setting("accuracy_alert_margin", "0.1")
    assert live_accuracy(workspace, v, window=7, min_alert_samples=8).alert is None
    workspace.set_setting("accuracy_alert_margin", "lots")
    with pytest.raises(WorkspaceError, match="accuracy_alert_margin"):
        live_accuracy(workspace, v)


def test_live_cli_text_and_json(scripted):
    workspace, v = scripted
    root = str(workspace.root)
    data = json.loads(run_cli_in_process("live", root, "--model", str(v), "--window", "3",
                                       "--json"))
    assert data["model"] == v and data["window"] == 3
    assert (data["overall"]["n"], data["overall"]["correct"]) == (7, 5)
    assert data["windowed"]["per_class"]["bird"]["accuracy"] == 0.0
    assert data["random_queue"]["overall"]["accuracy"] == 0.75
    assert data["suggested_labels"] == 1  # s11 was accepted from a pre-selected suggestion
    # Default minimum of 20 labels per window: no alert from 3.
    assert data["alert"] is None
    text = run_cli_in_process("live", root, "--model", str(v), "--window", "3")
    assert "random queue" in text and "unbiased estimate" in text and "no alert" in text
    assert "1 of the 7 labels were given with the prediction pre-selected" in text


def test_prediction_for_reads_the_cache_and_never_scores(project):
    assert prediction_for(project, 1) is None  # no model
    v = _add_version(project, {"cat": 1.0, "dog": 1.0, "bird": 1.0})
    assert prediction_for(project, 1) is None  # a model, but nothing scored yet
    version = project.model_version(v)
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]], np.float32)
    _save(project, version, PoolScores(v, np.array([1, 3], np.int64), probs,
                                       np.zeros((2, 3, 0), np.float32),
                                       np.zeros((2, 4), np.float32)))
    found = prediction_for(project, 1)
    assert found == {"predicted_class": "dog", "predicted_confidence": pytest.approx(0.7),
                     "model_version_id": v}
    assert prediction_for(project, 2) is None  # not in the cache
    project.label(1, "cat", ANNOTATOR, **found)
    # A new cache (rescored) is picked up on the next call.
    _save(project, version, PoolScores(v, np.array([1], np.int64), probs[1:],
                                       np.zeros((1, 3, 0), np.float32),
                                       np.zeros((1, 4), np.float32)))
    assert prediction_for(project, 1)["predicted_class"] == "cat"
    project.rename_class("cat", "kitten")  # a prediction the project cannot store
    assert prediction_for(project, 1) is None
    history = project.store.annotations_with_predictions()
    assert [(a.sample_id, name, model) for a, name, _, model in history] == [(1, "dog", v)]
