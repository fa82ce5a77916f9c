"""Batch selection that spreads picks over the embedding space.

Uncertainty alone happily fills a batch with ten frames of the same blurry
scene. The functions here pick a batch of ``k`` pool positions that are
informative *and* unlike each other.

Memory: nothing here ever builds an ``n x n`` matrix. Greedy selections keep
one running "distance to the nearest chosen point" per sample ([n]) and
update it with one matrix-vector product per pick, so the working set is the
input plus O(n) floats. Nearest-neighbour searches against a labeled set and
k-means go through faiss, which blocks its own computations.

Ties (equal distances, equal scores) go to the lowest position; callers that
want ties broken by sample id pass the pool in id order
(``sampling.strategies`` does).
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray

from sampling.inputs import as_embeddings, check_pick_count
from sampling.uncertainty import top_k_by_score

__all__ = [
    "badge",
    "badge_with_distances",
    "k_center_greedy",
    "k_center_greedy_with_distances",
    "top_uncertain_then_diverse",
]

# Squared gradient-embedding distances below this fraction of the two squared
# norms are float32 round-off of the expanded form, i.e. duplicates: give them
# zero D^2 weight so an already chosen point is never drawn again.
_BADGE_RELATIVE_TOLERANCE = 1e-5


def k_center_greedy(
    embeddings: ArrayLike,
    k: int,
    already_selected: ArrayLike | None = None,
    seed: int = 0,
) -> NDArray[np.int64]:
    """Core-set selection by greedy k-center (farthest-point traversal).

    Each step picks the point farthest (Euclidean) from every center chosen
    so far, the labeled set included, which is the 2-approximation of the
    k-center problem used by Sener & Savarese (2018).

    Parameters
    ----------
    embeddings : array_like, shape [n, d]
        Feature vectors of the candidate pool.
    k : int
        Number of picks, ``0 <= k <= n``.
    already_selected : array_like, shape [m, d], optional
        Embeddings of points that already count as centers (the labeled set).
    seed : int
        Seeds the first pick when there is no labeled set (a uniform draw
        from ``numpy.random.default_rng(seed)``); unused otherwise.

    Returns
    -------
    NDArray[int64], shape [k]
        Positions into ``embeddings`` in pick order.

    Notes
    -----
    Time O(n k d) (one gemv over the pool per pick) plus O(n m d) once for the
    labeled set (faiss). Memory: the input plus a few [n] float32 vectors.
    Distances use ``|x|^2 + |c|^2 - 2 x.c`` in float32, clipped at 0; its
    round-off is relative to ``|x|^2`` and only matters between near-duplicates,
    never for the farthest point.

    References
    ----------
    Sener & Savarese (2018), *Active Learning for Convolutional Neural
    Networks: A Core-Set Approach*, ICLR; Gonzalez (1985).
    """
    return k_center_greedy_with_distances(embeddings, k, already_selected, seed)[0]


def k_center_greedy_with_distances(
    embeddings: ArrayLike,
    k: int,
    already_selected: ArrayLike | None = None,
    seed: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """:func:`k_center_greedy` that also returns each pick's distance at pick time.

    Returns
    -------
    indices : NDArray[int64], shape [k]
        Positions into ``embeddings`` in pick order.
    distances : NDArray[float32], shape [k]
        Euclidean distance from each pick to its nearest earlier center
        (non-increasing). ``inf`` for the first pick when there is no
        labeled set, since there is no center yet.
    """
    x = as_embeddings(embeddings, "embeddings")
    n = x.shape[0]
    check_pick_count(k, n)
    rng = np.random.default_rng(seed)
    picks = np.empty(k, dtype=np.int64)
    distances = np.empty(k, dtype=np.float32)
    if k == 0:
        return picks, distances

    min_d2 = np.full(n, np.inf, dtype=np.float32)
    has_centers = False
    if already_selected is not None:
        labeled = as_embeddings(already_selected, "already_selected")
        if labeled.shape[0]:
            if labeled.shape[1] != x.shape[1]:
                raise ValueError(
                    f"already_selected has dimension {labeled.shape[1]}, "
                    f"embeddings have {x.shape[1]}"
                )
            min_d2 = _nearest_squared_distance(x, labeled)
            has_centers = True

    sq_norms = np.einsum("ij,ij->i", x, x)
    d2 = np.empty(n, dtype=np.float32)
    for step in range(k):
        if step == 0 and not has_centers:
            i = int(rng.integers(n))
        else:
            i = int(np.argmax(min_d2))  # first maximum: ties go to the lowest position
        picks[step] = i
        distances[step] = np.sqrt(max(min_d2[i], np.float32(0.0)))
        min_d2[i] = -np.inf  # never picked twice, even when every distance is 0
        np.matmul(x, x[i], out=d2)
        d2 *= -2.0
        d2 += sq_norms
        d2 += sq_norms[i]
        np.maximum(d2, 0.0, out=d2)
        np.minimum(min_d2, d2, out=min_d2)
    return picks, distances


def badge(
    probs: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    seed: int = 0,
) -> NDArray[np.int64]:
    """BADGE: k-means++ seeding on hallucinated last-layer gradients.

    For sample i with probabilities ``p_i`` ([c]), hypothesised label
    ``y_i = argmax p_i`` and penultimate embedding ``e_i`` ([d]), the
    gradient of the cross-entropy loss w.r.t. the last linear layer is

    ``g_i = a_i (outer) e_i``  with  ``a_i = p_i - onehot(y_i)``,

    a [c*d] vector whose norm grows with uncertainty (``|a_i|``) and whose
    direction encodes what the sample looks like. BADGE picks the first
    point with the largest ``|g_i|`` and then draws each next point with
    probability proportional to its squared distance to the nearest pick
    (k-means++ / D^2 sampling), giving a batch that is uncertain and diverse.

    Parameters
    ----------
    probs : array_like, shape [n, c]
        Class probabilities.
    embeddings : array_like, shape [n, d]
        Penultimate-layer embeddings of the same samples.
    k : int
        Number of picks, ``0 <= k <= n``.
    seed : int
        Seeds the D^2 draws (``numpy.random.default_rng(seed)``).

    Returns
    -------
    NDArray[int64], shape [k]
        Positions into the pool in pick order.

    Notes
    -----
    The [n, c*d] gradient matrix is never built (100,000 x 10 x 128 float32
    would be 512 MB). Squared distances come from the outer-product identity

    ``|g_i - g_j|^2 = |a_i|^2 |e_i|^2 + |a_j|^2 |e_j|^2 - 2 (a_i.a_j)(e_i.e_j)``,

    i.e. one [n, c] and one [n, d] matrix-vector product per pick: time
    O(n k (c + d)), memory the inputs plus O(n c) for ``a``. If every
    remaining point has D^2 = 0 (duplicates of picks), the lowest remaining
    position is taken.

    References
    ----------
    Ash, Zhang, Krishnamurthy, Langford, Agarwal (2020), *Deep Batch Active
    Learning by Diverse, Uncertain Gradient Lower Bounds*, ICLR; Arthur &
    Vassilvitskii (2007), *k-means++*.
    """
    return badge_with_distances(probs, embeddings, k, seed)[0]


def badge_with_distances(
    probs: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    seed: int = 0,
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """:func:`badge` that also returns each pick's gradient distance at pick time.

    Returns
    -------
    indices : NDArray[int64], shape [k]
        Positions into the pool in pick order.
    distances : NDArray[float32], shape [k]
        Gradient-embedding distance of each pick to its nearest earlier pick;
        for the first pick, its gradient norm (its distance to the zero gradient).
    """
    e = as_embeddings(embeddings, "embeddings")
    p = as_embeddings(probs, "probs")
    n = e.shape[0]
    if p.shape[0] != n:
        raise ValueError(f"probs has {p.shape[0]} rows, embeddings have {n}")
    if p.size and (p.min() < 0.0 or p.max() > 1.0 + 1e-3):
        raise ValueError("probs must hold probabilities in [0, 1]")
    check_pick_count(k, n)
    picks = np.empty(k, dtype=np.int64)
    distances = np.empty(k, dtype=np.float32)
    if k == 0:
        return picks, distances

    a = p.copy()
    a[np.arange(n), p.argmax(axis=1)] -= 1.0
    a_sq = np.einsum("ij,ij->i", a, a)
    e_sq = np.einsum("ij,ij->i", e, e)
    g_sq = a_sq * e_sq  # |a (outer) e|^2 = |a|^2 |e|^2
    rng = np.random.default_rng(seed)
    selected = np.zeros(n, dtype=bool)
    min_d2 = np.full(n, np.inf, dtype=np.float32)
    d2 = np.empty(n, dtype=np.float32)
    i = int(np.argmax(g_sq))
    distances[0] = np.sqrt(g_sq[i])
    for step in range(k):
        if step > 0:
            i, distances[step] = _draw_d2(min_d2, selected, rng)
        picks[step] = i
        selected[i] = True
        np.multiply(a @ a[i], e @ e[i], out=d2)
        d2 *= -2.0
        d2 += g_sq
        d2 += g_sq[i]
        d2[d2 <= _BADGE_RELATIVE_TOLERANCE * (g_sq + g_sq[i])] = 0.0
        np.minimum(min_d2, d2, out=min_d2)
        min_d2[i] = 0.0
    return picks, distances


def top_uncertain_then_diverse(
    scores: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    m: int | None = None,
    method: Literal["kcenter", "kmeans"] = "kcenter",
    seed: int = 0,
    already_selected: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Take the ``m`` most uncertain samples, then a diverse ``k`` among them.

    Parameters
    ----------
    scores : array_like, shape [n]
        Uncertainty scores, higher = more informative (see ``sampling.uncertainty``).
    embeddings : array_like, shape [n, d]
        Embeddings of the same samples.
    k : int
        Batch size, ``0 <= k <= n``.
    m : int, optional
        Candidate pool size, ``k <= m``; default ``10 * k``; capped at ``n``.
    method : {"kcenter", "kmeans"}
        ``"kcenter"``: greedy k-center inside the candidates, in pick order.
        ``"kmeans"``: faiss k-means with k clusters on the candidates, then
        the most uncertain candidate of each cluster, most uncertain first;
        if a cluster comes out empty the batch is filled with the most
        uncertain candidates not yet picked.
    seed : int
        Seeds the k-center first pick or the k-means initialisation.
    already_selected : array_like, shape [m_labeled, d], optional
        Labeled embeddings that count as centers for ``"kcenter"``; ignored
        by ``"kmeans"``.

    Returns
    -------
    NDArray[int64], shape [k]
        Positions into the pool in queue order.

    Notes
    -----
    Candidates are the top ``m`` by score, ties to the lower position. Cost
    O(n) to select them plus O(m k d) for either method; memory O(m d).

    References
    ----------
    The "top-M then diversify" recipe of e.g. Citovsky et al. (2021),
    *Batch Active Learning at Scale* (margin + clustering), and
    Zhdanov (2019), *Diverse mini-batch Active Learning* (pre-filter, k-means,
    closest/most uncertain per cluster).
    """
    x = as_embeddings(embeddings, "embeddings")
    values = np.asarray(scores)
    n = x.shape[0]
    if values.shape != (n,):
        raise ValueError(f"scores must have shape [{n}] to match embeddings, got {values.shape}")
    check_pick_count(k, n)
    if method not in ("kcenter", "kmeans"):
        raise ValueError(f"method must be 'kcenter' or 'kmeans', got {method!r}")
    m = min(n, 10 * k) if m is None else min(m, n)
    if m < k:
        raise ValueError(f"candidate pool size m={m} must be at least k={k}")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    candidates = top_k_by_score(values, m)  # most uncertain first
    if method == "kcenter":
        picked = k_center_greedy(x[candidates], k, already_selected, seed)
        return candidates[picked]
    return candidates[_most_uncertain_per_cluster(x[candidates], k, seed)]


