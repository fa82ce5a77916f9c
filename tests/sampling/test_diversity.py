"""Diversity selection: planted clusters, brute-force references, D^2 sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sampling.diversity import (
    badge,
    badge_with_distances,
    k_center_greedy,
    k_center_greedy_with_distances,
    top_uncertain_then_diverse,
)
from sampling.uncertainty import margin, top_k_by_score

N_CLUSTERS = 10
PER_CLUSTER = 50


def planted_clusters(seed: int = 0, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """10 tight clusters of 50 near-duplicates, centers >= ~40 apart.

    Returns embeddings [500, dim] float32 and cluster labels [500].
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((N_CLUSTERS, dim)) * 30
    labels = np.repeat(np.arange(N_CLUSTERS), PER_CLUSTER)
    points = centers[labels] + rng.standard_normal((labels.size, dim)) * 0.01
    return points.astype(np.float32), labels


def uncertain_in_one_cluster(labels: np.ndarray) -> np.ndarray:
    """[n, 3] probs: all of cluster 0 near a coin flip, 5 points per other cluster
    moderately unsure, everything else confident, so the top 100 by margin
    still contain every cluster but the top 10 are all from cluster 0."""
    rng = np.random.default_rng(1)
    n = labels.size
    top = np.full(n, 0.98)
    top[labels == 0] = 0.50 + rng.uniform(0, 0.01, (labels == 0).sum())
    for cluster in range(1, N_CLUSTERS):
        members = np.flatnonzero(labels == cluster)[:5]
        top[members] = 0.70 + rng.uniform(0, 0.01, 5)
    probs = np.stack([top, 1 - top - 0.001, np.full(n, 0.001)], axis=1)
    return probs.astype(np.float32)


def brute_force_k_center(x: np.ndarray, k: int, first: int | None, labeled=None) -> list[int]:
    """Textbook farthest-point traversal with a full float64 distance matrix."""
    x = x.astype(np.float64)
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))  # [n, n]
    if labeled is not None and len(labeled):
        lab = np.asarray(labeled, np.float64)
        nearest = np.sqrt(((x[:, None, :] - lab[None, :, :]) ** 2).sum(-1)).min(axis=1)
    else:
        nearest = np.full(len(x), np.inf)
    picks: list[int] = []
    for _ in range(k):
        candidates = np.where(np.isin(np.arange(len(x)), picks), -np.inf, nearest)
        i = first if not picks and first is not None else int(np.argmax(candidates))
        picks.append(i)
        nearest = np.minimum(nearest, dist[i])
    return picks


# --------------------------------------------------------------------------- k-center


def test_k_center_takes_one_point_per_planted_cluster() -> None:
    x, labels = planted_clusters()
    picks = k_center_greedy(x, N_CLUSTERS, seed=0)
    assert sorted(labels[picks]) == list(range(N_CLUSTERS))


def test_margin_alone_fills_the_batch_with_near_duplicates_but_kcenter_does_not() -> None:
    x, labels = planted_clusters()
    scores = margin(uncertain_in_one_cluster(labels))
    by_margin = top_k_by_score(scores, N_CLUSTERS)
    assert set(labels[by_margin]) == {0}  # the failure mode diversity is for
    diverse = top_uncertain_then_diverse(scores, x, N_CLUSTERS, method="kcenter")
    assert sorted(labels[diverse]) == list(range(N_CLUSTERS))


