"""The strategy registry: every name runs, clear errors, stable and seeded order."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sampling.strategies import (
    STRATEGIES,
    PoolArrays,
    Ranking,
    available_strategies,
    rank,
)

EXPECTED_NAMES = {
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "bald",
    "variation_ratio",
    "coreset",
    "badge",
    "margin_kcenter",
    "entropy_kmeans",
    "typiclust",
    "probcover",
    "auto",
}
BATCH = [name for name in EXPECTED_NAMES if STRATEGIES[name].kind == "batch"]


def full_pool(n: int = 300, seed: int = 0, shuffled_ids: bool = True) -> PoolArrays:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n) * 7 + 100 if shuffled_ids else np.arange(n) * 7 + 100
    return PoolArrays(
        ids=ids,
        probs=rng.dirichlet(np.ones(4), n).astype(np.float32),
        mc_probs=rng.dirichlet(np.ones(4), (n, 6)).transpose(0, 2, 1).astype(np.float32),
        embeddings=rng.standard_normal((n, 12)).astype(np.float32),
        labeled_embeddings=rng.standard_normal((9, 12)).astype(np.float32),
        features=rng.standard_normal((n, 6)).astype(np.float32),
        labeled_features=rng.standard_normal((9, 6)).astype(np.float32),
    )


def permuted(pool: PoolArrays, order: np.ndarray) -> PoolArrays:
    return dataclasses.replace(
        pool,
        ids=pool.ids[order],
        probs=pool.probs[order],
        mc_probs=pool.mc_probs[order],
        embeddings=pool.embeddings[order],
        features=pool.features[order],
    )


def test_registry_holds_the_documented_names() -> None:
    assert set(available_strategies()) == EXPECTED_NAMES
    assert available_strategies() == list(STRATEGIES)
    for name, spec in STRATEGIES.items():
        assert spec.name == name and spec.kind in ("score", "batch") and spec.description
        fields = {f.name for f in dataclasses.fields(PoolArrays)}
        assert set(spec.needs) | set(spec.uses) <= fields - {"ids"}


def test_registry_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        STRATEGIES["mine"] = STRATEGIES["margin"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        STRATEGIES["margin"].kind = "batch"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_strategy_runs_on_a_full_pool(name: str) -> None:
    pool = full_pool()
    ranking = rank(name, pool, k=10, seed=3)
    assert isinstance(ranking, Ranking)
    assert ranking.indices.dtype == np.int64 and ranking.indices.shape == (10,)
    assert ranking.scores.dtype == np.float32 and ranking.scores.shape == (10,)
    assert len(set(ranking.indices.tolist())) == 10
    assert ranking.indices.min() >= 0 and ranking.indices.max() < pool.n
    assert not np.any(np.isnan(ranking.scores))


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_strategy_is_deterministic_for_a_seed(name: str) -> None:
    pool = full_pool()
    first = rank(name, pool, k=15, seed=11)
    again = rank(name, pool, k=15, seed=11)
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.scores, again.scores)


@pytest.mark.parametrize("with_labeled", [True, False])
@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_queue_depends_on_ids_not_on_row_order(name: str, with_labeled: bool) -> None:
    pool = full_pool()
    if not with_labeled:  # then the core-set's first pick is a seeded draw
        pool = dataclasses.replace(pool, labeled_embeddings=None)
    order = np.random.default_rng(9).permutation(pool.n)
    shuffled = permuted(pool, order)
    a = rank(name, pool, k=12, seed=2)
    b = rank(name, shuffled, k=12, seed=2)
    np.testing.assert_array_equal(pool.ids[a.indices], shuffled.ids[b.indices])
    np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.parametrize(
    ("name", "array"),
    [(name, array) for name in sorted(EXPECTED_NAMES) for array in STRATEGIES[name].needs],
)
def test_missing_array_error_names_strategy_and_array(name: str, array: str) -> None:
    pool = dataclasses.replace(full_pool(), **{array: None})
    with pytest.raises(ValueError, match=rf"strategy '{name}' needs pool\.{array} .*missing"):
        rank(name, pool, k=5)


def test_optional_labeled_embeddings_are_not_required() -> None:
    pool = dataclasses.replace(full_pool(), labeled_embeddings=None)
    assert rank("coreset", pool, k=5).indices.shape == (5,)
    assert rank("margin_kcenter", pool, k=5).indices.shape == (5,)


def test_labeled_set_steers_coreset_away_from_it() -> None:
    # Pool: two far groups; the labeled set covers the first group, so every
    # pick must come from the second.
    rng = np.random.default_rng(0)
    near = rng.standard_normal((50, 4)) * 0.1
    far = rng.standard_normal((50, 4)) * 0.1 + 100
    pool = PoolArrays(
        ids=np.arange(100),
        embeddings=np.concatenate([near, far]).astype(np.float32),
        labeled_embeddings=near[:5].astype(np.float32),
    )
    assert np.all(rank("coreset", pool, k=1).indices >= 50)


def test_unknown_strategy_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'smart'.*margin"):
        rank("smart", full_pool())


@pytest.mark.parametrize("name", sorted(BATCH))
def test_batch_strategies_require_k(name: str) -> None:
    with pytest.raises(ValueError, match=f"'{name}' is a batch strategy and needs k"):
        rank(name, full_pool())


@pytest.mark.parametrize("bad_k", [-1, 2.5, True])
def test_invalid_k_is_rejected(bad_k) -> None:
    with pytest.raises(ValueError, match="k must be"):
        rank("margin", full_pool(), k=bad_k)


def test_k_none_ranks_the_whole_pool_and_large_k_is_capped() -> None:
    pool = full_pool(n=50)
    for name in ("random", "entropy", "bald"):
        assert sorted(rank(name, pool).indices.tolist()) == list(range(50))
    assert rank("coreset", pool, k=500).indices.shape == (50,)
    assert rank("margin", pool, k=0).indices.shape == (0,)


def test_margin_known_answer_queue() -> None:
    probs = np.array(
        [[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.5, 0.5], [0.99, 0.01]], dtype=np.float32
    )
    pool = PoolArrays(ids=np.array([50, 40, 30, 20, 10]), probs=probs)
    ranking = rank("margin", pool)
    # Ties (rows 1 and 3, both 50/50) are broken by id: id 20 before id 40.
    assert pool.ids[ranking.indices].tolist() == [20, 40, 30, 50, 10]
    np.testing.assert_allclose(ranking.scores, [0.0, 0.0, -0.2, -0.8, -0.98], atol=1e-6)


def test_score_ties_are_broken_by_id_ascending_with_and_without_k() -> None:
    n = 1000
    rng = np.random.default_rng(4)
    ids = rng.permutation(n) + 10_000
    pool = PoolArrays(ids=ids, probs=np.full((n, 3), 1 / 3, np.float32))
    expected = np.sort(ids)
    assert pool.ids[rank("entropy", pool).indices].tolist() == expected.tolist()
    assert pool.ids[rank("entropy", pool, k=7).indices].tolist() == expected[:7].tolist()


def test_score_queue_is_sorted_by_descending_score() -> None:
    ranking = rank("bald", full_pool(n=500))
    assert np.all(np.diff(ranking.scores) <= 0)


def test_random_is_a_seeded_permutation() -> None:
    pool = full_pool(n=100)
    a = rank("random", pool, seed=1).indices
    assert sorted(a.tolist()) == list(range(100))
    assert a.tolist() == rank("random", pool, seed=1).indices.tolist()
    assert a.tolist() != rank("random", pool, seed=2).indices.tolist()
    assert a[:10].tolist() == rank("random", pool, k=10, seed=1).indices.tolist()


def test_random_needs_no_model_outputs() -> None:
    assert rank("random", PoolArrays(ids=np.arange(5)), k=3).indices.shape == (3,)


def test_batch_scores_follow_the_documented_meaning() -> None:
    pool = full_pool()
    no_labeled = dataclasses.replace(pool, labeled_embeddings=None)
    coreset = rank("coreset", no_labeled, k=5)
    assert np.isinf(coreset.scores[0]) and np.all(np.diff(coreset.scores[1:]) <= 0)
    margins = rank("margin", pool)
    by_index = dict(zip(margins.indices.tolist(), margins.scores.tolist(), strict=True))
    kcenter = rank("margin_kcenter", pool, k=5)
    assert kcenter.scores.tolist() == [by_index[i] for i in kcenter.indices.tolist()]


def test_invalid_values_surface_as_value_errors() -> None:
    pool = full_pool()
    probs = pool.probs.copy()
    probs[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rank("margin", dataclasses.replace(pool, probs=probs))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ids": np.array([1, 2, 2])}, "unique"),
        ({"ids": np.array([0.5, 1.5])}, "integers"),
        ({"ids": np.arange(4).reshape(2, 2)}, r"shape \[n\]"),
        ({"ids": np.arange(3), "probs": np.full((4, 2), 0.5)}, "probs has 4 rows but there are 3"),
        (
            {"ids": np.arange(3), "mc_probs": np.full((3, 2), 0.5)},
            r"mc_probs must have shape \[n, c, T\]",
        ),
        (
            {
                "ids": np.arange(3),
                "probs": np.full((3, 2), 0.5),
                "mc_probs": np.full((3, 3, 4), 0.3),
            },
            "classes",
        ),
        (
            {
                "ids": np.arange(3),
                "embeddings": np.ones((3, 4)),
                "labeled_embeddings": np.ones((2, 5)),
            },
            "width",
        ),
    ],
)
def test_pool_arrays_validation(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        PoolArrays(**kwargs)


def test_pool_ids_are_normalised_to_int64() -> None:
    pool = PoolArrays(ids=np.array([3, 1, 2], dtype=np.int32))
    assert pool.ids.dtype == np.int64 and pool.n == 3