# --------------------------------------------------------------------------- helpers


def _most_uncertain_per_cluster(x: NDArray[np.float32], k: int, seed: int) -> NDArray[np.int64]:
    """Rows of ``x`` (sorted by uncertainty, descending) picked one per k-means cluster."""
    options: dict[str, object] = {}
    kmeans_plus_plus = getattr(faiss, "ClusteringInitMethod_KMEANS_PLUS_PLUS", None)
    if kmeans_plus_plus is not None:
        # Random init (faiss's default, the only one in older releases) often
        # puts two centroids in one big cluster and merges two small ones.
        options["init_method"] = kmeans_plus_plus
    kmeans = faiss.Kmeans(
        x.shape[1],
        k,
        niter=20,
        seed=seed,
        verbose=False,
        # The candidate pool is small on purpose: no subsampling, no warning.
        min_points_per_centroid=1,
        max_points_per_centroid=x.shape[0],
        **options,
    )
    kmeans.train(x)
    _, assignment = kmeans.index.search(x, 1)
    # Rows are in uncertainty order, so a cluster's first row is its most uncertain one.
    _, first_rows = np.unique(assignment[:, 0], return_index=True)
    first_rows.sort()
    if first_rows.size < k:  # an empty cluster: top up with the next most uncertain rows
        rest = np.setdiff1d(np.arange(x.shape[0]), first_rows)[: k - first_rows.size]
        first_rows = np.concatenate([first_rows, rest])
    return first_rows.astype(np.int64)


