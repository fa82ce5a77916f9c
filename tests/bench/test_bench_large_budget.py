"""Benchmark: 2,000 labels, today's ``train`` against the recipe of an earlier release, and the pool.

Run with ``pytest tests/bench/test_bench_large_budget.py -s``. For each
dataset and seed, the same 2,000 labeled images train:

* with the recipe of an earlier release (LABELLOOP_BENCH_LARGE_BASELINE, a
  commit; default ``08cd689``, the release the label-efficiency work started
  from): its ``models/`` package is taken from git history into a temporary
  folder and its ``train`` runs with that release's job defaults in a child
  process, so the baseline is the real code, not a re-creation;
* with ``labelloop train``'s defaults today (supervised);
* from a backbone pretrained on the pool (``labelloop pretrain``'s plan with
  the default time budget, labels unseen);
* with the semi-supervised phase over the rest of the pool;
* from the backbone with the semi-supervised phase.

Every model is scored on a held-out test set that is neither labeled nor in
the pool. Two datasets: letters A-Z cut from lines of text
(``tests/bench/text_crops.py``: 26 classes, a pool of 6,000 and a test set of
2,000 drawn with another seed), where 2,000 labels are far from the ceiling,
and the 5,000 MNIST scans (a pool of 3,500, a test set of 1,500), which are
near it. Printed: accuracy mean ± sd over the seeds, the difference from the
earlier release, and the seconds per retrain. Nothing is asserted.

Environment: LABELLOOP_BENCH_LARGE_DATASETS (``crops,scans``),
LABELLOOP_BENCH_LARGE_SEEDS (``0,1``), LABELLOOP_BENCH_LARGE_LABELS (2000),
LABELLOOP_BENCH_LARGE_BASELINE (a commit; empty: no baseline column),
LABELLOOP_BENCH_LARGE_THREADS (torch threads, default 1 as a training job
uses), LABELLOOP_BENCH_LARGE_PRETRAIN_BUDGET (seconds, default
``labelloop pretrain``'s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli.output import print_table
from app.learning.job_worker import training_config
from models.inference import predict_all
from models.networks import build_network
from models.pretrain_config import DEFAULT_TIME_BUDGET_S
from models.training import train
from tests.bench.label_budget import (
    env_ints,
    mean_sd,
    only_when_benchmarking,
    pretrain_on_pool,
    scans_pool_and_test,
    write_images,
)
from tests.bench.text_crops import make_text_crops

pytestmark = only_when_benchmarking

DATASETS = os.environ.get("LABELLOOP_BENCH_LARGE_DATASETS", "crops,scans").split(",")
SEEDS = env_ints("LABELLOOP_BENCH_LARGE_SEEDS", "0,1")
LABELS = int(os.environ.get("LABELLOOP_BENCH_LARGE_LABELS", "2000"))
BASELINE = os.environ.get("LABELLOOP_BENCH_LARGE_BASELINE", "08cd689")
THREADS = int(os.environ.get("LABELLOOP_BENCH_LARGE_THREADS", "1"))
PRETRAIN_BUDGET = float(os.environ.get("LABELLOOP_BENCH_LARGE_PRETRAIN_BUDGET",
                                       DEFAULT_TIME_BUDGET_S))
REPO = Path(__file__).resolve().parents[2]

#: The earlier release's training job, run in a child process against its own
#: ``models/`` package: its defaults as its ``run_training`` set them (30
#: epochs, at least 200 steps, a 0.2 validation split, patience 5).
BASELINE_RUN = """
import json, sys
import numpy as np
import models
from models.inference import predict_all
from models.networks import build_network
from models.training import TrainConfig, train
job = json.load(sys.stdin)
if job.get("where"):
    print(json.dumps({"models": models.__file__}))
    sys.exit(0)
config = TrainConfig(epochs=30, min_steps=200, val_fraction=0.2, patience=5, seed=job["seed"],
                     input_size=job["input_size"], num_threads=job["threads"])
