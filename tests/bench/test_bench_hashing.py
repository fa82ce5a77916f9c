"""Benchmark: batch phash vs an ``imagehash.phash`` loop on the same decoded images.

Run with ``pytest tests/bench -s``. Prints ratios measured in this process
(baseline and candidate interleaved, best of several rounds, because the
machines are shared); asserts only that the bits are identical, never on
time. LABELLOOP_BENCH_HASH_N sets the number of images (default 2000).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import imagehash
import numpy as np
import pytest
from PIL import Image

from sampling.hashing import _codes_from_stack, hash_images

# Benchmarks only run when asked for (a path or -k naming "bench", or
# LABELLOOP_BENCH=1), so the normal `pytest` run over tests/ skips them.
pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

N_IMAGES = int(os.environ.get("LABELLOOP_BENCH_HASH_N", "2000"))


def _race(candidates: dict[str, Callable[[], object]], rounds: int = 3) -> dict[str, float]:
    """Best wall time of each function, running them in turn each round so
    that a burst of load on the shared machine hits all of them alike."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _images(n: int, side: int) -> list[Image.Image]:
    """Decoded RGB photo stand-ins: upsampled random low-resolution colour fields."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)
    return [
        Image.fromarray(c, "RGB").resize((side, side), Image.Resampling.BICUBIC) for c in coarse
    ]


def _reduce_all(images: list[Image.Image]) -> list[np.ndarray]:
    """The per-image PIL work phash needs on either side: grey, LANCZOS to 32 x 32."""
    lanczos = Image.Resampling.LANCZOS
    return [np.asarray(im.convert("L").resize((32, 32), lanczos)) for im in images]


@pytest.mark.parametrize("side", [256, 32])
def test_bench_batch_phash_vs_imagehash_loop(side: int) -> None:
    images = _images(N_IMAGES, side)
    workers = os.cpu_count() or 1
    reference = [str(imagehash.phash(im)) for im in images]
    codes = hash_images(images, "phash")
    assert [c.tobytes().hex() for c in codes] == reference
    assert np.array_equal(hash_images(images, "phash", workers=workers), codes)
    stack = np.stack(_reduce_all(images))
    assert np.array_equal(_codes_from_stack(stack, "phash"), codes)

    t = _race(
        {
            "loop": lambda: [imagehash.phash(im) for im in images],
            "batch": lambda: hash_images(images, "phash"),
            "threads": lambda: hash_images(images, "phash", workers=workers),
            "reduce": lambda: _reduce_all(images),
            "stage": lambda: _codes_from_stack(stack, "phash"),
        }
    )
    us = 1e6 / len(images)
    # imagehash's own cost once the resize is done: its loop minus the PIL work.
    loop_after_resize = t["loop"] - t["reduce"]
    print(f"\n[bench] phash, {len(images)} decoded RGB {side}x{side} images, bits identical")
    print(f"  imagehash.phash loop          {t['loop'] * us:7.1f} us/image   1.00x")
    for name, label in (
        ("batch", "hash_images, 1 thread"),
        ("threads", f"hash_images, {workers} threads"),
    ):
        print(f"  {label:29s} {t[name] * us:7.1f} us/image  {t['loop'] / t[name]:5.2f}x")
    print(
        f"  PIL convert+resize alone      {t['reduce'] * us:7.1f} us/image"
        f"  ({100 * t['reduce'] / t['loop']:.0f}% of the loop; done per image on both sides)"
    )
    print(
        f"  after the resize: imagehash {loop_after_resize * us:6.1f} us/image vs vectorised"
        f" DCT/median {t['stage'] * us:5.1f} us/image"
        f"  {loop_after_resize / t['stage']:5.1f}x"
    )