def _draw_d2(
    min_d2: NDArray[np.float32], selected: NDArray[np.bool_], rng: np.random.Generator
) -> tuple[int, np.float32]:
    """One k-means++ draw: position with probability proportional to ``min_d2``."""
    cumulative = np.cumsum(min_d2, dtype=np.float64)
    total = cumulative[-1]
    if total > 0.0:
        # searchsorted(side="right") lands on an interval of positive width,
        # so a zero-weight (already chosen) point cannot be drawn.
        i = int(np.searchsorted(cumulative, rng.random() * total, side="right"))
        if i == min_d2.shape[0]:  # the draw rounded up to total: take the last weighted point
            i = int(np.flatnonzero(min_d2 > 0.0)[-1])
        return i, np.sqrt(min_d2[i])
    i = int(np.argmin(selected))  # all weight is zero: lowest position not yet picked
    return i, np.float32(0.0)


def _nearest_squared_distance(
    x: NDArray[np.float32], centers: NDArray[np.float32]
) -> NDArray[np.float32]:
    """[n] squared L2 distance from each row of ``x`` to its nearest row of ``centers``."""
    index = faiss.IndexFlatL2(centers.shape[1])
    index.add(centers)
    d2, _ = index.search(x, 1)
    return np.maximum(d2[:, 0], 0.0)