def test_kmeans_variant_takes_the_most_uncertain_point_of_each_cluster() -> None:
    x, labels = planted_clusters()
    scores = margin(uncertain_in_one_cluster(labels))
    picks = top_uncertain_then_diverse(scores, x, N_CLUSTERS, method="kmeans", seed=0)
    assert sorted(labels[picks]) == list(range(N_CLUSTERS))
    assert np.all(np.diff(scores[picks]) <= 0)  # queue in uncertainty order
    for i in picks:
        assert scores[i] == scores[labels == labels[i]].max()


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(
        np.int8, st.tuples(st.integers(2, 30), st.integers(1, 5)), elements=st.integers(-20, 20)
    ),
    data=st.data(),
)
def test_k_center_equals_brute_force_reference(x: np.ndarray, data) -> None:
    # Small integer coordinates keep every squared distance exact in float32,
    # so ties are real ties and both sides must resolve them to the lower index.
    n = x.shape[0]
    k = data.draw(st.integers(1, n))
    picks, distances = k_center_greedy_with_distances(x, k, seed=data.draw(st.integers(0, 99)))
    assert picks.tolist() == brute_force_k_center(x, k, first=int(picks[0]))
    ref_dist = [np.inf] + [
        np.sqrt(((x[i] - x[picks[:t]]).astype(np.float64) ** 2).sum(-1).min())
        for t, i in enumerate(picks[1:], start=1)
    ]
    np.testing.assert_allclose(distances, ref_dist, rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.int8, st.tuples(st.integers(1, 30), st.just(3)), elements=st.integers(-20, 20)),
    labeled=arrays(
        np.int8, st.tuples(st.integers(1, 6), st.just(3)), elements=st.integers(-20, 20)
    ),
    data=st.data(),
)
def test_k_center_with_labeled_set_equals_brute_force(x, labeled, data) -> None:
    k = data.draw(st.integers(1, x.shape[0]))
    picks, distances = k_center_greedy_with_distances(x, k, already_selected=labeled)
    assert picks.tolist() == brute_force_k_center(x, k, first=None, labeled=labeled)
    assert np.all(np.diff(distances) <= 1e-6)  # farthest-first: distances never grow


def test_k_center_seed_only_moves_the_first_pick() -> None:
    x, _ = planted_clusters()
    runs = {tuple(k_center_greedy(x, 5, seed=s)) for s in range(6)}
    assert len({run[0] for run in runs}) > 1
    assert k_center_greedy(x, 5, seed=3).tolist() == k_center_greedy(x, 5, seed=3).tolist()
    labeled = x[:1]
    assert len({tuple(k_center_greedy(x, 5, labeled, seed=s)) for s in range(6)}) == 1


def test_k_center_never_repeats_a_pick_even_among_duplicates() -> None:
    picks = k_center_greedy(np.zeros((20, 4), np.float32), 20)
    assert sorted(picks.tolist()) == list(range(20))


def test_k_center_ties_go_to_the_lowest_position() -> None:
    x = np.array([[0.0], [5.0], [10.0], [10.0]], dtype=np.float32)
    assert k_center_greedy(x, 2, already_selected=[[0.0]]).tolist() == [2, 1]


def test_k_center_first_distance_is_inf_without_labeled_set() -> None:
    _, distances = k_center_greedy_with_distances(np.eye(3, dtype=np.float32), 3)
    assert np.isinf(distances[0]) and np.allclose(distances[1:], np.sqrt(2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embeddings": np.ones(4), "k": 1}, r"shape \[n, d\]"),
        ({"embeddings": np.ones((4, 2)), "k": 5}, "between 0 and the pool size 4"),
        ({"embeddings": np.ones((4, 2)), "k": -1}, "between 0"),
        ({"embeddings": np.ones((4, 2)), "k": 1.5}, "integer"),
        ({"embeddings": [[0.0, np.nan]], "k": 1}, "NaN"),
        ({"embeddings": np.ones((4, 2)), "k": 1, "already_selected": np.ones((1, 3))}, "dimension"),
    ],
)
def test_k_center_input_errors(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        k_center_greedy(**kwargs)


def test_k_zero_gives_empty_picks() -> None:
    x, _ = planted_clusters()
    assert k_center_greedy(x, 0).shape == (0,)
    assert badge(np.full((500, 2), 0.5), x, 0).shape == (0,)
    assert top_uncertain_then_diverse(np.zeros(500), x, 0).shape == (0,)


# --------------------------------------------------------------------------- BADGE


def test_badge_picks_are_diverse_and_uncertain() -> None:
    x, labels = planted_clusters()
    # Clusters 0-4: every point unsure; clusters 5-9: every point confident.
    # Confident points have a zero gradient embedding, so they all sit at the
    # origin of gradient space: at most one of them can be worth a pick.
    probs = np.where((labels < 5)[:, None], [0.55, 0.45], [1.0, 0.0]).astype(np.float32)
    for seed in range(5):
        picks = badge(probs, x, 6, seed=seed)
        unsure = picks[labels[picks] < 5]
        assert sorted(labels[unsure]) == [0, 1, 2, 3, 4]  # one per unsure cluster
        assert len(picks) - len(unsure) == 1


def test_badge_first_pick_has_the_largest_gradient_norm() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), 200).astype(np.float32)
    emb = rng.standard_normal((200, 6)).astype(np.float32)
    a = probs - np.eye(4)[probs.argmax(1)]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(emb, axis=1)
    picks, distances = badge_with_distances(probs, emb, 3, seed=0)
    assert picks[0] == np.argmax(norms)
    assert distances[0] == pytest.approx(norms.max(), rel=1e-5)


