"""Confident-learning suspects on probabilities whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.label_noise import class_thresholds, rank_likely_mislabeled


def test_thresholds_are_each_classes_self_confidence():
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8]], np.float32)
    labels = np.array([0, 0, 1, 1])
    assert class_thresholds(probs, labels) == pytest.approx([0.8, 0.7])


def test_a_confidently_contradicted_label_is_suspect_and_suggested_its_class():
    probs = np.array([
        [0.95, 0.05, 0.00],  # labeled 0, agrees
        [0.90, 0.10, 0.00],  # labeled 0, agrees
        [0.10, 0.90, 0.00],  # labeled 1, agrees
        [0.20, 0.80, 0.00],  # labeled 1, agrees
        [0.92, 0.08, 0.00],  # labeled 1 but looks like a 0: the flipped one
        [0.50, 0.50, 0.00],  # labeled 0, unsure: below class 1's threshold
    ], np.float32)
    labels = np.array([0, 0, 1, 1, 1, 0])
    ranking = rank_likely_mislabeled(probs, labels)
    assert ranking.indices.tolist() == [4]
    assert ranking.suggested.tolist() == [0]
    assert ranking.scores[0] == pytest.approx(0.84)


def test_per_class_thresholds_catch_a_hard_class_a_global_cut_would_miss():
    # Class 1 is hard: the model is only ~0.55 sure of its own 1s, so a
    # 0-labeled sample at 0.6 for class 1 is suspect although 0.6 < 0.9.
    probs = np.array([[0.95, 0.05], [0.97, 0.03], [0.4, 0.6], [0.45, 0.55],
                      [0.5, 0.5], [0.4, 0.6]], np.float32)
    labels = np.array([0, 0, 1, 1, 1, 0])
    ranking = rank_likely_mislabeled(probs, labels)
    assert ranking.indices.tolist() == [5]


def test_suspects_are_ordered_by_margin_and_classes_without_labels_are_never_suggested():
    probs = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0], [0.2, 0.8, 0.0],
                      [0.3, 0.7, 0.0],
                      [0.75, 0.25, 0.0],   # labeled 1, margin 0.5
                      [0.95, 0.05, 0.0],   # labeled 1, margin 0.9
                      [0.0, 0.0, 1.0]],    # labeled 0; class 2 has no labels
                     np.float32)
    labels = np.array([0, 0, 1, 1, 1, 1, 0])
    ranking = rank_likely_mislabeled(probs, labels)
    assert ranking.indices.tolist() == [5, 4]
    assert np.isnan(ranking.thresholds[2])


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="labels must lie"):
        rank_likely_mislabeled(np.ones((2, 2)) / 2, np.array([0, 2]))
    with pytest.raises(ValueError, match=r"\[n, classes\]"):
        rank_likely_mislabeled(np.ones((2, 2)) / 2, np.array([0]))


def test_a_model_sure_of_everything_still_flags_a_label_it_contradicts():
    # Self-confidence of class 1 is 0.999; the sample labeled 0 at 0.998 for
    # class 1 misses that threshold but its own label gets 0.002 < 0.9985.
    probs = np.array([[0.998, 0.002], [0.999, 0.001], [0.001, 0.999], [0.001, 0.999],
                      [0.002, 0.998]], np.float32)
    labels = np.array([0, 0, 1, 1, 0])
    ranking = rank_likely_mislabeled(probs, labels)
    assert ranking.indices.tolist() == [4] and ranking.suggested.tolist() == [1]
