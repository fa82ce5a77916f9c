"""Targeted learning: rank an unlabeled pool by similarity to a failure set.

A pool item's score is its best match over the failure set (the most similar
failure), so a candidate that closely resembles one known failure ranks above
one that vaguely resembles many. All nearest-neighbour work goes through
faiss: the failure set is indexed and the pool is the query side, in blocks.

Scores are similarities in ``[0, 1]``, higher meaning more similar:

- hash: ``1 - hamming / 64``;
- embedding: ``(1 + cosine) / 2``;
- both: the mean of those two for the same (candidate, failure) pair,
  maximised over the failures (see :func:`mine_combined`).

Equal scores are ordered by pool index, so a ranking is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray

from sampling.hashing import HASH_BITS, hamming_distance
from sampling.similarity import HammingIndex, as_codes, as_unit_vectors

# Pool rows per faiss query: bounds the normalised float32 copy of the pool
# that embedding search makes (65,536 x 512-d is 128 MiB).
_POOL_BLOCK = 65_536


@dataclass(frozen=True)
class MiningResult:
    """Top pool candidates, most similar first.

    Attributes
    ----------
    indices : NDArray[np.int64]
        ``[k]`` rows of the pool.
    scores : NDArray[np.float32]
        ``[k]`` similarity in ``[0, 1]``, non-increasing.
    nearest_failure : NDArray[np.int64]
        ``[k]`` row of the failure set that gave each score.
    hamming : NDArray[np.int32] or None
        ``[k]`` Hamming distance to that failure, when hashes were used.
    cosine : NDArray[np.float32] or None
        ``[k]`` cosine similarity to that failure, when embeddings were used.
    """

    indices: NDArray[np.int64]
    scores: NDArray[np.float32]
    nearest_failure: NDArray[np.int64]
    hamming: NDArray[np.int32] | None = None
    cosine: NDArray[np.float32] | None = None

    def __len__(self) -> int:
        return len(self.indices)


def hash_similarity(hamming: ArrayLike) -> NDArray[np.float32]:
    """``1 - hamming / 64``: 1 for identical codes, 0 for complementary ones."""
    return (1.0 - np.asarray(hamming, dtype=np.float64) / HASH_BITS).astype(np.float32)


def cosine_similarity01(cosine: ArrayLike) -> NDArray[np.float32]:
    """``(1 + cosine) / 2``: cosine mapped from ``[-1, 1]`` to ``[0, 1]``."""
    return ((1.0 + np.asarray(cosine, dtype=np.float64)) / 2.0).astype(np.float32)


def _check_top(top: int) -> None:
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")


def _rank(
    scores: NDArray[np.float32], eligible: NDArray[np.bool_] | None, top: int
) -> NDArray[np.int64]:
    """Pool rows of the ``top`` best scores; ties keep ascending pool order."""
    candidates = np.arange(len(scores), dtype=np.int64)
    if eligible is not None:
        candidates = candidates[eligible]
    # A stable sort on the negated score keeps equal scores in index order.
    order = np.argsort(-scores[candidates], kind="stable")
    return candidates[order[:top]]


def _empty_result(with_hamming: bool, with_cosine: bool) -> MiningResult:
    return MiningResult(
        indices=np.zeros(0, np.int64),
        scores=np.zeros(0, np.float32),
        nearest_failure=np.zeros(0, np.int64),
        hamming=np.zeros(0, np.int32) if with_hamming else None,
        cosine=np.zeros(0, np.float32) if with_cosine else None,
    )


def mine_by_hash(
    pool_codes: ArrayLike,
    failure_codes: ArrayLike,
    top: int,
    max_hamming: int | None = None,
) -> MiningResult:
    """Pool items whose perceptual hash is nearest to some failure's.

    Parameters
    ----------
    pool_codes : array_like of uint8
        ``[n, 8]`` codes of the unlabeled pool.
    failure_codes : array_like of uint8
        ``[f, 8]`` codes of the failure set.
    top : int
        Most candidates returned.
    max_hamming : int, optional
        Drop candidates whose nearest failure is further than this.

    Returns
    -------
    MiningResult
        ``scores = 1 - hamming / 64``; ``hamming`` set, ``cosine`` None. When
        several failures are equally near, ``nearest_failure`` is the lowest
        failure row.
    """
    _check_top(top)
    pool = as_codes(pool_codes)
    failures = as_codes(failure_codes)
    if len(pool) == 0 or len(failures) == 0 or top == 0:
        return _empty_result(with_hamming=True, with_cosine=False)
    # k=1 over a flat binary index: faiss replaces its best only on a strictly
    # smaller distance, so equal distances keep the first (lowest) failure.
    distances, nearest = HammingIndex(failures).search(pool, 1)
    hamming, nearest = distances[:, 0], nearest[:, 0]
    eligible = None if max_hamming is None else hamming <= max_hamming
    chosen = _rank(hash_similarity(hamming), eligible, top)
    return MiningResult(
        indices=chosen,
        scores=hash_similarity(hamming[chosen]),
        nearest_failure=nearest[chosen],
        hamming=hamming[chosen],
    )


def _nearest_by_inner_product(
    n_pool: int,
    failures: NDArray[np.float32],
    queries_for: Callable[[slice], NDArray[np.float32]],
) -> NDArray[np.int64]:
    """Failure row with the largest inner product for each of ``n_pool`` rows.

    Exact (``IndexFlatIP``); ``queries_for(block)`` builds the float32 query
    vectors of a slice of pool rows, so the pool is never copied whole.
    """
    index = faiss.IndexFlatIP(failures.shape[1])
    index.add(failures)
    nearest = np.empty(n_pool, np.int64)
    for start in range(0, n_pool, _POOL_BLOCK):
        block = slice(start, min(start + _POOL_BLOCK, n_pool))
        _, rows = index.search(queries_for(block), 1)
        nearest[block] = rows[:, 0]
    return nearest


def _pair_cosine(
    pool_emb: NDArray[np.floating], failures: NDArray[np.float32], nearest: NDArray[np.int64]
) -> NDArray[np.float32]:
    """``[n]`` cosine of each pool row with its chosen failure, in float64."""
    cosine = np.empty(len(pool_emb), np.float32)
    for start in range(0, len(pool_emb), _POOL_BLOCK):
        block = slice(start, start + _POOL_BLOCK)
        unit = as_unit_vectors(pool_emb[block], failures.shape[1]).astype(np.float64)
        cosine[block] = np.einsum("ij,ij->i", unit, failures[nearest[block]].astype(np.float64))
    return cosine


def mine_by_embedding(pool_emb: ArrayLike, failure_emb: ArrayLike, top: int) -> MiningResult:
    """Pool items whose embedding is most cosine-similar to some failure's.

    Parameters
    ----------
    pool_emb : array_like of float
        ``[n, d]`` embeddings of the unlabeled pool (any scale).
    failure_emb : array_like of float
        ``[f, d]`` embeddings of the failure set.
    top : int
        Most candidates returned.

    Returns
    -------
    MiningResult
        ``scores = (1 + cosine) / 2``; ``cosine`` set, ``hamming`` None.
    """
    _check_top(top)
    failures = as_unit_vectors(failure_emb)
    pool = np.asarray(pool_emb)
    if pool.ndim != 2 or pool.shape[1] != failures.shape[1]:
        raise ValueError(f"pool_emb must be [n, {failures.shape[1]}], got {pool.shape}")
    if len(pool) == 0 or len(failures) == 0 or top == 0:
        return _empty_result(with_hamming=False, with_cosine=True)
    dim = failures.shape[1]
    nearest = _nearest_by_inner_product(
        len(pool), failures, lambda block: as_unit_vectors(pool[block], dim)
    )
    cosine = _pair_cosine(pool, failures, nearest)
    chosen = _rank(cosine_similarity01(cosine), None, top)
    return MiningResult(
        indices=chosen,
        scores=cosine_similarity01(cosine[chosen]),
        nearest_failure=nearest[chosen],
        cosine=cosine[chosen],
    )


def _joint_vectors(codes: NDArray[np.uint8], emb: ArrayLike, dim: int) -> NDArray[np.float32]:
    """``[bits as +-1/8, unit embedding]``: inner products of these vectors are
    ``(1 - 2 * hamming / 64) + cosine``, i.e. ``4 * combined_score - 2``."""
    signs = np.unpackbits(codes, axis=1).astype(np.float32) * 2.0 - 1.0
    return np.hstack([signs / np.sqrt(HASH_BITS), as_unit_vectors(emb, dim)])


def mine_combined(
    pool_codes: ArrayLike,
    pool_emb: ArrayLike,
    failure_codes: ArrayLike,
    failure_emb: ArrayLike,
    top: int,
    max_hamming: int | None = None,
) -> MiningResult:
    """Pool items most similar to some failure by hash and embedding together.

    For a (candidate, failure) pair the combined score is the mean of the two
    normalised similarities, ``((1 - hamming / 64) + (1 + cosine) / 2) / 2``,
    and a candidate's score is its best pair over the failure set. Both
    measures come from the same failure, so ``nearest_failure`` names one
    failure that explains the score (taking each measure's best separately
    could mix two failures).

    The best pair is found exactly with one faiss inner-product search: the
    64 hash bits as ``+-1/8`` followed by the unit embedding give vectors whose
    inner product is ``4 * score - 2``. Hamming and cosine are then recomputed
    for the chosen pair, so reported values do not carry float rounding.

    Parameters
    ----------
    pool_codes : array_like of uint8
        ``[n, 8]`` pool codes.
    pool_emb : array_like of float
        ``[n, d]`` pool embeddings, same row order as ``pool_codes``.
    failure_codes : array_like of uint8
        ``[f, 8]`` failure codes.
    failure_emb : array_like of float
        ``[f, d]`` failure embeddings, same row order as ``failure_codes``.
    top : int
        Most candidates returned.
    max_hamming : int, optional
        Drop candidates whose best pair is further than this in Hamming distance.

    Returns
    -------
    MiningResult
        ``hamming`` and ``cosine`` both set, for the pair that gave the score.
    """
    _check_top(top)
    p_codes, f_codes = as_codes(pool_codes), as_codes(failure_codes)
    f_unit = as_unit_vectors(failure_emb)
    dim = f_unit.shape[1]
    p_emb = np.asarray(pool_emb)
    if len(p_emb) != len(p_codes) or len(f_unit) != len(f_codes):
        raise ValueError("codes and embeddings must have the same number of rows")
    if len(p_codes) == 0 or len(f_codes) == 0 or top == 0:
        return _empty_result(with_hamming=True, with_cosine=True)
    failures = _joint_vectors(f_codes, f_unit, dim)
    nearest = _nearest_by_inner_product(
        len(p_codes), failures, lambda block: _joint_vectors(p_codes[block], p_emb[block], dim)
    )
    # Recomputed for the chosen pair so reported values carry no search rounding.
    hamming = hamming_distance(p_codes, f_codes[nearest])
    cosine = _pair_cosine(p_emb, f_unit, nearest)
    scores = ((hash_similarity(hamming) + cosine_similarity01(cosine)) / 2).astype(np.float32)
    eligible = None if max_hamming is None else hamming <= max_hamming
    chosen = _rank(scores, eligible, top)
    return MiningResult(
        indices=chosen,
        scores=scores[chosen],
        nearest_failure=nearest[chosen],
        hamming=hamming[chosen],
        cosine=cosine[chosen],
    )
