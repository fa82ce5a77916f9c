"""The queue registry: kinds looked up by name, each built headless on a real project."""

from __future__ import annotations

import pytest

from app.labeling.queues import (
    DEFAULT_BATCH_SIZE,
    QUEUE_KINDS,
    QUEUE_TITLES,
    QUEUES,
    QueueSpec,
    UnknownQueueError,
    build_queue,
    queue_counts,
    queue_kind,
)
from app.learning.pick_reasons import ImportOrderReason, ReviewReason, StrategyReason
from app.learning.ranking import rank_unlabeled


def test_the_window_lists_every_registered_queue_in_registry_order():
    assert QUEUE_KINDS == ("uncertain", "failures", "random", "unlabeled", "labeled",
                           "to_review", "mislabeled", "drift", "disagreements")
    assert list(QUEUE_TITLES) == list(QUEUE_KINDS)
    assert QUEUE_TITLES["unlabeled"] == "Unlabeled (import order)"
    assert all(queue_kind(name).name == name for name in QUEUE_KINDS)
    with pytest.raises(TypeError):
        QUEUES["mine"] = QUEUES["random"]  # type: ignore[index]  # read-only registry


def test_an_unknown_queue_is_refused_with_the_known_ones_listed(project):
    with pytest.raises(UnknownQueueError, match=r"'newest'.*uncertain, failures, random, "
                                                r"unlabeled, labeled, to_review, mislabeled, drift"):
        queue_kind("newest")
    with pytest.raises(ValueError, match="unknown queue kind 'newest'"):
        QueueSpec(kind="newest")  # a remembered setting from elsewhere fails here, not later


def test_unlabeled_and_labeled_queues_with_their_reasons(project):
    project.label(3, "dog", "ann")
    project.label(5, "cat", "ann")
    project.label(7, "dog", "ann")
    unlabeled = build_queue(project, QueueSpec(kind="unlabeled"))
    assert [r.sample_id for r in unlabeled] == [1, 2, 4, 6, 8, 9, 10, 11, 12]
    assert all(r.reason == ImportOrderReason() and r.score == 0.0 for r in unlabeled)
    review = build_queue(project, QueueSpec(kind="labeled"))
    assert [(r.sample_id, r.reason) for r in review] == [
        (3, ReviewReason("dog")), (5, ReviewReason("cat")), (7, ReviewReason("dog"))]
    dogs = build_queue(project, QueueSpec(kind="labeled", class_filter="dog"))
    assert [r.sample_id for r in dogs] == [3, 7]
    assert [r.sample_id for r in build_queue(project, QueueSpec(kind="unlabeled", size=2))] \
        == [1, 2]


def test_random_queue_is_the_seeded_random_strategy(project):
    queue = build_queue(project, QueueSpec(kind="random", seed=4))
    expected = rank_unlabeled(project, "random", None, seed=4)
    assert [r.sample_id for r in queue] == [r.sample_id for r in expected]
    assert sorted(r.sample_id for r in queue) == list(range(1, 13))
    assert all(r.reason == StrategyReason("random", None) for r in queue)


def test_failures_without_a_chosen_set_is_empty(project):
    assert build_queue(project, QueueSpec(kind="failures")) == []


def test_batch_queues_and_counts(project):
    project.label(1, "cat", "ann")
    assert queue_counts(project) == {"uncertain": 11, "failures": 11, "random": 11,
                                     "unlabeled": 11, "labeled": 1, "to_review": 1, "mislabeled": 1,
                                     "drift": 12, "disagreements": 1}
    # Without a model a model-needing strategy gives the cold-start batch: capped.
    assert QueueSpec(kind="uncertain", strategy="margin").top(has_model=False) \
        == DEFAULT_BATCH_SIZE
    assert QueueSpec(kind="uncertain", strategy="margin").top(has_model=True) is None
    assert QueueSpec(kind="uncertain", strategy="coreset").is_batch(has_model=True)
    assert QueueSpec(kind="drift").is_batch(has_model=True)
    assert not QueueSpec(kind="random").is_batch(has_model=False)
    assert QueueSpec(kind="failures", size=7).top(has_model=True) == 7
