"""Benchmark: scoring the pool on this machine vs on a local Ray cluster with 2 workers.

Run with ``pytest tests/bench/test_bench_ray.py -s`` (``LABELLOOP_BENCH_RAY_N``
sets the pool size, 20,000 by default). A project of small generated images
and a real small_cnn version are scored (T = 10 MC passes, embeddings) three
ways in the same process: locally (``ensure_scores``, torch's own threads),
and on a fresh local cluster (``ray start --head --num-cpus 2``) with the
default shard size, once cold (workers start, import torch) and once more.
Printed: images/s of each, the ratio to local, the seconds per shard, and
Ray's own overhead per task (an empty task's round trip), from which the
README's estimate for a 1M-frame pool on N nodes is made. Nothing is
asserted beyond equal scores.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

import numpy as np
import pytest

from app.learning.model_registry import score_cache_dir
from app.learning.ray_scoring import SHARD_BATCHES, ensure_scores_on_ray
from app.learning.score_shards import shard_root
from app.learning.scoring import BATCH_SIZE, ensure_scores
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.app.ray_helpers import start_cluster
from tests.app.test_confinement import register_small_cnn
from tests.conftest import write_noise_images

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)
MC = 10


def _empty() -> int:
    return 0


def test_bench_ray_scoring(tmp_path):
    n = int(os.environ.get("LABELLOOP_BENCH_RAY_N", "20000"))
    write_noise_images(tmp_path / "images", n, size=32)
    ws = Workspace.init(tmp_path / "proj", ["a", "b", "c"])
    import_images(ws, [tmp_path / "images"], workers=2)
    version = ws.model_version(register_small_cnn(ws))

    started = time.perf_counter()
    local = ensure_scores(ws, version, MC)
    local_s = time.perf_counter() - started

    cluster = start_cluster(cpus=2)
    try:
        timings = []
        for _ in range(2):
            shutil.rmtree(score_cache_dir(ws, version.id), ignore_errors=True)
            shutil.rmtree(shard_root(ws, version.id), ignore_errors=True)
            started = time.perf_counter()
            remote = ensure_scores_on_ray(ws, version, MC, cluster.address)
            timings.append(time.perf_counter() - started)
        np.testing.assert_allclose(remote.probs, local.probs, atol=1e-5)
        overhead_ms = _task_overhead_ms(cluster.address)
    finally:
        cluster.stop()
        ws.close()

    shard = SHARD_BATCHES * BATCH_SIZE
    shards = -(-n // shard)
    print(f"\nscoring {n} images of 32 px, small_cnn, T={MC}, shards of {shard}:")
    print(f"  local (this process, torch threads): {local_s:7.1f} s  {n / local_s:7.0f} img/s")
    for label, seconds in zip(("ray, 2 workers, cold", "ray, 2 workers, again"), timings,
                              strict=True):
        print(f"  {label:<36} {seconds:7.1f} s  {n / seconds:7.0f} img/s  "
              f"ratio to local {local_s / seconds:4.2f}x")
    per_shard = timings[-1] * 2 / shards  # 2 workers in parallel
    print(f"  per shard ({shard} images, one worker, one thread): {per_shard:.2f} s")
    print(f"  Ray's own overhead per task (empty task round trip): {overhead_ms:.2f} ms")


def _task_overhead_ms(address: str, tasks: int = 200) -> float:
    import ray

    from app.learning.ray_cluster import ray_cluster

    with ray_cluster(address):
        empty = ray.remote(_empty)
        ray.get([empty.remote() for _ in range(4)])  # workers up
        started = time.perf_counter()
        ray.get([empty.remote() for _ in range(tasks)])
        return (time.perf_counter() - started) * 1000 / tasks