def test_badge_distances_match_explicit_gradient_embeddings() -> None:
    # The identity |a(x)e - a'(x)e'|^2 = |a|^2|e|^2 + |a'|^2|e'|^2 - 2(a.a')(e.e')
    # must give the same distances as materialising the [n, c*d] gradients.
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), 300).astype(np.float32)
    emb = rng.standard_normal((300, 7)).astype(np.float32)
    a = probs.astype(np.float64) - np.eye(5)[probs.argmax(1)]
    grads = (a[:, :, None] * emb.astype(np.float64)[:, None, :]).reshape(300, -1)
    picks, distances = badge_with_distances(probs, emb, 25, seed=4)
    assert len(set(picks.tolist())) == 25
    for t in range(1, 25):
        expected = np.linalg.norm(grads[picks[:t]] - grads[picks[t]], axis=1).min()
        assert distances[t] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_badge_second_pick_follows_d2_weights() -> None:
    # Same probabilities for all; embeddings 4, 3, 1 on a line. The first pick
    # is e=4 (largest norm); D^2 to it is 0.5 * (1^2, 3^2) -> p = 0.1, 0.9.
    probs = np.full((3, 2), 0.5, np.float32)
    emb = np.array([[4.0], [3.0], [1.0]], np.float32)
    second = [int(badge(probs, emb, 2, seed=s)[1]) for s in range(1000)]
    assert set(second) == {1, 2}
    assert 60 <= second.count(1) <= 140  # expected 100, sd ~9.5


def test_badge_is_deterministic_for_a_seed() -> None:
    x, labels = planted_clusters()
    probs = np.where((labels % 2 == 0)[:, None], [0.6, 0.4], [0.3, 0.7]).astype(np.float32)
    assert badge(probs, x, 8, seed=7).tolist() == badge(probs, x, 8, seed=7).tolist()


def test_badge_all_confident_pool_falls_back_to_lowest_positions() -> None:
    probs = np.tile(np.float32([1.0, 0.0]), (6, 1))
    emb = np.arange(12, dtype=np.float32).reshape(6, 2)
    picks, distances = badge_with_distances(probs, emb, 4, seed=0)
    assert picks.tolist() == [0, 1, 2, 3]
    assert np.all(distances == 0)


def test_badge_input_errors() -> None:
    with pytest.raises(ValueError, match="rows"):
        badge(np.full((3, 2), 0.5), np.ones((4, 2)), 1)
    with pytest.raises(ValueError, match="probabilities"):
        badge(np.full((3, 2), 2.0), np.ones((3, 2)), 1)


# --------------------------------------------------------------------------- top-M then diverse


def test_candidates_are_limited_to_the_top_m() -> None:
    x, labels = planted_clusters()
    scores = margin(uncertain_in_one_cluster(labels))
    # m = 50 keeps only cluster 0 (its 50 points are the most uncertain).
    picks = top_uncertain_then_diverse(scores, x, 5, m=50)
    assert set(labels[picks]) == {0}


def test_top_then_diverse_input_errors() -> None:
    x, _ = planted_clusters()
    with pytest.raises(ValueError, match="m=3 must be at least k=5"):
        top_uncertain_then_diverse(np.zeros(500), x, 5, m=3)
    with pytest.raises(ValueError, match="method"):
        top_uncertain_then_diverse(np.zeros(500), x, 5, method="dbscan")
    with pytest.raises(ValueError, match=r"shape \[500\]"):
        top_uncertain_then_diverse(np.zeros(499), x, 5)


def test_kmeans_variant_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2000, 16)).astype(np.float32)
    scores = rng.random(2000).astype(np.float32)
    first = top_uncertain_then_diverse(scores, x, 20, method="kmeans", seed=5)
    again = top_uncertain_then_diverse(scores, x, 20, method="kmeans", seed=5)
    assert first.tolist() == again.tolist()
    assert len(set(first.tolist())) == 20
