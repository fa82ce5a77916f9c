"""Finding labels that are probably wrong, from a model's probabilities.

Confident learning (Northcutt, Jiang & Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 2021) in its simplest
useful form: a model is only trusted for class ``j`` as far as it trusts its
own labeled examples of ``j``.  The threshold of class ``j`` is the mean
probability the model gives to ``j`` over the samples labeled ``j`` (its
self-confidence there); a sample labeled ``y`` is suspect when some other
class ``j`` reaches ``j``'s threshold.  Per-class thresholds matter because
a model is more confident on easy classes: one global cut-off would flag
every hard class and none of the easy ones.

A second rule catches what the thresholds miss when a model is very sure
of everything (self-confidence 0.998, a contradicted sample at 0.997): a
sample whose most probable class is not its label, while its label gets
less than that label's own threshold, is suspect too (the paper's
"predicted differs from given" baseline, restricted to low-confidence
labels).

Suspects are ordered by the normalised margin ``p[j] - p[y]`` (the suggested
class's probability minus the given label's), the ranking the paper found
best among its simple ones.

Probabilities should be out-of-sample: a network partly memorises the
labels it was trained on, wrong ones included, so noise in its own training
set hides from it; labels given after it was trained are judged fairly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class MislabelRanking:
    """Suspect samples, most suspicious first.

    Attributes
    ----------
    indices : NDArray[int64]
        Rows of ``probs`` that are suspect, in order; shape [k].
    suggested : NDArray[int64]
        The class each suspect more likely belongs to; shape [k].
    scores : NDArray[float32]
        ``p[suggested] - p[given]`` in (-1, 1]; shape [k].
    thresholds : NDArray[float32]
        Per-class self-confidence thresholds; shape [classes] (NaN for a
        class with no labeled sample: nothing can be suspected of it).
    """

    indices: NDArray[np.int64]
    suggested: NDArray[np.int64]
    scores: NDArray[np.float32]
    thresholds: NDArray[np.float32]


def class_thresholds(probs: NDArray[np.floating], labels: NDArray[np.integer]) -> NDArray[np.float32]:
    """Mean probability of class ``j`` over the samples labeled ``j``, per class.

    Parameters
    ----------
    probs : NDArray[float]
        Predicted probabilities, shape [n, classes].
    labels : NDArray[int]
        Given labels, shape [n], values in [0, classes).

    Returns
    -------
    NDArray[float32]
        Shape [classes]; NaN where no sample carries that label.
    """
    n_classes = probs.shape[1]
    own = probs[np.arange(len(labels)), labels]
    sums = np.bincount(labels, weights=own, minlength=n_classes)
    counts = np.bincount(labels, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).astype(np.float32)


def rank_likely_mislabeled(probs: NDArray[np.floating],
                           labels: NDArray[np.integer]) -> MislabelRanking:
    """The labeled samples whose label a model confidently contradicts.

    Parameters
    ----------
    probs : NDArray[float]
        Predicted probabilities of the labeled samples, shape [n, classes];
        out-of-sample predictions (samples the model was not trained on)
        find more, since a model partly memorises its training labels.
    labels : NDArray[int]
        Given labels, shape [n].

    Returns
    -------
    MislabelRanking
        Suspects by decreasing ``p[suggested] - p[given]``; ties keep row order.
    """
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise ValueError(f"probs must be [n, classes] and labels [n]; got {probs.shape} "
                         f"and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError("labels must lie in [0, classes)")
    thresholds = class_thresholds(probs, labels)
    rows = np.arange(len(labels))
    # NaN thresholds compare False: no class without labels is ever suggested.
    above = probs >= thresholds[None, :]
    above[rows, labels] = False
    predicted = probs.argmax(axis=1)
    # Strictly more probable: a tie is no contradiction.
    doubted = (probs[rows, predicted] > probs[rows, labels]) & (
        probs[rows, labels] < thresholds[labels])
    doubted &= ~np.isnan(thresholds[predicted])
    suggested = np.where(above.any(axis=1),
                         np.where(above, probs, -np.inf).argmax(axis=1), predicted)
    suspect = np.flatnonzero(above.any(axis=1) | doubted)
    scores = probs[suspect, suggested[suspect]] - probs[suspect, labels[suspect]]
    order = np.argsort(-scores, kind="stable")
    return MislabelRanking(suspect[order].astype(np.int64),
                           suggested[suspect][order].astype(np.int64),
                           scores[order].astype(np.float32), thresholds)
