"""Mining known answers: hand-made arrays whose correct ranking is obvious."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.hashing import hash_images
from sampling.mining import (
    MiningResult,
    cosine_similarity01,
    hash_similarity,
    mine_by_embedding,
    mine_by_hash,
    mine_combined,
)
from tests.sampling.test_similarity import planted_duplicates


def _code(*set_bits: int) -> np.ndarray:
    bits = np.zeros(64, np.uint8)
    bits[list(set_bits)] = 1
    return np.packbits(bits)


ZERO = _code()
ONES = np.full(8, 0xFF, np.uint8)


def test_mine_by_hash_known_answer() -> None:
    failures = np.array([ZERO, ONES])
    pool = np.array(
        [
            _code(*range(32)),  # 0: 32 from both
            _code(1, 2, 3),  # 1: 3 from failure 0
            np.bitwise_xor(ONES, _code(5)),  # 2: 1 from failure 1
            _code(9),  # 3: 1 from failure 0 (ties with 2 -> pool order)
            ZERO,  # 4: 0 from failure 0
        ]
    )
    result = mine_by_hash(pool, failures, top=10)
    assert isinstance(result, MiningResult) and len(result) == 5
    assert result.indices.tolist() == [4, 2, 3, 1, 0]
    assert result.hamming.tolist() == [0, 1, 1, 3, 32]
    assert result.nearest_failure.tolist() == [0, 1, 0, 0, 0]
    np.testing.assert_array_equal(
        result.scores, np.array([1, 63 / 64, 63 / 64, 61 / 64, 0.5], np.float32)
    )
    assert result.cosine is None
    assert result.indices.dtype == np.int64 and result.scores.dtype == np.float32
    assert result.hamming.dtype == np.int32 and result.nearest_failure.dtype == np.int64


def test_mine_by_hash_top_and_max_hamming() -> None:
    failures = np.array([ZERO])
    pool = np.array([_code(*range(k)) for k in (5, 0, 3, 9, 3)])  # distances 5 0 3 9 3
    assert mine_by_hash(pool, failures, top=2).indices.tolist() == [1, 2]
    assert mine_by_hash(pool, failures, top=10, max_hamming=3).indices.tolist() == [1, 2, 4]
    assert mine_by_hash(pool, failures, top=10, max_hamming=-1).indices.tolist() == []
    empty = mine_by_hash(pool, failures, top=0)
    assert len(empty) == 0 and empty.hamming is not None and empty.hamming.shape == (0,)
    with pytest.raises(ValueError, match="top"):
        mine_by_hash(pool, failures, top=-1)


def test_mine_by_hash_equal_failures_report_lowest_failure_row() -> None:
    # Failures 1 and 3 are the same code; a candidate matching it must name row 1.
    failures = np.array([ONES, _code(7), ONES, _code(7)])
    pool = np.array([_code(7, 8)] * 3)
    result = mine_by_hash(pool, failures, top=3)
    assert result.nearest_failure.tolist() == [1, 1, 1]
    assert result.indices.tolist() == [0, 1, 2]  # all tied: pool order


def test_mine_by_hash_empty_inputs() -> None:
    assert len(mine_by_hash(np.zeros((0, 8), np.uint8), np.array([ZERO]), top=5)) == 0
    assert len(mine_by_hash(np.array([ZERO]), np.zeros((0, 8), np.uint8), top=5)) == 0


def test_mine_by_hash_matches_brute_force_on_random_codes() -> None:
    rng = np.random.default_rng(0)
    pool = rng.integers(0, 256, (5000, 8), dtype=np.uint8)
    failures = rng.integers(0, 256, (37, 8), dtype=np.uint8)
    result = mine_by_hash(pool, failures, top=100)
    bits_p = np.unpackbits(pool, axis=1).astype(np.int32)
    bits_f = np.unpackbits(failures, axis=1).astype(np.int32)
    dist = bits_p.sum(1)[:, None] + bits_f.sum(1)[None] - 2 * bits_p @ bits_f.T
    best, nearest = dist.min(1), dist.argmin(1)  # argmin: lowest failure row on ties
    order = np.lexsort((np.arange(len(pool)), best))[:100]
    assert result.indices.tolist() == order.tolist()
    assert result.hamming.tolist() == best[order].tolist()
    assert result.nearest_failure.tolist() == nearest[order].tolist()


def test_mine_by_hash_ranks_planted_near_duplicates_first() -> None:
    images, planted = planted_duplicates()
    codes = hash_images(images, "phash")
    # Failure set: two of the originals that have copies; the pool is everything else.
    failure_rows = [planted[0][0], planted[3][0]]
    pool_rows = [i for i in range(len(images)) if i not in failure_rows]
    copies = {pool_rows.index(i) for i in planted[0][1:] + planted[3][1:]}
    result = mine_by_hash(codes[pool_rows], codes[failure_rows], top=len(copies))
    assert set(result.indices.tolist()) == copies
    assert result.hamming.max() <= 10
    for index, failure in zip(result.indices, result.nearest_failure, strict=True):
        owner = 0 if pool_rows[index] in planted[0] else 1
        assert failure == owner
    # The next candidate (an unrelated image) is clearly further away.
    everything = mine_by_hash(codes[pool_rows], codes[failure_rows], top=len(pool_rows))
    assert everything.hamming[len(copies)] > result.hamming.max() + 4


def test_mine_by_embedding_known_answer() -> None:
    failures = np.array([[1.0, 0.0], [0.0, 1.0]])
    pool = np.array(
        [
            [-1.0, 0.0],  # 0: cos 0 to both
            [3.0, 0.0],  # 1: cos 1 to failure 0 (scale ignored)
            [0.0, 0.5],  # 2: cos 1 to failure 1
            [1.0, 1.0],  # 3: cos 0.7071 to both -> failure 0 or 1, score tie-free
            [-1.0, -1.0],  # 4: cos -0.7071
        ]
    )
    result = mine_by_embedding(pool, failures, top=4)
    assert result.indices.tolist() == [1, 2, 3, 0]
    np.testing.assert_allclose(result.cosine, [1, 1, np.sqrt(0.5), 0], atol=1e-6)
    np.testing.assert_allclose(result.scores, (1 + result.cosine) / 2, atol=1e-7)
    assert result.nearest_failure.tolist()[:2] == [0, 1]
    assert result.hamming is None and result.cosine.dtype == np.float32


def test_mine_by_embedding_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(3000, 24))
    failures = rng.normal(size=(20, 24))
    result = mine_by_embedding(pool, failures, top=50)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    cos = unit(pool) @ unit(failures).T
    best = cos.max(1)
    order = np.argsort(-best, kind="stable")[:50]
    assert result.indices.tolist() == order.tolist()
    assert result.nearest_failure.tolist() == cos.argmax(1)[order].tolist()
    np.testing.assert_allclose(result.cosine, best[order], atol=1e-6)
    with pytest.raises(ValueError, match=r"\[n, 24\]"):
        mine_by_embedding(pool[:, :5], failures, top=1)


def test_similarity_scales() -> None:
    assert hash_similarity([0, 16, 64]).tolist() == [1.0, 0.75, 0.0]
    assert cosine_similarity01([-1, 0, 1]).tolist() == [0.0, 0.5, 1.0]


def test_mine_combined_takes_best_joint_pair() -> None:
    # Failure 0 matches candidate 0 by hash only, failure 1 by embedding only,
    # failure 2 is fairly close on both: the mean prefers failure 2.
    failure_codes = np.array([ZERO, ONES, _code(*range(8))])
    failure_emb = np.array([[0.0, 1.0], [1.0, 0.0], [0.8, 0.6]])
    pool_codes = np.array([ZERO, ONES])
    pool_emb = np.array([[1.0, 0.0], [1.0, 0.0]])
    result = mine_combined(pool_codes, pool_emb, failure_codes, failure_emb, top=2)
    # candidate 0: f0 -> (1 + 0.5)/2 = 0.75; f1 -> (0 + 1)/2 = 0.5; f2 -> (56/64 + 0.9)/2 = 0.8875
    # candidate 1: f1 -> (1 + 1)/2 = 1.0
    assert result.indices.tolist() == [1, 0]
    assert result.nearest_failure.tolist() == [1, 2]
    assert result.hamming.tolist() == [0, 8]
    np.testing.assert_allclose(result.cosine, [1.0, 0.8], atol=1e-6)
    np.testing.assert_allclose(result.scores, [1.0, 0.8875], atol=1e-6)
    filtered = mine_combined(pool_codes, pool_emb, failure_codes, failure_emb, top=2, max_hamming=4)
    assert filtered.indices.tolist() == [1]


def test_mine_combined_matches_brute_force() -> None:
    rng = np.random.default_rng(2)
    n, f, d = 2000, 15, 16
    pool_codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
    failure_codes = rng.integers(0, 256, (f, 8), dtype=np.uint8)
    pool_emb, failure_emb = rng.normal(size=(n, d)), rng.normal(size=(f, d))
    result = mine_combined(pool_codes, pool_emb, failure_codes, failure_emb, top=40)
    bits_p = np.unpackbits(pool_codes, axis=1).astype(np.int32)
    bits_f = np.unpackbits(failure_codes, axis=1).astype(np.int32)
    ham = bits_p.sum(1)[:, None] + bits_f.sum(1)[None] - 2 * bits_p @ bits_f.T
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    cos = unit(pool_emb) @ unit(failure_emb).T
    score = ((1 - ham / 64) + (1 + cos) / 2) / 2
    best = score.max(1)
    order = np.argsort(-best, kind="stable")[:40]
    assert result.indices.tolist() == order.tolist()
    assert result.nearest_failure.tolist() == score.argmax(1)[order].tolist()
    np.testing.assert_allclose(result.scores, best[order], atol=1e-6)
    with pytest.raises(ValueError, match="same number of rows"):
        mine_combined(pool_codes[:5], pool_emb, failure_codes, failure_emb, top=1)
