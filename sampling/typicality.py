"""Low-budget selection: typical points (TypiClust) and coverage (ProbCover).

With a few labels per class the model's uncertainty is noise, and picking
the samples it is least sure of picks outliers. What helps at that budget is
labeling the *typical* samples of the pool, spread over its dense regions
(Hacohen, Dekel & Weinshall 2022). Both methods here work on a label-free
embedding of the whole pool (labeled samples included, as context) and need
no model.

``typiclust``
    k-means the pool into ``|labeled| + k`` clusters; each pick goes to the
    largest cluster holding the fewest labeled or picked samples, and takes
    its most typical point: the one with the smallest mean distance to its
    nearest neighbours in the cluster.
``probcover``
    Balls of radius ``delta`` around every point; greedily pick the point
    whose ball covers the most points that no labeled or picked ball covers
    yet (max coverage). ``delta`` comes from the data: the largest radius at
    which 95 % of the balls are *pure*, i.e. hold a single k-means cluster
    when the pool is clustered into as many clusters as there are classes.

Nearest-neighbour searches and k-means go through faiss (as in
:mod:`sampling.diversity`); the ball graph is a scipy sparse matrix. Both
functions are deterministic for a given seed; ties go to the lowest position.

References
----------
Hacohen, Dekel & Weinshall (2022), *Active Learning on a Budget: Opposite
Strategies Suit High and Low Budgets*, ICML (TypiClust).
Yehuda, Dekel, Hacohen & Weinshall (2022), *Active Learning Through a
Covering Lens*, NeurIPS (ProbCover).
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from sampling.inputs import as_embeddings, check_pick_count

__all__ = [
    "Coverage",
    "TypicalPicks",
    "coverage_radius",
    "kmeans_assignment",
    "probcover",
    "typicality",
    "typiclust",
]

# The constants of the TypiClust paper (and its reference code): typicality
# from the 20 nearest neighbours; clusters of fewer than 5 points are
# outliers, not worth a label while bigger clusters are left; at most 500
# clusters (more cost k-means time and split dense regions into slivers).
TYPICALITY_NEIGHBOURS = 20
MIN_CLUSTER_SIZE = 5
MAX_CLUSTERS = 500
# ProbCover's purity threshold alpha: the share of balls that must be pure.
PURITY = 0.95
_KMEANS_ITERATIONS = 20


@dataclass(frozen=True)
class TypicalPicks:
    """What :func:`typiclust` picked.

    Attributes
    ----------
    indices : NDArray[int64], shape [k]
        Positions into the pool, in pick order.
    typicality : NDArray[float32], shape [k]
        Typicality of each pick in its cluster (1 / mean kNN distance).
    clusters : NDArray[int64], shape [k]
        The k-means cluster each pick came from.
    """

    indices: NDArray[np.int64]
    typicality: NDArray[np.float32]
    clusters: NDArray[np.int64]


@dataclass(frozen=True)
class Coverage:
    """What :func:`probcover` picked.

    Attributes
    ----------
    indices : NDArray[int64], shape [k]
        Positions into the pool, in pick order.
    gains : NDArray[int64], shape [k]
        Points (pool and labeled) each pick's ball newly covered; 0 once
        everything is covered (the remaining picks are then a seeded draw).
    delta : float
        Ball radius used.
    covered_fraction : float
        Share of all points (pool and labeled) within ``delta`` of a labeled
        point or a pick, after the picks.
    """

    indices: NDArray[np.int64]
    gains: NDArray[np.int64]
    delta: float
    covered_fraction: float


# --------------------------------------------------------------------------- TypiClust


def typiclust(
    features: ArrayLike,
    k: int,
    labeled_features: ArrayLike | None = None,
    seed: int = 0,
    *,
    neighbours: int = TYPICALITY_NEIGHBOURS,
    min_cluster_size: int = MIN_CLUSTER_SIZE,
    max_clusters: int = MAX_CLUSTERS,
) -> TypicalPicks:
    """TypiClust: the most typical point of each of the largest uncovered clusters.

    Parameters
    ----------
    features : array_like, shape [n, d]
        Label-free embedding of the unlabeled pool (the candidates).
    k : int
        Number of picks, ``0 <= k <= n``.
    labeled_features : array_like, shape [m, d], optional
        Embedding of the labeled samples: they take part in the clustering,
        and a cluster holding one counts as covered.
    seed : int
        Seeds the k-means initialisation.
    neighbours : int
        Typicality uses this many nearest neighbours (at most half the
        cluster).
    min_cluster_size : int
        Clusters smaller than this are picked from only when no larger
        cluster has candidates left.
    max_clusters : int
        Upper bound on the number of clusters.

    Returns
    -------
    TypicalPicks

    Notes
    -----
    The pool is clustered into ``min(m + k, max_clusters, (n + m) //
    min_cluster_size)`` clusters.
    Pick after pick, the cluster with the fewest labeled-or-picked points
    (ties: the larger cluster, then the lower cluster number) gives its most
    typical candidate not yet picked. So with ``m + k`` clusters every
    cluster without a label gets exactly one pick, largest first; when the
    clusters are capped, picks go round the clusters again.

    Cost: k-means O(n K d) per iteration; typicality O(sum of squared
    cluster sizes x d) through faiss, i.e. about ``n^2 d / K``.
    """
    x, labeled = _pool_and_labeled(features, labeled_features)
    n, m = x.shape[0], labeled.shape[0]
    check_pick_count(k, n)
    if k == 0:
        empty = np.empty(0, np.int64)
        return TypicalPicks(empty, np.empty(0, np.float32), empty)
    everything = np.concatenate([x, labeled]) if m else x
    # Clusters of min_cluster_size points on average at least: a batch as large
    # as the pool would otherwise make every point its own cluster, and the
    # queue's order (largest cluster first) would mean nothing.
    clusters = max(1, min(m + k, max_clusters, (n + m) // min_cluster_size))
    assignment = kmeans_assignment(everything, clusters, seed)
    sizes = np.bincount(assignment, minlength=clusters)
    counts = np.bincount(assignment[n:], minlength=clusters).astype(np.int64)
    scores = typicality(everything, assignment, neighbours)[:n]
    # Candidates of each cluster, most typical first (ties: lowest position).
    order = np.lexsort((np.arange(n), -scores, assignment[:n]))
    starts = np.searchsorted(assignment[:n][order], np.arange(clusters + 1))
    next_candidate = starts[:-1].copy()
    picks = np.empty(k, np.int64)
    picked_clusters = np.empty(k, np.int64)
    for step in range(k):
        has_candidates = next_candidate < starts[1:]
        eligible = has_candidates & (sizes >= min_cluster_size)
        if not eligible.any():
            eligible = has_candidates
        # Fewest labels first, then the largest cluster, then the lowest number.
        key = np.where(eligible, counts * (n + m + 1) - sizes, np.iinfo(np.int64).max)
        cluster = int(np.argmin(key))
        picks[step] = order[next_candidate[cluster]]
        picked_clusters[step] = cluster
        next_candidate[cluster] += 1
        counts[cluster] += 1
    return TypicalPicks(picks, scores[picks].astype(np.float32), picked_clusters)


def typicality(features: ArrayLike, assignment: ArrayLike,
               neighbours: int = TYPICALITY_NEIGHBOURS) -> NDArray[np.float64]:
    """Typicality of every point within its cluster: 1 / mean distance to its kNN.

    Parameters
    ----------
    features : array_like, shape [n, d]
    assignment : array_like of int, shape [n]
        Cluster of each point.
    neighbours : int
        ``K`` of the kNN, capped at half the cluster size (at least 1).

    Returns
    -------
    NDArray[float64], shape [n]
        Higher = more typical; 0 for a point alone in its cluster, ``inf``
        for one whose neighbours all coincide with it.
    """
    x = as_embeddings(features, "features")
    labels = np.asarray(assignment, dtype=np.int64)
    if labels.shape != (x.shape[0],):
        raise ValueError(f"assignment must have shape [{x.shape[0]}], got {labels.shape}")
    result = np.zeros(x.shape[0], np.float64)
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        knn = min(neighbours, members.size // 2)
        if knn < 1:
            continue
        # knn + 1 nearest, self included at distance 0, so the sum is over knn others.
        d2, _ = _search(x[members], x[members], knn + 1)
        mean_distance = np.sqrt(np.maximum(d2, 0.0)).sum(axis=1) / knn
        with np.errstate(divide="ignore"):
            result[members] = 1.0 / mean_distance
    return result


# --------------------------------------------------------------------------- ProbCover


def probcover(
    features: ArrayLike,
    k: int,
    labeled_features: ArrayLike | None = None,
    n_classes: int | None = None,
    seed: int = 0,
    *,
    delta: float | None = None,
    purity: float = PURITY,
) -> Coverage:
    """ProbCover: greedy maximum coverage with balls of radius ``delta``.

    Parameters
    ----------
    features : array_like, shape [n, d]
        Label-free embedding of the unlabeled pool (the candidates).
    k : int
        Number of picks, ``0 <= k <= n``.
    labeled_features : array_like, shape [m, d], optional
        Embedding of the labeled samples; what their balls cover is covered
        already.
    n_classes : int, optional
        Number of classes; needed to choose ``delta`` (:func:`coverage_radius`)
        when ``delta`` is not given.
    seed : int
        Seeds the k-means of the radius choice and the draw that fills the
        batch once everything is covered.
    delta : float, optional
        Ball radius (Euclidean); by default :func:`coverage_radius`.
    purity : float
        Share of pure balls the default radius keeps (ProbCover's alpha).

    Returns
    -------
    Coverage

    Notes
    -----
    A point ``j`` is covered by ``i`` when ``|x_i - x_j| < delta``. Each pick
    is the candidate whose ball holds the most uncovered points (ties: the
    lowest position); once nothing is left uncovered the rest of the batch
    is a seeded uniform draw, as in the paper. The ball graph is built with
    one faiss range search over all ``n + m`` points (time O((n + m)^2 d))
    and holds ``(n + m)`` times the mean ball size entries, which is why the
    radius is kept small by the purity rule.
    """
    x, labeled = _pool_and_labeled(features, labeled_features)
    n, m = x.shape[0], labeled.shape[0]
    check_pick_count(k, n)
    everything = np.concatenate([x, labeled]) if m else x
    if delta is None:
        if n_classes is None:
            raise ValueError("probcover needs n_classes to choose delta, or delta itself")
        delta = coverage_radius(everything, n_classes, purity=purity, seed=seed)
    if not np.isfinite(delta) or delta <= 0:
        raise ValueError(f"delta must be a positive number, got {delta!r}")
    balls = _ball_graph(everything, float(delta))  # row i: the points i's ball covers
    covered_by = balls.T.tocsr()  # row j: the points whose balls cover j
    covered = np.zeros(n + m, dtype=bool)
    if m:
        covered[balls[n:].indices] = True
    uncovered_counts = balls @ (~covered).astype(np.int64)
    gain = uncovered_counts[:n].astype(np.int64)
    available = np.ones(n, dtype=bool)
    picks = np.empty(k, np.int64)
    gains = np.zeros(k, np.int64)
    for step in range(k):
        i = int(np.argmax(np.where(available, gain, -1)))
        if gain[i] <= 0:
            rest = np.flatnonzero(available)
            drawn = np.random.default_rng(seed).permutation(rest)[: k - step]
            picks[step:] = drawn
            break
        picks[step], gains[step] = i, gain[i]
        available[i] = False
        ball = balls.indices[balls.indptr[i]:balls.indptr[i + 1]]
        newly = ball[~covered[ball]]
        covered[newly] = True
        # Every ball that held a newly covered point now covers one point less.
        affected = covered_by[newly].indices
        gain -= np.bincount(affected, minlength=n + m)[:n]
    if k:
        covered[_ball_members(balls, picks)] = True
    return Coverage(picks, gains, float(delta), float(covered.mean()) if n + m else 1.0)


def coverage_radius(features: ArrayLike, n_classes: int, *, purity: float = PURITY,
                    seed: int = 0) -> float:
    """The largest ball radius at which a share ``purity`` of the balls are pure.

    Parameters
    ----------
    features : array_like, shape [n, d]
        The whole pool's embedding (labeled samples included).
    n_classes : int
        The pool is k-means clustered into this many clusters; a ball is
        pure when all the points in it share its centre's cluster.
    purity : float
        Share of pure balls wanted, in (0, 1].
    seed : int
        Seeds the k-means.

    Returns
    -------
    float
        The radius ``delta``: ball ``B(x, delta)`` is pure iff ``delta`` is at
        most the distance ``r_x`` from ``x`` to the nearest point of another
        cluster, so the purity at ``delta`` is the share of ``r_x >= delta``
        and the largest radius keeping ``purity`` is a low quantile of
        ``r_x``, computed exactly (one nearest-neighbour search per cluster)
        rather than on the grid of radii the paper tries. Falls back to the
        smallest positive distance when that quantile is 0 (duplicates
        across clusters).
    """
    x = as_embeddings(features, "features")
    if not 0.0 < purity <= 1.0:
        raise ValueError(f"purity must be in (0, 1], got {purity!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    n = x.shape[0]
    if n < 2:
        raise ValueError("coverage_radius needs at least 2 points")
    assignment = kmeans_assignment(x, min(int(n_classes), n), seed)
    other_cluster = np.full(n, np.inf, np.float64)
    for cluster in np.unique(assignment):
        inside = assignment == cluster
        if inside.all():
            continue
        d2, _ = _search(x[~inside], x[inside], 1)
        other_cluster[inside] = np.sqrt(np.maximum(d2[:, 0], 0.0))
    finite = np.sort(other_cluster[np.isfinite(other_cluster)])
    if finite.size == 0:  # one cluster only: every ball is pure; no scale from purity
        finite = np.sort(np.sqrt(np.maximum(_search(x, x, 2)[0][:, 1], 0.0)))
    # Purity at delta = share of r_x >= delta; keep at least `purity` of n.
    position = min(int(np.floor((1.0 - purity) * n)), finite.size - 1)
    delta = float(finite[position])
    if delta <= 0:
        positive = finite[finite > 0]
        delta = float(positive[0]) if positive.size else 1.0
    return delta


# --------------------------------------------------------------------------- shared helpers


def kmeans_assignment(features: ArrayLike, clusters: int, seed: int = 0) -> NDArray[np.int64]:
    """Cluster of every row by faiss k-means (k-means++ init where faiss offers it).

    Parameters
    ----------
    features : array_like, shape [n, d]
    clusters : int
        ``1 <= clusters <= n``.
    seed : int

    Returns
    -------
    NDArray[int64], shape [n]
        Cluster numbers; clusters that ended up empty have no rows.
    """
    x = as_embeddings(features, "features")
    n = x.shape[0]
    if not 1 <= clusters <= n:
        raise ValueError(f"clusters must be between 1 and {n}, got {clusters}")
    if clusters == 1:
        return np.zeros(n, np.int64)
    options: dict[str, object] = {}
    kmeans_plus_plus = getattr(faiss, "ClusteringInitMethod_KMEANS_PLUS_PLUS", None)
    if kmeans_plus_plus is not None:
        # A random init often puts two centroids in one blob and merges two others.
        options["init_method"] = kmeans_plus_plus
    # faiss takes a signed 32-bit seed; callers may derive unsigned 32-bit ones.
    kmeans = faiss.Kmeans(x.shape[1], clusters, niter=_KMEANS_ITERATIONS,
                          seed=int(seed) % (2**31 - 1),
                          verbose=False, min_points_per_centroid=1,
                          max_points_per_centroid=n, **options)
    kmeans.train(x)
    _, assignment = kmeans.index.search(x, 1)
    return assignment[:, 0].astype(np.int64)


def _ball_graph(x: NDArray[np.float32], delta: float) -> sparse.csr_matrix:
    """[n, n] 0/1 matrix: row i marks the points strictly within ``delta`` of point i."""
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    limits, _, neighbours = index.range_search(x, delta * delta)
    n = x.shape[0]
    graph = sparse.csr_matrix(
        (np.ones(neighbours.size, np.int64), neighbours.astype(np.int64), limits.astype(np.int64)),
        shape=(n, n))
    # Every point covers itself, even where float32 round-off put it at a tiny distance.
    graph = graph.maximum(sparse.identity(n, dtype=np.int64, format="csr"))
    graph.sort_indices()
    return graph.tocsr()


def _ball_members(balls: sparse.csr_matrix, rows: NDArray[np.int64]) -> NDArray[np.int64]:
    return balls[rows].indices


def _search(base: NDArray[np.float32], queries: NDArray[np.float32], k: int
            ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact squared-L2 kNN of ``queries`` among ``base`` (faiss, blocked)."""
    index = faiss.IndexFlatL2(base.shape[1])
    index.add(np.ascontiguousarray(base))
    return index.search(np.ascontiguousarray(queries), min(k, base.shape[0]))


def _pool_and_labeled(features: ArrayLike, labeled_features: ArrayLike | None
                      ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    x = as_embeddings(features, "features")
    if labeled_features is None:
        return x, np.empty((0, x.shape[1]), np.float32)
    labeled = as_embeddings(labeled_features, "labeled_features")
    if labeled.shape[0] and labeled.shape[1] != x.shape[1]:
        raise ValueError(f"labeled_features have width {labeled.shape[1]}, "
                         f"features {x.shape[1]}")
    return x, labeled.reshape(-1, x.shape[1])
