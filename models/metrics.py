"""Classification metrics as plain, JSON-serialisable Python values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro F1, per-class scores and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape [n]
        Class indices into ``classes``.
    classes : sequence of str
        Class names; index ``i`` names class ``i``.

    Returns
    -------
    dict
        ``{"n", "accuracy", "macro_f1", "per_class", "confusion_matrix"}`` where
        ``per_class[name] = {"precision", "recall", "f1", "support"}`` and
        ``confusion_matrix[i][j]`` counts true class ``i`` predicted as ``j``.
        ``macro_f1`` averages over the classes that occur in ``y_true`` or
        ``y_pred`` (scikit-learn's default), so classes absent from a small
        validation split do not drag it to zero. With ``n == 0``,
        ``accuracy`` and ``macro_f1`` are ``None``. Scores of a class with no
        predictions (or no samples) are 0.
    """
    true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} entries but y_pred has {pred.size}")
    n_classes = len(classes)
    if true.size and (min(true.min(), pred.min()) < 0 or max(true.max(), pred.max()) >= n_classes):
        raise ValueError(f"class indices must lie in [0, {n_classes})")

    if true.size == 0:
        zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        return {
            "n": 0,
            "accuracy": None,
            "macro_f1": None,
            "per_class": {str(name): dict(zero) for name in classes},
            "confusion_matrix": [[0] * n_classes for _ in range(n_classes)],
        }

    labels = list(range(n_classes))
    precision, recall, f1, support = precision_recall_fscore_support(
        true, pred, labels=labels, zero_division=0
    )
    present = np.union1d(true, pred)
    per_class = {
        str(name): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    matrix = confusion_matrix(true, pred, labels=labels)
    return {
        "n": int(true.size),
        "accuracy": float(np.mean(true == pred)),
        "macro_f1": float(np.mean(f1[present])),
        "per_class": per_class,
        "confusion_matrix": [[int(v) for v in row] for row in matrix],
    }
