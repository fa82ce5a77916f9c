"""Benchmark: batch phash vs an ``imagehash.phash`` loop on the same decoded images.

Run with ``pytest tests/bench -s``. Prints ratios measured in this process
(baseline and candidates interleaved, best of several rounds, because the
machines are shared); asserts only that the bits are identical, never on
time. LABELLOOP_BENCH_HASH_N sets the number of images (default 2000).

Besides the end-to-end ratio it prints where the batch path spends its time
(PIL's grey conversion, the vectorised resize, the DCT stage) and, for
comparison, the previous batch path: PIL's own convert + resize per image
followed by the same vectorised DCT stage.
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

from sampling import hashing, lanczos
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


def _pil_reduce_all(images: list[Image.Image]) -> list[np.ndarray]:
    """The previous per-image PIL work: grey, LANCZOS to 32 x 32 (what imagehash does)."""
    lanczos = Image.Resampling.LANCZOS
    return [np.asarray(im.convert("L").resize((32, 32), lanczos)) for im in images]


@pytest.mark.parametrize("side", [256, 64])
def test_bench_batch_phash_vs_imagehash_loop(side: int) -> None:
    images = _images(N_IMAGES, side)
    workers = os.cpu_count() or 1
    reference = [str(imagehash.phash(im)) for im in images]
    codes = hash_images(images, "phash")
    assert [c.tobytes().hex() for c in codes] == reference
    assert np.array_equal(hash_images(images, "phash", workers=workers), codes)
    # The stages of hash_images, timed below batch by batch as it runs them,
    # and checked on their own against PIL.
    batches = list(hashing._image_batches(images))
    stacks = [np.stack(hashing._greys(batch)) for batch in batches]
    with hashing._one_blas_thread():
        reduced = np.concatenate([lanczos.resize_stack(s, (32, 32)) for s in stacks])
    assert np.array_equal(reduced, np.stack(_pil_reduce_all(images)))
    assert np.array_equal(_codes_from_stack(reduced, "phash"), codes)

    def resize() -> object:
        with hashing._one_blas_thread():
            return [lanczos.resize_stack(s, (32, 32)) for s in stacks]

    t = _race(
        {
            "loop": lambda: [imagehash.phash(im) for im in images],
            "batch": lambda: hash_images(images, "phash"),
            "threads": lambda: hash_images(images, "phash", workers=workers),
            "previous": lambda: _codes_from_stack(np.stack(_pil_reduce_all(images)), "phash"),
            "grey": lambda: [np.stack(hashing._greys(batch)) for batch in batches],
            "resize": resize,
            "pil_resize": lambda: [
                Image.fromarray(g).resize((32, 32), Image.Resampling.LANCZOS)
                for s in stacks
                for g in s
            ],
            "stage": lambda: _codes_from_stack(reduced, "phash"),
        }
    )
    us = 1e6 / len(images)

    def line(label: str, name: str) -> None:
        ratio = t["loop"] / t[name]
        print(f"  {label:34s} {t[name] * us:7.1f} us/image  {ratio:5.2f}x")

    print(f"\n[bench] phash, {len(images)} decoded RGB {side}x{side} images, bits identical")
    line("imagehash.phash loop", "loop")
    line("previous batch (PIL resize/image)", "previous")
    line("hash_images, 1 thread", "batch")
    line(f"hash_images, {workers} threads", "threads")
    print("  where hash_images (1 thread) spends its time:")
    for label, name in (
        ("PIL convert('L'), pixels out", "grey"),
        ("vectorised LANCZOS resize", "resize"),
        ("DCT, median, bits", "stage"),
    ):
        print(
            f"    {label:32s} {t[name] * us:7.1f} us/image"
            f"  ({100 * t[name] / t['batch']:.0f}% of hash_images,"
            f" {100 * t[name] / t['loop']:.0f}% of the loop)"
        )
    print(
        f"    (PIL's LANCZOS resize of the same grey images: {t['pil_resize'] * us:.1f} us/image,"
        f" {t['pil_resize'] / t['resize']:.1f}x the vectorised one)"
    )
