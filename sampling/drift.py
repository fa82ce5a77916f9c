"""Two-sample statistics for data drift: MMD with a permutation test, and PSI.

Pure numpy (plus faiss for nearest neighbours), documented with array
shapes like the rest of :mod:`sampling`; the application layer decides what
the samples are (model embeddings of a new batch and of the training data).

* :func:`mmd_permutation_test` -- is ``x`` drawn from the same distribution
  as ``y``?  Maximum mean discrepancy (Gretton et al., JMLR 2012) with a
  Gaussian (RBF) kernel whose bandwidth is the median pairwise distance of
  the pooled sample, and a permutation test for the p-value.  Written here
  because scipy has no kernel two-sample test and the usual packages
  (alibi-detect, torchdrift) pull in a deep-learning framework.
* :func:`population_stability_index` -- how far a categorical distribution
  (e.g. of predicted classes) moved; a descriptive figure, not a test.
* :func:`nearest_distances` -- each query's distance to its nearest
  reference point (faiss), to name the samples most responsible for drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_PERMUTATIONS = 500
DEFAULT_MAX_PER_SIDE = 500
PSI_EPSILON = 1e-4
# Permutations are evaluated this many at a time: one [n, block] matrix product each.
_PERMUTATION_BLOCK = 100


@dataclass(frozen=True)
class MMDTestResult:
    """The outcome of :func:`mmd_permutation_test`.

    Attributes
    ----------
    mmd2 : float
        Unbiased estimate of the squared MMD between the (subsampled) sides;
        it can be slightly negative when the distributions agree.
    p_value : float
        ``(1 + #{permuted mmd2 >= mmd2}) / (1 + n_permutations)``; never 0, so
        the smallest reachable value is ``1 / (1 + n_permutations)``.
    bandwidth : float
        Kernel width ``sigma`` in ``k(a, b) = exp(-|a - b|^2 / (2 sigma^2))``.
    n_x, n_y : int
        Points per side actually tested (after subsampling).
    n_permutations : int
    """

    mmd2: float
    p_value: float
    bandwidth: float
    n_x: int
    n_y: int
    n_permutations: int


def _as_points(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [n, d], got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def squared_distances(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Pairwise squared Euclidean distances ``[n_a, n_b]`` between rows of ``a`` and ``b``."""
    a64, b64 = _as_points(a, "a"), _as_points(b, "b")
    d2 = (a64 * a64).sum(1)[:, None] + (b64 * b64).sum(1)[None, :] - 2.0 * a64 @ b64.T
    return np.maximum(d2, 0.0)  # rounding can push exact duplicates below zero


def median_bandwidth(points: ArrayLike) -> float:
    """The median heuristic: median distance between distinct rows of ``points`` ``[n, d]``.

    Falls back to 1.0 when every row is identical (any width then gives the
    same, constant kernel).
    """
    d2 = squared_distances(points, points)
    upper = d2[np.triu_indices(len(d2), k=1)]
    upper = upper[upper > 0]
    return float(np.sqrt(np.median(upper))) if upper.size else 1.0


def rbf_kernel(a: ArrayLike, b: ArrayLike, bandwidth: float) -> NDArray[np.float64]:
    """Gaussian kernel matrix ``[n_a, n_b]``: ``exp(-|a_i - b_j|^2 / (2 bandwidth^2))``."""
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")
    return np.exp(-squared_distances(a, b) / (2.0 * bandwidth * bandwidth))


def _subsample(points: NDArray[np.float64], limit: int, rng: np.random.Generator) -> NDArray:
    if len(points) <= limit:
        return points
    return points[np.sort(rng.choice(len(points), size=limit, replace=False))]


def _mmd2_of_assignments(
    kernel: NDArray[np.float64], row_sums: NDArray[np.float64], total: float,
    in_x: NDArray[np.float64], n_x: int, n_y: int,
) -> NDArray[np.float64]:
    """Unbiased MMD^2 for each column of ``in_x`` ``[n, p]`` (1 = row belongs to x).

    ``kernel`` has a zero diagonal, so the quadratic forms are the U-statistic
    sums over distinct pairs; the y-y and x-y sums follow from the x-x sum,
    the row sums and the total without a second matrix product.
    """
    sum_xx = np.einsum("ip,ip->p", in_x, kernel @ in_x)
    sum_x_all = row_sums @ in_x
    sum_xy = sum_x_all - sum_xx
    sum_yy = total - 2.0 * sum_x_all + sum_xx
    return (sum_xx / (n_x * (n_x - 1)) + sum_yy / (n_y * (n_y - 1))
            - 2.0 * sum_xy / (n_x * n_y))


def mmd_permutation_test(
    x: ArrayLike,
    y: ArrayLike,
    *,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    bandwidth: float | None = None,
    max_per_side: int | None = DEFAULT_MAX_PER_SIDE,
    seed: int = 0,
) -> MMDTestResult:
    """Kernel two-sample test of ``x`` ``[n_x, d]`` against ``y`` ``[n_y, d]``.

    Each side is first subsampled (without replacement, seeded) to at most
    ``max_per_side`` rows, which bounds the cost at a ``[2 * max_per_side]^2``
    kernel matrix.  The bandwidth defaults to the median heuristic over the
    pooled points; it does not depend on which point belongs to which side,
    so the permutation null distribution stays exact.

    Parameters
    ----------
    x, y : array-like of float, shape [n, d]
        The two samples (at least 2 rows each, same ``d``).
    n_permutations : int
        Random relabellings of the pooled sample drawn for the null.
    bandwidth : float, optional
        Fixed kernel width; ``None`` = median heuristic.
    max_per_side : int or None
        Subsampling limit per side; ``None`` = use every row.
    seed : int
        Seeds the subsampling and the permutations.

    Returns
    -------
    MMDTestResult
    """
    xs, ys = _as_points(x, "x"), _as_points(y, "y")
    if xs.shape[1] != ys.shape[1]:
        raise ValueError(f"x has {xs.shape[1]} columns but y has {ys.shape[1]}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
    rng = np.random.default_rng(seed)
    if max_per_side is not None:
        xs, ys = _subsample(xs, max_per_side, rng), _subsample(ys, max_per_side, rng)
    n_x, n_y = len(xs), len(ys)
    if min(n_x, n_y) < 2:
        raise ValueError(f"each side needs at least 2 points, got {n_x} and {n_y}")
    pooled = np.concatenate([xs, ys])
    width = median_bandwidth(pooled) if bandwidth is None else float(bandwidth)
    kernel = rbf_kernel(pooled, pooled, width)
    np.fill_diagonal(kernel, 0.0)
    row_sums = kernel.sum(1)
    total = float(row_sums.sum())
    observed_assignment = np.zeros((n_x + n_y, 1))
    observed_assignment[:n_x] = 1.0
    observed = float(_mmd2_of_assignments(kernel, row_sums, total, observed_assignment,
                                          n_x, n_y)[0])
    exceed = 0
    for start in range(0, n_permutations, _PERMUTATION_BLOCK):
        block = min(_PERMUTATION_BLOCK, n_permutations - start)
        assignment = np.zeros((n_x + n_y, block))
        for column in range(block):
            assignment[rng.permutation(n_x + n_y)[:n_x], column] = 1.0
        permuted = _mmd2_of_assignments(kernel, row_sums, total, assignment, n_x, n_y)
        # A relative tolerance so that ties with the observed value count as
        # "at least as extreme" despite summation-order rounding.
        exceed += int(np.sum(permuted >= observed - 1e-12 * max(1.0, abs(observed))))
    return MMDTestResult(
        mmd2=observed, p_value=(1 + exceed) / (1 + n_permutations), bandwidth=width,
        n_x=n_x, n_y=n_y, n_permutations=n_permutations,
    )


def population_stability_index(
    expected: ArrayLike, actual: ArrayLike, *, eps: float = PSI_EPSILON
) -> float:
    """PSI between two categorical distributions ``[k]`` (counts or proportions).

    ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over the proportions, where each
    side is normalised to sum to 1 and then floored at ``eps`` so that a
    category empty on one side gives a large but finite term.  It is 0 for
    identical distributions and symmetric in its arguments.  Common reading:
    below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major shift.

    Raises
    ------
    ValueError
        When the shapes differ, a value is negative, or a side sums to 0.
    """
    e = np.asarray(expected, dtype=np.float64).reshape(-1)
    a = np.asarray(actual, dtype=np.float64).reshape(-1)
    if e.shape != a.shape:
        raise ValueError(f"expected has {e.size} categories but actual has {a.size}")
    for name, side in (("expected", e), ("actual", a)):
        if np.any(side < 0) or not np.all(np.isfinite(side)):
            raise ValueError(f"{name} must hold finite non-negative values")
        if side.sum() <= 0:
            raise ValueError(f"{name} sums to 0: no observations")
    e = np.maximum(e / e.sum(), eps)
    a = np.maximum(a / a.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def nearest_distances(queries: ArrayLike, reference: ArrayLike) -> NDArray[np.float32]:
    """Euclidean distance ``[n_q]`` from each query row to its nearest ``reference`` row.

    Exact search (faiss ``IndexFlatL2``); ``queries`` ``[n_q, d]`` and
    ``reference`` ``[n_r, d]`` with ``n_r >= 1``.
    """
    q = np.ascontiguousarray(_as_points(queries, "queries"), dtype=np.float32)
    r = np.ascontiguousarray(_as_points(reference, "reference"), dtype=np.float32)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} columns but reference has {r.shape[1]}")
    if len(r) == 0:
        raise ValueError("reference is empty")
    if len(q) == 0:
        return np.zeros(0, np.float32)
    index = faiss.IndexFlatL2(r.shape[1])
    index.add(r)
    d2, _ = index.search(q, 1)
    return np.sqrt(np.maximum(d2[:, 0], 0.0)).astype(np.float32)
