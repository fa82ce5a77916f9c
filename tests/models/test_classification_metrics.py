"""classification_metrics checked against scikit-learn on known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score

from models.metrics import classification_metrics


def test_a_hand_worked_example():
    # true: a a b b c ; predicted: a b b b a
    metrics = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert metrics["n"] == 5
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert metrics["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["b"]["recall"] == 1.0
    assert metrics["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(6)]
    y_true = rng.integers(0, 5, size=200)  # class c5 never occurs in y_true
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 6, size=200))
    metrics = classification_metrics(y_true, y_pred, classes)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    precision = precision_score(y_true, y_pred, labels=range(6), average=None, zero_division=0)
    for i, name in enumerate(classes):
        assert metrics["per_class"][name]["precision"] == pytest.approx(precision[i])
        assert metrics["per_class"][name]["support"] == int(np.sum(y_true == i))
    assert metrics["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=range(6)).tolist()


def test_output_is_plain_json():
    metrics = classification_metrics(np.array([1, 0]), np.array([1, 1]), ("x", "y"))
    assert json.loads(json.dumps(metrics)) == metrics
    assert type(metrics["accuracy"]) is float
    assert type(metrics["confusion_matrix"][0][0]) is int


def test_empty_input_has_no_scores():
    metrics = classification_metrics([], [], ["a", "b"])
    assert metrics["n"] == 0 and metrics["accuracy"] is None and metrics["macro_f1"] is None
    assert metrics["confusion_matrix"] == [[0, 0], [0, 0]]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="entries"):
        classification_metrics([0, 1], [0], ["a", "b"])
    with pytest.raises(ValueError, match="class indices"):
        classification_metrics([0, 2], [0, 1], ["a", "b"])
