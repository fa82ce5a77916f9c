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
* letters A-J in 22 fonts (3,000 images, 28 px, dark ink of random contrast
  on shaded paper: ``tests/bench/glyphs.py``).

Printed: accuracy mean +- std over the seeds, side by side, and the ratio.
Nothing is asserted on accuracy or time.

Environment: LABELLOOP_BENCH_COLD_SEEDS (default ``0,1,2,3,4``),
LABELLOOP_BENCH_COLD_PER_CLASS (default ``3``; e.g. ``3,10``), LABELLOOP_BENCH_COLD_DATASETS
(``digits,letters``; ``scans`` adds the 5,000 MNIST scans of ``tests/bench/scans.py``).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from app.cli.output import print_table
from app.learning.job_worker import training_config
from tests.bench.label_budget import (
    env_ints,
    label_datasets,
    mean_sd,
    only_when_benchmarking,
    per_class_split,
    trained_accuracy,
)

pytestmark = only_when_benchmarking

SEEDS = env_ints("LABELLOOP_BENCH_COLD_SEEDS", "0,1,2,3,4")
PER_CLASS = env_ints("LABELLOOP_BENCH_COLD_PER_CLASS", "3")
DATASETS = os.environ.get("LABELLOOP_BENCH_COLD_DATASETS", "digits,letters").split(",")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, tuple[list[str], np.ndarray]]:
    return label_datasets(tmp_path_factory.mktemp("cold_start"), DATASETS)


def _grey_pixels(paths: list[str]) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("L"), np.float32).ravel() / 255
                     for p in paths])


def test_bench_cold_start_against_logistic_regression(datasets):
    torch.set_num_threads(1)
    rows = []
    for name, (paths, labels) in datasets.items():
        pixels = _grey_pixels(paths)
        pool_sizes = [Image.open(p).size for p in paths]
        for per_class in PER_CLASS:
            baseline, ours = [], []
            started = time.perf_counter()
            for seed in SEEDS:
                picked, rest = per_class_split(labels, per_class, seed)
                linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
                linear.fit(pixels[picked], labels[picked])
                baseline.append(float(np.mean(linear.predict(pixels[rest]) == labels[rest])))
                config = training_config({"seed": seed}, pool_sizes)
                ours.append(trained_accuracy(paths, labels, picked, rest, config))
            seconds = (time.perf_counter() - started) / len(SEEDS)
            b, o = np.array(baseline), np.array(ours)
            rows.append([name, f"{per_class} x {len(np.unique(labels))}",
                         mean_sd(b), mean_sd(o),
                         f"{o.mean() / b.mean():.2f}x", f"{int(np.sum(o >= b))}/{len(SEEDS)}",
                         f"{seconds:.0f} s"])
            print(f"\n[cold start] {name}, {per_class}/class: logistic regression {baseline}, "
                  f"labelloop train {ours}", flush=True)
    print(f"\n[cold start] held-out accuracy, mean ± std over seeds {SEEDS}:")
    print_table(["dataset", "labels", "logistic regression on pixels", "labelloop train",
                 "ratio", "seeds won", "per seed"], rows)
