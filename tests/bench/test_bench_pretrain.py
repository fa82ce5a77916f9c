"""Benchmark: 3 labels per class, supervised only vs started from the pretrained backbone.

Run with ``pytest tests/bench/test_bench_pretrain.py -s``. For each dataset
the backbone is pretrained once (``models.pretrain``, settings from
``plan_pretraining`` with the default time budget, as ``labelloop pretrain``
would) on every image, labels unseen. Then, per seed, the same 3 labels per
class train two classifiers with ``labelloop train``'s recipe
(``app.learning.job_worker.training_config``): one from random weights
(today's ``train``), one from the backbone (the only difference). Both are
scored on every image that was not labeled.

Datasets, so that the recipe is not fitted to one look:

* the digits shipped with scikit-learn (1,797 images, 8x8 drawn at 32 px);
* letters A-J in 22 fonts (3,000 images, 28 px: ``tests/bench/glyphs.py``).

Also printed: the cost of pretraining 20,000 letter images at 28 px with the
default budget, and the backbone's embedding throughput.

Printed: accuracy mean +- std over the seeds, side by side, the ratio, the
pretraining's seconds and steps. Nothing is asserted.

Environment: LABELLOOP_BENCH_PRETRAIN_SEEDS (default ``0,1,2,3,4``),
LABELLOOP_BENCH_PRETRAIN_BUDGET (seconds per pretraining, default the
library's), LABELLOOP_BENCH_PRETRAIN_THREADS (default 2: the issue's 2 cores),
LABELLOOP_BENCH_PRETRAIN_COST_IMAGES (default 20000; 0 skips the cost run),
LABELLOOP_BENCH_PRETRAIN_DATASETS (``digits,letters``; ``scans`` adds the 5,000 MNIST scans).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli.output import print_table
from app.learning.job_worker import training_config
from models.pretrain import backbone_embeddings, backbone_network, decode_pool, pretrain_backbone
from models.pretrain_config import DEFAULT_TIME_BUDGET_S, plan_pretraining
from tests.bench.glyphs import make_glyphs
from tests.bench.label_budget import (
    env_ints,
    label_datasets,
    mean_sd,
    only_when_benchmarking,
    per_class_split,
    pretrain_on_pool,
    trained_accuracy,
    write_images,
)

pytestmark = only_when_benchmarking

SEEDS = env_ints("LABELLOOP_BENCH_PRETRAIN_SEEDS", "0,1,2,3,4")
BUDGET = float(os.environ.get("LABELLOOP_BENCH_PRETRAIN_BUDGET", DEFAULT_TIME_BUDGET_S))
THREADS = int(os.environ.get("LABELLOOP_BENCH_PRETRAIN_THREADS", "2"))
COST_IMAGES = int(os.environ.get("LABELLOOP_BENCH_PRETRAIN_COST_IMAGES", "20000"))
DATASETS = os.environ.get("LABELLOOP_BENCH_PRETRAIN_DATASETS", "digits,letters").split(",")
PER_CLASS = 3


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, tuple[list[str], np.ndarray]]:
    return label_datasets(tmp_path_factory.mktemp("pretrain"), DATASETS)


def test_bench_pretrained_backbone_against_supervised_only(datasets):
    rows = []
    for name, (paths, labels) in datasets.items():
        sizes = [Image.open(p).size for p in paths]
        base = training_config({}, sizes)
        backbone, pretrain_s = pretrain_on_pool(paths, base.input_size, base.arch, BUDGET,
                                                THREADS)
        print(f"\n[pretrain] {name}: {backbone.steps_run} steps, {pretrain_s:.0f} s, "
              f"notes {backbone.notes}", flush=True)
        supervised, pretrained = [], []
        for seed in SEEDS:
            # The cold-start bench's draw: the same labels for the same seed.
            picked, rest = per_class_split(labels, PER_CLASS, seed)
            config = replace(base, seed=seed)
            supervised.append(trained_accuracy(paths, labels, picked, rest, config))
            pretrained.append(trained_accuracy(paths, labels, picked, rest,
                                        replace(config, backbone_state=backbone.state_dict)))
            print(f"[pretrain] {name} seed {seed}: supervised {supervised[-1]:.3f}, "
                  f"from backbone {pretrained[-1]:.3f}", flush=True)
        s, p = np.array(supervised), np.array(pretrained)
        rows.append([name, f"{PER_CLASS} x {len(np.unique(labels))}",
                     mean_sd(s), mean_sd(p),
                     f"{p.mean() / s.mean():.2f}x", f"{int(np.sum(p > s))}/{len(SEEDS)}",
                     f"{pretrain_s:.0f} s, {backbone.steps_run} steps"])
    print(f"\n[pretrain] held-out accuracy, mean ± std over seeds {SEEDS} "
          f"(pretraining budget {BUDGET:.0f} s, {THREADS} threads):")
    print_table(["dataset", "labels", "supervised only (today's train)",
                 "from pretrained backbone", "ratio", "seeds won", "pretraining"], rows)


@pytest.mark.skipif(COST_IMAGES == 0, reason="LABELLOOP_BENCH_PRETRAIN_COST_IMAGES=0")
def test_bench_pretraining_cost_on_20000_images(tmp_path):
    glyphs, _ = make_glyphs(COST_IMAGES, seed=7)
    paths = write_images(glyphs, tmp_path / "glyphs")
    base = training_config({}, [(28, 28)])
    plan = plan_pretraining(len(paths), base.input_size, arch=base.arch, time_budget_s=BUDGET,
                            num_threads=THREADS)
    started = time.perf_counter()
    result = pretrain_backbone(paths, plan)
    total = time.perf_counter() - started
    images, _, _ = decode_pool(paths[:5000], base.input_size)
    network = backbone_network(base.arch, base.input_size, result.state_dict)
    with torch.inference_mode():
        torch.set_num_threads(THREADS)
        t0 = time.perf_counter()
        backbone_embeddings(network, images)
        per_s = len(images) / (time.perf_counter() - t0)
    print(f"\n[pretrain cost] {COST_IMAGES:,} images of 28 px, {THREADS} threads:")
    print_table(["images", "budget", "total (decode + optimise)", "steps", "epochs",
                 "embedding images/s"],
                [[COST_IMAGES, f"{BUDGET:.0f} s", f"{total:.0f} s", result.steps_run,
                  result.epochs_run, f"{per_s:.0f}"]])
