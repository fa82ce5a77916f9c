"""Benchmarks: faiss Hamming kNN vs numpy brute force; exact vs HNSW cosine kNN.

Run with ``pytest tests/bench -s``. Prints figures measured in this process;
asserts on correctness (same distances, recall), never on time.

Sizes (environment variables):

- LABELLOOP_BENCH_HAMMING_N: indexed codes (default 1,000,000);
  LABELLOOP_BENCH_HAMMING_BRUTE_Q: queries given to the numpy brute force
  (default 100 of the 1,000; its time is scaled up to all queries).
- LABELLOOP_BENCH_EMB_N: indexed 128-d vectors (default 1,000,000; building
  the HNSW graph at that size takes a few minutes on 2 cores).
"""

from __future__ import annotations

import os
import sys
import time

import faiss
import numpy as np
import pytest

from sampling.similarity import EmbeddingIndex, HammingIndex

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

HAMMING_N = int(os.environ.get("LABELLOOP_BENCH_HAMMING_N", "1000000"))
HAMMING_BRUTE_Q = int(os.environ.get("LABELLOOP_BENCH_HAMMING_BRUTE_Q", "100"))
EMB_N = int(os.environ.get("LABELLOOP_BENCH_EMB_N", "1000000"))
N_QUERIES = 1000

_POPCOUNT_U8 = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1)


def _popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits of uint64 values: numpy's own popcount where it has one (>= 2.0)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return _POPCOUNT_U8[x.view(np.uint8)].reshape(*x.shape, 8).sum(-1)


def _as_u64(codes: np.ndarray) -> np.ndarray:
    return codes.view(">u8")[:, 0].astype(np.uint64)


def _numpy_knn_hamming(
    queries: np.ndarray, codes: np.ndarray, k: int, block: int = 16_384
) -> tuple[np.ndarray, np.ndarray]:
    """``[m, k]`` distances and indices: blocked xor + popcount + argpartition."""
    q, db = _as_u64(queries), _as_u64(codes)
    dist_parts, index_parts = [], []
    for start in range(0, len(db), block):
        dist = _popcount64(q[:, None] ^ db[None, start : start + block]).astype(np.uint8)
        keep = np.argpartition(dist, k - 1, axis=1)[:, :k]
        dist_parts.append(np.take_along_axis(dist, keep, 1))
        index_parts.append(keep + start)
    dist, index = np.concatenate(dist_parts, 1), np.concatenate(index_parts, 1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, 1), np.take_along_axis(index, order, 1)


def _numpy_xor_popcount_only(queries: np.ndarray, codes: np.ndarray, block: int = 16_384) -> None:
    """The distance computation alone: a floor for any numpy brute force."""
    q, db = _as_u64(queries), _as_u64(codes)
    for start in range(0, len(db), block):
        _popcount64(q[:, None] ^ db[None, start : start + block])


def test_bench_hamming_top10_faiss_vs_numpy() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (HAMMING_N, 8), dtype=np.uint8)
    queries = rng.integers(0, 256, (N_QUERIES, 8), dtype=np.uint8)
    k = 10

    start = time.perf_counter()
    index = HammingIndex(codes)
    t_build = time.perf_counter() - start
    start = time.perf_counter()
    distances, _ = index.search(queries, k)
    t_faiss = time.perf_counter() - start
    # On a busy 2-core machine OpenMP's threads wait on each other; one thread
    # shows what the scan itself costs.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        start = time.perf_counter()
        index.search(queries, k)
        t_faiss_1 = time.perf_counter() - start
    finally:
        faiss.omp_set_num_threads(threads)

    n_brute = min(HAMMING_BRUTE_Q, N_QUERIES)
    scale = N_QUERIES / n_brute
    start = time.perf_counter()
    brute, _ = _numpy_knn_hamming(queries[:n_brute], codes, k)
    t_brute = (time.perf_counter() - start) * scale
    start = time.perf_counter()
    _numpy_xor_popcount_only(queries[:n_brute], codes)
    t_floor = (time.perf_counter() - start) * scale
    assert np.array_equal(distances[:n_brute], brute)

    pairs = N_QUERIES * HAMMING_N
    print(f"\n[bench] Hamming top-{k}: {N_QUERIES} queries over {HAMMING_N:,} random 64-bit codes")
    print(
        f"  faiss IndexBinaryFlat      add {t_build:5.2f} s  search {t_faiss:6.2f} s"
        f"  ({1e9 * t_faiss / pairs:.2f} ns/pair, {threads} OpenMP threads)"
    )
    print(
        f"  faiss, 1 OpenMP thread               search {t_faiss_1:6.2f} s"
        f"  ({1e9 * t_faiss_1 / pairs:.2f} ns/pair)"
    )
    print(
        f"  numpy xor+popcount+argpartition  search {t_brute:6.2f} s"
        f"  (ran {n_brute} queries, time scaled x{scale:g})"
    )
    print(
        f"  ratio numpy / faiss        {t_brute / t_faiss:6.1f}x"
        f"  ({t_brute / t_faiss_1:.1f}x against 1 thread; distances identical)"
    )
    print(
        f"  numpy xor+popcount alone, no top-k: {t_floor:6.2f} s"
        f" = {t_floor / t_faiss_1:.2f}x faiss's whole 1-thread search"
    )


