"""Import throughput against decoding + sha256 alone on the same files.

Target (issue 20): the import runs at >= 0.9 of the baseline rate (it also
hashes, measures and records every file; the pHash takes the path of
``labelloop hash``).  Printed with the load average seen (the machines are
shared), never asserted on time.
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
from PIL import Image

from app.pool.importer import import_images
from app.project.workspace import Workspace

N_FILES = int(os.environ.get("LABELLOOP_BENCH_IMPORT_FILES", "5000"))


def _make_images(folder, count):
    rng = np.random.default_rng(0)
    folder.mkdir()
    base = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    for i in range(count):
        # Smooth-ish content so JPEG sizes resemble photos, distinct per file.
        pixels = np.roll(base, i, axis=1) // 2 + (i % 97)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"f{i:05d}.jpg", quality=90)


def _baseline(paths):
    for path in paths:
        data = path.read_bytes()
        hashlib.sha256(data).hexdigest()
        with Image.open(path) as image:
            image.load()


def test_import_throughput_vs_decode_and_hash(tmp_path):
    _make_images(tmp_path / "src", N_FILES)
    paths = sorted((tmp_path / "src").iterdir())
    start = time.perf_counter()
    _baseline(paths)
    baseline_s = time.perf_counter() - start
    with Workspace.init(tmp_path / "proj", ["a"]) as ws:
        start = time.perf_counter()
        report = import_images(ws, [tmp_path / "src"])
        import_s = time.perf_counter() - start
    assert report.added == N_FILES
    ratio = baseline_s / import_s
    print(
        f"\nimport: {N_FILES} files, baseline (decode+sha256, 1 process) "
        f"{N_FILES / baseline_s:.0f} files/s, import ({os.cpu_count()} workers) "
        f"{N_FILES / import_s:.0f} files/s, ratio {ratio:.2f} (target >= 0.9), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
