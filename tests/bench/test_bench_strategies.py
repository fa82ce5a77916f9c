"""Ranking speed and memory on pool-sized arrays (``make bench``; prints, never times out).

Figures are printed as ratios against a baseline run in the same process,
because these machines are shared and absolute times drift:

* score strategies on 10^6 samples vs ``np.argsort`` of 10^6 random float32;
* greedy k-center (1,000 of 100,000 x 128) vs the 1,000 matrix-vector
  products over the pool that any exact greedy k-center must do.

Peak memory is measured with ``tracemalloc`` (numpy reports its buffers to
it; BLAS and faiss scratch space is not included) and compared with the size
of the inputs and of the n x n matrix that must never be built. The only
assertions are about memory and about the results, never about time.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest

from sampling.diversity import badge, k_center_greedy
from sampling.strategies import PoolArrays, rank

N_POOL = 1_000_000
N_CLASSES = 10
N_PASSES = 10
N_EMBED = 100_000
DIM = 128
K_PICKS = 1_000
MIB = 1 << 20


def _best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _peak_bytes(fn: Callable[[], object]) -> int:
    """Peak traced allocation while ``fn`` runs, its inputs excluded."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _normalised(rng: np.random.Generator, shape: tuple[int, ...], axis: int) -> np.ndarray:
    # rng.dirichlet on 10^8 values takes a minute; uniform-then-normalise is
    # a good enough stand-in for timing.
    x = rng.random(shape, dtype=np.float32)
    x /= x.sum(axis=axis, keepdims=True)
    return x


@pytest.fixture(scope="module")
def big_pool() -> PoolArrays:
    rng = np.random.default_rng(0)
    return PoolArrays(
        ids=np.arange(N_POOL, dtype=np.int64),
        probs=_normalised(rng, (N_POOL, N_CLASSES), axis=1),
        mc_probs=_normalised(rng, (N_POOL, N_CLASSES, N_PASSES), axis=1),
    )


def test_bench_score_ranking_one_million(big_pool: PoolArrays) -> None:
    rng = np.random.default_rng(1)
    random_keys = rng.random(N_POOL, dtype=np.float32)
    baseline = _best_time(lambda: np.argsort(random_keys))
    print(
        f"\n[bench] score ranking, n={N_POOL:,} c={N_CLASSES} T={N_PASSES}; "
        f"baseline np.argsort(float32[n]) = {baseline * 1e3:.1f} ms"
    )
    print(f"[bench] {'strategy':<18}{'k':>9}{'seconds':>10}{'x argsort':>11}{'peak MiB':>10}")
    for name, array in [("margin", "probs"), ("entropy", "probs"), ("bald", "mc_probs")]:
        input_mib = getattr(big_pool, array).nbytes / MIB
        for k in (None, 1_000):
            seconds = _best_time(lambda name=name, k=k: rank(name, big_pool, k=k))
            peak = _peak_bytes(lambda name=name, k=k: rank(name, big_pool, k=k))
            print(
                f"[bench] {name:<18}{k or N_POOL:>9,}{seconds:>10.3f}"
                f"{seconds / baseline:>11.1f}{peak / MIB:>10.1f}"
                f"   (input {input_mib:.0f} MiB)"
            )
            # Chunking must keep temporaries far below the input size.
            assert peak < 0.25 * getattr(big_pool, array).nbytes + 64 * MIB
    ranking = rank("bald", big_pool, k=1_000)
    assert ranking.indices.shape == (1_000,) and np.all(np.diff(ranking.scores) <= 0)


def test_bench_k_center_greedy_100k_by_128() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N_EMBED, DIM), dtype=np.float32)
    out = np.empty(N_EMBED, dtype=np.float32)
    gemv_rows = rng.integers(0, N_EMBED, K_PICKS)

    def baseline_gemvs() -> None:
        for i in gemv_rows:
            np.matmul(x, x[i], out=out)

    baseline = _best_time(baseline_gemvs, repeats=2)
    seconds = _best_time(lambda: k_center_greedy(x, K_PICKS, seed=0), repeats=2)
    peak = _peak_bytes(lambda: k_center_greedy(x, K_PICKS, seed=0))
    n_by_n = N_EMBED * N_EMBED * 4
    print(
        f"\n[bench] k-center greedy {K_PICKS:,} of {N_EMBED:,} x {DIM}: {seconds:.2f} s "
        f"= {seconds / baseline:.2f} x {K_PICKS:,} gemv over the pool ({baseline:.2f} s); "
        f"peak {peak / MIB:.1f} MiB (input {x.nbytes / MIB:.0f} MiB, "
        f"an n x n float32 matrix would be {n_by_n / MIB:,.0f} MiB)"
    )
    assert peak < 0.01 * n_by_n  # nothing anywhere near n x n

    labeled = rng.standard_normal((5_000, DIM), dtype=np.float32)
    seconds = _best_time(lambda: k_center_greedy(x, K_PICKS, labeled), repeats=1)
    print(f"[bench] same with a 5,000-point labeled set (faiss init): {seconds:.2f} s")

    picks = k_center_greedy(x, K_PICKS, seed=0)
    assert np.unique(picks).size == K_PICKS


def test_bench_badge_100k() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N_EMBED, DIM), dtype=np.float32)
    probs = _normalised(rng, (N_EMBED, N_CLASSES), axis=1)
    seconds = _best_time(lambda: badge(probs, x, K_PICKS, seed=0), repeats=1)
    peak = _peak_bytes(lambda: badge(probs, x, K_PICKS, seed=0))
    gradients_mib = N_EMBED * N_CLASSES * DIM * 4 / MIB
    print(
        f"\n[bench] BADGE {K_PICKS:,} of {N_EMBED:,} (c={N_CLASSES}, d={DIM}): {seconds:.2f} s; "
        f"peak {peak / MIB:.1f} MiB (explicit gradient embeddings would be "
        f"{gradients_mib:.0f} MiB)"
    )
    assert peak < 0.25 * gradients_mib * MIB