def _clustered(rng: np.random.Generator, n: int, dim: int = 128) -> np.ndarray:
    """Unit vectors from 1,000 clusters, each spread over its own 16-d subspace
    plus small noise in all 128 dimensions: a low intrinsic dimension, as
    learned embeddings have. The generator is seeded, so index and query
    calls with one ``rng`` state draw the same clusters.
    """
    n_clusters, rank = 1000, 16
    layout = np.random.default_rng(12345)  # same clusters for every call
    centers = layout.standard_normal((n_clusters, dim), dtype=np.float32)
    bases = layout.standard_normal((n_clusters, rank, dim), dtype=np.float32) / np.sqrt(rank)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):  # blocks keep the temporaries small
        m = min(100_000, n - start)
        cluster = rng.integers(0, n_clusters, m)
        spread = rng.standard_normal((m, 1, rank), dtype=np.float32) @ bases[cluster]
        noise = 0.3 * rng.standard_normal((m, dim), dtype=np.float32)
        out[start : start + m] = centers[cluster] + spread[:, 0, :] + noise
    faiss.normalize_L2(out)
    return out


def test_bench_embedding_exact_vs_hnsw() -> None:
    rng = np.random.default_rng(1)
    k = 100
    vectors = _clustered(rng, EMB_N)
    queries = _clustered(rng, N_QUERIES)  # held out: not in the index

    start = time.perf_counter()
    exact = EmbeddingIndex(vectors, hnsw_threshold=EMB_N)
    t_exact_build = time.perf_counter() - start
    start = time.perf_counter()
    hnsw = EmbeddingIndex(vectors, hnsw_threshold=0)
    t_hnsw_build = time.perf_counter() - start
    del vectors  # each index holds its own copy
    assert hnsw.is_hnsw and not exact.is_hnsw

    start = time.perf_counter()
    _, truth = exact.search(queries, k)
    t_exact = time.perf_counter() - start
    default_ef = hnsw.ef_search
    print(f"\n[bench] cosine top-{k}: {N_QUERIES} held-out queries over {EMB_N:,} x 128-d")
    print(
        f"  build: IndexFlatIP {t_exact_build:5.1f} s; IndexHNSWFlat (defaults) {t_hnsw_build:6.1f} s"
        f" on {faiss.omp_get_max_threads()} threads"
    )
    print(f"  exact IndexFlatIP search        {t_exact:6.2f} s")
    recall_at_default = 0.0
    for ef in sorted({128, 256, 512, default_ef or 256}):
        hnsw.ef_search = ef
        start = time.perf_counter()
        _, found = hnsw.search(queries, k)
        t_hnsw = time.perf_counter() - start
        recall = float(
            np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(found, truth, strict=True)])
        )
        if ef == default_ef:
            recall_at_default = recall
        mark = "(default)" if ef == default_ef else ""
        print(
            f"  HNSW efSearch={ef:<4d} {mark:9s} search {t_hnsw:6.2f} s"
            f"  speed-up {t_exact / t_hnsw:5.1f}x  recall@{k} {recall:.4f}"
        )
    assert recall_at_default >= 0.95
