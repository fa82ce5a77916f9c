"""TypiClust and ProbCover on synthetic embeddings whose right answer is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sampling.strategies import (
    AUTO_SWITCH_LABELS_PER_CLASS,
    AUTO_TYPICAL,
    AUTO_UNCERTAIN,
    PoolArrays,
    auto_phase,
    rank,
)
from sampling.typicality import coverage_radius, probcover, typicality, typiclust

SIZES = (200, 150, 120, 100, 80, 60)


def blobs(seed: int = 0, sizes: tuple[int, ...] = SIZES, spread: float = 1.0
          ) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian blobs in 5-D (centres on a scaled simplex) and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.eye(len(sizes), 5 + len(sizes))[:, :] * 40.0
    x = np.concatenate([c + rng.normal(0, spread, (s, centres.shape[1]))
                        for c, s in zip(centres, sizes, strict=True)])
    return x.astype(np.float32), np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typiclust_gives_every_blob_a_pick_largest_first(seed):
    x, blob = blobs(seed)
    picks = typiclust(x, len(SIZES), seed=seed)
    # One pick per blob, and the largest blob first (TypiClust's order).
    assert blob[picks.indices].tolist() == list(range(len(SIZES)))


def test_typiclust_picks_the_densest_point_of_a_blob():
    rng = np.random.default_rng(0)
    core = rng.normal(0, 0.1, (30, 2))
    halo = rng.normal(0, 3.0, (70, 2))
    x = np.concatenate([core, halo]).astype(np.float32)
    picks = typiclust(x, 1)
    assert picks.indices[0] < 30  # in the dense core, not in the halo
    assert picks.typicality[0] == pytest.approx(typicality(x, np.zeros(100, int))[picks.indices[0]])


def test_typiclust_skips_the_blobs_the_labeled_set_holds():
    x, blob = blobs(1)
    labeled = np.r_[np.flatnonzero(blob == 0)[:1], np.flatnonzero(blob == 1)[:1]]
    rest = np.setdiff1d(np.arange(len(x)), labeled)
    picks = typiclust(x[rest], 4, labeled_features=x[labeled], seed=1)
    assert blob[rest][picks.indices].tolist() == [2, 3, 4, 5]


def test_typiclust_goes_round_again_when_clusters_are_capped():
    x, blob = blobs(2)
    picks = typiclust(x, 12, seed=0, max_clusters=len(SIZES))
    counts = np.bincount(blob[picks.indices], minlength=len(SIZES))
    assert counts.tolist() == [2] * len(SIZES)
    assert len(set(picks.indices.tolist())) == 12


def test_typiclust_is_deterministic_and_handles_k_zero():
    x, _ = blobs(3)
    a, b = typiclust(x, 5, seed=7), typiclust(x, 5, seed=7)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert typiclust(x, 0).indices.shape == (0,)
    with pytest.raises(ValueError, match="k must be between"):
        typiclust(x, len(x) + 1)


def test_probcover_covers_what_it_claims():
    x, blob = blobs(0, spread=2.0)
    labeled = np.flatnonzero(blob == 0)[:3]
    rest = np.setdiff1d(np.arange(len(x)), labeled)
    cover = probcover(x[rest], 8, labeled_features=x[labeled], n_classes=len(SIZES), seed=0)
    everything = np.concatenate([x[rest], x[labeled]])
    distances = np.linalg.norm(everything[:, None, :] - everything[None, :, :], axis=2)
    covered = (distances[len(rest):] < cover.delta).any(axis=0)
    for pick, gain in zip(cover.indices, cover.gains, strict=True):
        ball = distances[pick] < cover.delta
        assert gain == int(np.sum(ball & ~covered))  # exactly the uncovered points in its ball
        covered |= ball
    assert cover.covered_fraction == pytest.approx(covered.mean())
    assert np.all(np.diff(cover.gains) <= 0)  # greedy: gains never grow


def test_probcover_with_blob_sized_balls_takes_one_centre_per_blob():
    x, blob = blobs(1)
    cover = probcover(x, len(SIZES), delta=10.0)
    assert sorted(blob[cover.indices].tolist()) == list(range(len(SIZES)))
    assert cover.gains.tolist() == list(SIZES) and cover.covered_fraction == 1.0


def test_probcover_fills_the_batch_once_everything_is_covered():
    x, _ = blobs(2)
    cover = probcover(x, 10, delta=10.0, seed=4)
    assert len(set(cover.indices.tolist())) == 10
    assert cover.gains[6:].tolist() == [0] * 4


def test_coverage_radius_stays_inside_blobs_and_keeps_the_purity():
    x, blob = blobs(0)
    delta = coverage_radius(x, len(SIZES))
    distances = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=2)
    pure = np.array([np.all(blob[distances[i] < delta] == blob[i]) for i in range(len(x))])
    assert pure.mean() >= 0.95
    # The blob centres are 40 * sqrt(2) apart: a pure radius is below that.
    assert 0 < delta < 40 * np.sqrt(2)
    with pytest.raises(ValueError, match="n_classes"):
        coverage_radius(x, 1)


def test_auto_is_typical_until_its_batch_reaches_the_switch_then_margin():
    x, _ = blobs(0)
    rng = np.random.default_rng(0)
    classes = len(SIZES)
    probs = rng.dirichlet(np.ones(classes), len(x)).astype(np.float32)
    switch = int(np.ceil(AUTO_SWITCH_LABELS_PER_CLASS * classes))  # labels in all
    labeled = 5
    pool = PoolArrays(ids=np.arange(len(x)), probs=probs, features=x,
                      labeled_features=x[:labeled])
    short = switch - labeled - 1  # this batch leaves the labels one short of the switch
    assert auto_phase(pool, short) == AUTO_TYPICAL
    np.testing.assert_array_equal(rank("auto", pool, k=short).indices,
                                  rank(AUTO_TYPICAL, pool, k=short).indices)
    # The batch that reaches the switch is already margin's.
    assert auto_phase(pool, short + 1) == AUTO_UNCERTAIN
    np.testing.assert_array_equal(rank("auto", pool, k=short + 1).indices,
                                  rank(AUTO_UNCERTAIN, pool, k=short + 1).indices)
    # No model yet: typical; no label-free embedding: uncertain.
    assert auto_phase(dataclasses.replace(pool, probs=None), 10_000) == AUTO_TYPICAL
    assert auto_phase(dataclasses.replace(pool, features=None, labeled_features=None)
                      ) == AUTO_UNCERTAIN
    with pytest.raises(ValueError, match="auto"):
        rank("auto", PoolArrays(ids=np.arange(5)), k=2)


def test_probcover_strategy_needs_the_class_count():
    x, _ = blobs(0)
    with pytest.raises(ValueError, match="n_classes"):
        rank("probcover", PoolArrays(ids=np.arange(len(x)), features=x), k=3)
    assert rank("probcover", PoolArrays(ids=np.arange(len(x)), features=x, n_classes=6),
                k=3).indices.shape == (3,)