result = train(job["paths"], job["labels"], job["classes"], config)
network = build_network("small_cnn", len(job["classes"]), job["input_size"])
network.load_state_dict(result.state_dict)
probs = predict_all(network, job["test"], job["input_size"]).probs
print(json.dumps({"accuracy": float(np.mean(probs.argmax(1) == np.array(job["test_labels"])))}))
"""


def load_dataset(name: str, root: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """``(pool paths, pool labels, test paths, test labels)`` of ``name``, written to ``root``."""
    if name == "scans":
        return scans_pool_and_test(root)
    if name != "crops":
        raise ValueError(f"unknown dataset {name!r}: crops or scans")
    pool, pool_labels = make_text_crops(6000, seed=1)
    test, test_labels = make_text_crops(2000, seed=2)
    return (write_images(pool, root / "crops-pool"), pool_labels,
            write_images(test, root / "crops-test"), test_labels)


def baseline_package(root: Path) -> Path | None:
    """The earlier release's ``models/`` under ``root`` (from git history), or None."""
    if not BASELINE:
        return None
    archive = subprocess.run(["git", "-C", str(REPO), "archive", BASELINE, "models"],
                             capture_output=True)
    if archive.returncode != 0:
        print(f"[large budget] no baseline: {archive.stderr.decode().strip()}")
        return None
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def run_release(package: Path, job: dict) -> dict:
    """:data:`BASELINE_RUN` on ``job`` with the earlier release's ``models/`` in ``package``.

    The child runs in ``package``: ``python -c`` puts its working folder
    first on the path, so from the checkout it would import today's
    ``models/`` instead.
    """
    child = subprocess.run([sys.executable, "-c", BASELINE_RUN], input=json.dumps(job),
                           capture_output=True, text=True, check=True, cwd=package,
                           env={**os.environ, "PYTHONPATH": str(package)})
    return json.loads(child.stdout)


def accuracy_of(state_dict, classes: list[str], input_size: int, test: list[str],
                test_labels: np.ndarray) -> float:
    network = build_network("small_cnn", len(classes), input_size, pretrained=False)
    network.load_state_dict(state_dict)
    probs = predict_all(network, test, input_size).probs
    return float(np.mean(probs.argmax(1) == test_labels))


def test_bench_2000_labels_against_an_earlier_release_and_with_the_pool(tmp_path):
    package = baseline_package(tmp_path / "baseline")
    columns = (["earlier release"] if package else []) + [
        "train today", "from the backbone", "semi-supervised", "backbone + semi"]
    rows = []
    for name in DATASETS:
        pool, labels, test, test_labels = load_dataset(name, tmp_path)
        classes = [str(c) for c in range(int(labels.max()) + 1)]
        base = replace(training_config({}, [Image.open(p).size for p in pool[:256]]),
                       num_threads=THREADS)
        backbone, pretrain_s = pretrain_on_pool(pool, base.input_size, base.arch,
                                                PRETRAIN_BUDGET, THREADS)
        print(f"\n[large budget] {name}: backbone pretrained on the {len(pool)} pool images "
              f"in {pretrain_s:.0f} s ({backbone.steps_run} steps)", flush=True)
        scores: dict[str, list[float]] = {c: [] for c in columns}
        seconds: dict[str, list[float]] = {c: [] for c in columns}
        for seed in SEEDS:
            picked = np.sort(np.random.default_rng(1000 + seed).choice(len(pool), LABELS,
                                                                       replace=False))
            rest = [pool[i] for i in np.setdiff1d(np.arange(len(pool)), picked)]
            paths, y = [pool[i] for i in picked], labels[picked].tolist()
            config = replace(base, seed=seed)
            runs = {"train today": (config, ()),
                    "from the backbone": (replace(config, backbone_state=backbone.state_dict), ()),
                    "semi-supervised": (replace(config, semi_supervised=True), rest),
                    "backbone + semi": (replace(config, semi_supervised=True,
                                                backbone_state=backbone.state_dict), rest)}
            if package:
                started = time.perf_counter()
                job = {"paths": paths, "labels": y, "classes": classes, "seed": seed,
                       "input_size": config.input_size, "threads": THREADS, "test": test,
                       "test_labels": test_labels.tolist()}
                scores["earlier release"].append(run_release(package, job)["accuracy"])
                seconds["earlier release"].append(time.perf_counter() - started)
            for column, (run_config, unlabeled) in runs.items():
                started = time.perf_counter()
                result = train(paths, y, classes, run_config, unlabeled=unlabeled)
                seconds[column].append(time.perf_counter() - started)
                scores[column].append(accuracy_of(result.state_dict, classes,
                                                  run_config.input_size, test, test_labels))
            print(f"[large budget] {name} seed {seed}: "
                  + ", ".join(f"{c} {scores[c][-1]:.3f}" for c in columns), flush=True)
        reference = np.mean(scores[columns[0]])
        for column in columns:
            rows.append([name, column, mean_sd(scores[column]),
                         f"{np.mean(scores[column]) - reference:+.3f}",
                         f"{np.mean(seconds[column]):.0f} s"])
    print(f"\n[large budget] {LABELS} labels, held-out accuracy, mean ± sd over seeds {SEEDS}; "
          f"difference from the first row of each dataset; {THREADS} torch thread(s), load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end:")
    print_table(["dataset", "recipe", "accuracy", "difference", "retrain"], rows)


@pytest.mark.skipif(not BASELINE, reason="no earlier release to compare with")
def test_the_earlier_release_is_the_code_the_baseline_runs(tmp_path):
    package = baseline_package(tmp_path / "baseline")
    assert package is not None and (package / "models" / "training.py").is_file()
    imported = Path(run_release(package, {"where": True})["models"]).resolve()
    assert imported.is_relative_to(package.resolve())
