"""Drift statistics with known answers: MMD permutation test, PSI, nearest distances."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kstest

from sampling.drift import (
    median_bandwidth,
    mmd_permutation_test,
    nearest_distances,
    population_stability_index,
    rbf_kernel,
)


def _brute_force_mmd2(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """The unbiased MMD^2 U-statistic written out pair by pair (Gretton et al. eq. 3)."""
    def k(a: np.ndarray, b: np.ndarray) -> float:
        return math.exp(-float(np.sum((a - b) ** 2)) / (2 * bandwidth**2))

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_mmd2_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5
    result = mmd_permutation_test(x, y, bandwidth=1.3, n_permutations=10)
    assert result.mmd2 == pytest.approx(_brute_force_mmd2(x, y, 1.3), rel=1e-10)
    assert result.bandwidth == 1.3 and (result.n_x, result.n_y) == (7, 5)


def test_median_bandwidth_and_kernel_known_answers():
    points = np.array([[0.0], [1.0], [3.0]])  # distances 1, 2, 3
    assert median_bandwidth(points) == pytest.approx(2.0)
    assert median_bandwidth(np.ones((4, 2))) == 1.0  # all identical: any width, 1 by convention
    kernel = rbf_kernel(points, points, 2.0)
    assert kernel[0, 1] == pytest.approx(math.exp(-1 / 8))
    assert np.allclose(np.diag(kernel), 1.0)


def test_p_values_are_uniform_under_the_null():
    p_values = []
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        x, y = rng.normal(size=(40, 5)), rng.normal(size=(60, 5))
        p_values.append(mmd_permutation_test(x, y, n_permutations=199, seed=seed).p_value)
    p_values = np.array(p_values)
    # Expected 5 of 100 below 0.05 (binomial sd ~2.2).
    assert np.mean(p_values < 0.05) <= 0.11
    assert 0.4 < p_values.mean() < 0.6
    assert kstest(p_values, "uniform").pvalue > 0.01


@pytest.mark.parametrize("shift", ["mean", "scale"])
def test_detects_a_shift(shift):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 5)), rng.normal(size=(50, 5))
    y = y + 1.0 if shift == "mean" else y * 2.0
    result = mmd_permutation_test(x, y, n_permutations=199, seed=1)
    assert result.p_value == pytest.approx(1 / 200)  # the smallest reachable value
    assert result.mmd2 > 0


def test_seeded_subsampling_is_reproducible_and_capped():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 4)), rng.normal(size=(80, 4))
    first = mmd_permutation_test(x, y, max_per_side=100, n_permutations=50, seed=3)
    again = mmd_permutation_test(x, y, max_per_side=100, n_permutations=50, seed=3)
    assert first == again
    assert (first.n_x, first.n_y, first.n_permutations) == (100, 80, 50)
    assert 1 / 51 <= first.p_value <= 1.0


def test_mmd_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 points"):
        mmd_permutation_test(np.zeros((1, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="columns"):
        mmd_permutation_test(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        mmd_permutation_test(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_psi_known_answers():
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.25 * math.log(2) + 0.25 * math.log(1.5))
    # Counts give the same as their proportions, and PSI is symmetric.
    assert population_stability_index([10, 10], [5, 15]) == pytest.approx(
        population_stability_index([5, 15], [10, 10]))
    assert population_stability_index([10, 10], [5, 15]) == pytest.approx(0.2746530721670274)
    assert population_stability_index([3, 1, 6], [30, 10, 60]) == pytest.approx(0.0)
    # An empty category is floored at eps: finite, large.
    assert population_stability_index([1, 0], [1, 1], eps=1e-4) == pytest.approx(
        (0.5 - 1) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))


def test_psi_rejects_bad_input():
    with pytest.raises(ValueError, match="categories"):
        population_stability_index([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="non-negative"):
        population_stability_index([1, -1], [1, 1])
    with pytest.raises(ValueError, match="sums to 0"):
        population_stability_index([0, 0], [1, 1])


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(4)
    queries, reference = rng.normal(size=(20, 6)), rng.normal(size=(30, 6))
    brute = np.sqrt(((queries[:, None, :] - reference[None]) ** 2).sum(-1)).min(1)
    assert np.allclose(nearest_distances(queries, reference), brute, atol=1e-4)
    assert nearest_distances(reference[:3], reference) == pytest.approx(np.zeros(3), abs=1e-3)
