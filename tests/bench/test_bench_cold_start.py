"""Benchmark: the first model, from 3 labels per class, against logistic regression on pixels.

Run with ``pytest tests/bench -s``. The baseline runs in the same process on
the same labels: scikit-learn's logistic regression on the raw pixels of the
image files (standardised, default C), the simplest model a user could fit
by hand. The contender is what ``labelloop train`` fits on those labels with
its defaults (``app.learning.job_worker.training_config``). Both are scored on every
image of the dataset that was not labeled (the held-out rest).

Two datasets, so that the recipe is not fitted to one look:

* the digits shipped with scikit-learn (1,797 images, 8x8 drawn at 32 px, as
  in the demo);
* letters A-J in 24 fonts (3,000 images, 28 px, dark ink of random contrast
  on shaded paper: ``tests/bench/glyphs.py``).

Printed: accuracy mean +- std over the seeds, side by side, and the ratio.
Nothing is asserted on accuracy or time.

Environment: LABELLOOP_BENCH_COLD_SEEDS (default ``0,1,2,3,4``),
LABELLOOP_BENCH_COLD_PER_CLASS (default ``3``; e.g. ``3,10``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.cli.output import print_table
from app.learning.job_worker import training_config
from app.pool.demo import digit_image, load_digits_arrays
from models.inference import predict_all
from models.networks import build_network
from models.training import train
from tests.bench.glyphs import make_glyphs

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

SEEDS = [int(s) for s in os.environ.get("LABELLOOP_BENCH_COLD_SEEDS", "0,1,2,3,4").split(",")]
PER_CLASS = [int(s) for s in os.environ.get("LABELLOOP_BENCH_COLD_PER_CLASS", "3").split(",")]


def _write(images: list[Image.Image], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{i:05d}.png"
        image.save(path)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, tuple[list[str], np.ndarray]]:
    root = tmp_path_factory.mktemp("cold_start")
    pixels, targets = load_digits_arrays()
    glyphs, letters = make_glyphs(3000, seed=1)
    return {
        "digits (32 px)": (_write([digit_image(p, 32) for p in pixels], root / "digits"),
                           np.asarray(targets)),
        "letters A-J (28 px)": (_write(glyphs, root / "glyphs"), letters),
    }


def _grey_pixels(paths: list[str]) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("L"), np.float32).ravel() / 255
                     for p in paths])


def _labeled_split(labels: np.ndarray, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                             for c in np.unique(labels)])
    return picked, np.setdiff1d(np.arange(len(labels)), picked)


def _labelloop_accuracy(paths: list[str], labels: np.ndarray, picked: np.ndarray,
                        rest: np.ndarray, seed: int) -> float:
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    pool_sizes = [Image.open(p).size for p in paths]
    config = training_config({"seed": seed}, pool_sizes)
    result = train([paths[i] for i in picked], labels[picked].tolist(), classes, config)
    network = build_network(config.arch, len(classes), config.input_size, pretrained=False)
    network.load_state_dict(result.state_dict)
    scores = predict_all(network, [paths[i] for i in rest], config.input_size)
    return float(np.mean(scores.probs.argmax(1) == labels[rest]))


def test_bench_cold_start_against_logistic_regression(datasets):
    torch.set_num_threads(1)
    rows = []
    for name, (paths, labels) in datasets.items():
        pixels = _grey_pixels(paths)
        for per_class in PER_CLASS:
            baseline, ours = [], []
            started = time.perf_counter()
            for seed in SEEDS:
                picked, rest = _labeled_split(labels, per_class, seed)
                linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
                linear.fit(pixels[picked], labels[picked])
                baseline.append(float(np.mean(linear.predict(pixels[rest]) == labels[rest])))
                ours.append(_labelloop_accuracy(paths, labels, picked, rest, seed))
            seconds = (time.perf_counter() - started) / len(SEEDS)
            b, o = np.array(baseline), np.array(ours)
            rows.append([name, f"{per_class} x {len(np.unique(labels))}",
                         f"{b.mean():.3f} ± {b.std():.3f}", f"{o.mean():.3f} ± {o.std():.3f}",
                         f"{o.mean() / b.mean():.2f}x", f"{int(np.sum(o >= b))}/{len(SEEDS)}",
                         f"{seconds:.0f} s"])
            print(f"\n[cold start] {name}, {per_class}/class: logistic regression {baseline}, "
                  f"labelloop train {ours}", flush=True)
    print(f"\n[cold start] held-out accuracy, mean ± std over seeds {SEEDS}:")
    print_table(["dataset", "labels", "logistic regression on pixels", "labelloop train",
                 "ratio", "seeds won", "per seed"], rows)
