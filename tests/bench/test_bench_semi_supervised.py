"""Benchmark: semi-supervised training (labels + the unlabeled pool) against ``train`` on the labels.

Run with ``pytest tests/bench/test_bench_semi_supervised.py -s``. For each
dataset a backbone is first pretrained on the pool (``models.pretrain``,
labels unseen, the default time budget, as ``labelloop pretrain`` would).
Then, for each budget and seed, the same labeled images train four ways with
``labelloop train``'s settings (:func:`app.learning.job_worker.training_config`):
on the labels alone from random weights (the supervised-only model), from
the backbone, with ``semi_supervised`` and the rest of the pool as unlabeled
images, and both. All are scored on a held-out test set that is in neither
the labels nor the pool (nor the backbone's images).

Two datasets, so that the recipe is not fitted to one look:

* the digits shipped with scikit-learn (1,797 images, 8x8 drawn at 32 px):
  1,300 form the pool, 497 the test set; the large budget is a third of the
  pool (433 labels), the share that 2,000 labels are of the letters' pool;
* letters A-J in 22 fonts (``tests/bench/glyphs.py``, 28 px): a pool of 6,000
  and a test set of 2,000 drawn with another seed; budgets up to 2,000 labels;
* with ``scans`` in LABELLOOP_BENCH_SEMI_DATASETS, the 5,000 MNIST scans
  (``tests/bench/scans.py``): a pool of 3,500 and a test set of 1,500.

Printed: accuracy mean ± sd over the seeds of the four, the ratio and the
difference of backbone + semi-supervised against the supervised-only model,
the seeds it won, and the wall and CPU seconds per retrain (CPU: what it
costs on a shared machine). Nothing is asserted.

Environment: LABELLOOP_BENCH_SEMI_SEEDS (default ``0,1,2``),
LABELLOOP_BENCH_SEMI_BUDGETS (labels per class, or a total with a ``t``
suffix; default ``3,20,L`` where ``L`` is the large budget),
LABELLOOP_BENCH_SEMI_DATASETS (``digits,letters``), LABELLOOP_BENCH_SEMI_THREADS
(torch threads, default 1 as a training job uses), LABELLOOP_BENCH_SEMI_PRETRAIN_BUDGET
(seconds per backbone, default the library's; 0 leaves the backbone columns out).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from app.cli.output import print_table
from app.learning.job_worker import training_config
from app.pool.demo import digit_image, load_digits_arrays
from models.inference import predict_all
from models.networks import build_network
from models.pretrain_config import DEFAULT_TIME_BUDGET_S
from models.training import train
from tests.bench.glyphs import make_glyphs
from tests.bench.label_budget import (
    SCANS_POOL,
    env_ints,
    mean_sd,
    only_when_benchmarking,
    pretrain_on_pool,
    scans_pool_and_test,
    write_images,
)

pytestmark = only_when_benchmarking

SEEDS = env_ints("LABELLOOP_BENCH_SEMI_SEEDS", "0,1,2")
BUDGETS = os.environ.get("LABELLOOP_BENCH_SEMI_BUDGETS", "3,20,L").split(",")
DATASETS = os.environ.get("LABELLOOP_BENCH_SEMI_DATASETS", "digits,letters").split(",")
THREADS = int(os.environ.get("LABELLOOP_BENCH_SEMI_THREADS", "1"))
PRETRAIN_BUDGET = float(os.environ.get("LABELLOOP_BENCH_SEMI_PRETRAIN_BUDGET",
                                       DEFAULT_TIME_BUDGET_S))
#: Pretraining gets the issue's 2 cores, as ``labelloop pretrain`` would on them.
PRETRAIN_THREADS = 2

#: Large budget per dataset: 2,000 labels of the letters' 6,000-image pool,
#: the same third of the digits' 1,300-image pool and of the scans' 3,500.
LARGE = {"digits": 433, "letters": 2000, "scans": SCANS_POOL // 3}


def load_dataset(name: str, root: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """``(pool paths, pool labels, test paths, test labels)`` of ``name``, written to ``root``."""
    if name == "digits":
        pixels, targets = load_digits_arrays()
        order = np.random.default_rng(7).permutation(len(targets))
        paths = write_images([digit_image(pixels[i], 32) for i in order], root / "digits")
        labels = np.asarray(targets)[order]
        return paths[:1300], labels[:1300], paths[1300:], labels[1300:]
    if name == "scans":
        return scans_pool_and_test(root)
    pool, pool_labels = make_glyphs(6000, seed=1)
    test, test_labels = make_glyphs(2000, seed=2)
    return (write_images(pool, root / "letters-pool"), np.asarray(pool_labels),
            write_images(test, root / "letters-test"), np.asarray(test_labels))


def pick_labels(labels: np.ndarray, budget: str, large: int, seed: int) -> np.ndarray:
    """Pool positions to label: ``N`` per class, ``Nt`` in total, or ``L`` (``large``) in total."""
    rng = np.random.default_rng(1000 + seed)
    if budget == "L" or budget.endswith("t"):
        total = large if budget == "L" else int(budget[:-1])
        return np.sort(rng.choice(len(labels), total, replace=False))
    per_class = int(budget)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class,
                                              replace=False) for c in np.unique(labels)]))


def run_once(pool: list[str], labels: np.ndarray, test: list[str], test_labels: np.ndarray,
             picked: np.ndarray, seed: int, semi: bool, backbone: dict | None = None
             ) -> tuple[float, float, float, dict | None]:
    """Accuracy on the test set, wall and CPU seconds of one retrain, with or without the pool.

    CPU seconds (of this process) say what the retrain costs where the
    machine is shared: with one torch thread they are the wall time a quiet
    core would take.
    """
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    config = training_config({"seed": seed}, [Image.open(p).size for p in pool[:256]])
    config = replace(config, semi_supervised=semi, num_threads=THREADS, backbone_state=backbone)
    rest = np.setdiff1d(np.arange(len(pool)), picked)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train([pool[i] for i in picked], labels[picked].tolist(), classes, config,
                   unlabeled=[pool[i] for i in rest])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    network = build_network(config.arch, len(classes), config.input_size, pretrained=False)
    network.load_state_dict(result.state_dict)
    scores = predict_all(network, test, config.input_size)
    accuracy = float(np.mean(scores.probs.argmax(1) == test_labels))
    return accuracy, seconds, cpu, result.semi_supervised


def pool_backbone(name: str, pool: list[str]) -> dict | None:
    """A backbone pretrained on ``pool`` as ``labelloop pretrain`` would; None with no budget."""
    if PRETRAIN_BUDGET <= 0:
        return None
    base = training_config({}, [Image.open(p).size for p in pool[:256]])
    result, seconds = pretrain_on_pool(pool, base.input_size, base.arch, PRETRAIN_BUDGET,
                                       PRETRAIN_THREADS)
    print(f"[semi] {name}: backbone pretrained on {len(pool)} pool images, "
          f"{result.steps_run} of {result.planned_steps} steps in {seconds:.0f} s", flush=True)
    return result.state_dict


#: The four ways each draw of labels is trained: (column, from the backbone, semi-supervised).
RECIPES = (("supervised only", False, False), ("from backbone", True, False),
           ("semi-supervised", False, True), ("backbone + semi", True, True))


def test_bench_semi_supervised_against_supervised(tmp_path):
    rows = []
    recipes = [r for r in RECIPES if PRETRAIN_BUDGET > 0 or not r[1]]
    for name in DATASETS:
        pool, labels, test, test_labels = load_dataset(name, tmp_path)
        backbone = pool_backbone(name, pool)
        for budget in BUDGETS:
            acc = {r[0]: [] for r in recipes}
            secs = {r[0]: [] for r in recipes}
            cpus = {r[0]: [] for r in recipes}
            for seed in SEEDS:
                picked = pick_labels(labels, budget, LARGE[name], seed)
                for column, from_backbone, semi in recipes:
                    a, s, c, stats = run_once(pool, labels, test, test_labels, picked, seed,
                                              semi, backbone if from_backbone else None)
                    acc[column].append(a)
                    secs[column].append(s)
                    cpus[column].append(c)
                    print(f"[semi] {name} budget {budget} ({len(picked)} labels) seed {seed} "
                          f"{column}: {a:.3f} in {s:.0f} s"
                          + (f", pseudo-labels kept {stats['mask_rate']:.2f}" if stats else ""),
                          flush=True)
            base, best = np.array(acc[recipes[0][0]]), np.array(acc[recipes[-1][0]])
            rows.append([name, f"{len(picked)}", f"{len(pool) - len(picked)}",
                         *(mean_sd(acc[r[0]]) for r in recipes),
                         f"{best.mean() / base.mean():.2f}x", f"{best.mean() - base.mean():+.3f}",
                         f"{int(np.sum(best > base))}/{len(SEEDS)}",
                         *(f"{np.mean(secs[r[0]]):.0f} s ({np.mean(cpus[r[0]]):.0f} s CPU)"
                           for r in recipes[::len(recipes) - 1])])
    print(f"\n[semi-supervised] held-out accuracy, mean ± sd over seeds {SEEDS}, "
          f"{THREADS} torch thread(s); ratio, difference and seeds won: {recipes[-1][0]} "
          f"against {recipes[0][0]}; retrain: wall (CPU) seconds, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end:")
    print_table(["dataset", "labels", "unlabeled", *(r[0] for r in recipes), "ratio",
                 "difference", "seeds won", f"retrain {recipes[0][0]}",
                 f"retrain {recipes[-1][0]}"], rows)


COST_THREADS = int(os.environ.get("LABELLOOP_BENCH_SEMI_COST_THREADS", "2"))


def test_bench_retrain_cost_of_2000_labels_with_a_10000_image_pool(tmp_path):
    """The issue's cost targets: one retrain of 2,000 labels (with the pool) and scoring speed.

    10,000 letters, 2,000 of them labeled; ``train``'s recipe on
    LABELLOOP_BENCH_SEMI_COST_THREADS torch threads (default 2: the issue's
    2 cores), supervised and then with the other 8,000 as the unlabeled pool;
    then the model scores all 10,000 files, decoding included.
    """
    images, labels = make_glyphs(10000, seed=11)
    paths = write_images(images, tmp_path / "letters")
    picked = np.sort(np.random.default_rng(0).choice(len(paths), 2000, replace=False))
    rest = np.setdiff1d(np.arange(len(paths)), picked)
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    rows = []
    for semi in (False, True):
        config = replace(training_config({"seed": 0}, [Image.open(paths[0]).size]),
                         num_threads=COST_THREADS, semi_supervised=semi)
        started, cpu_started = time.perf_counter(), time.process_time()
        result = train([paths[i] for i in picked], labels[picked].tolist(), classes, config,
                       unlabeled=[paths[i] for i in rest] if semi else None)
        rows.append(["semi-supervised" if semi else "supervised",
                     f"{time.perf_counter() - started:.0f} s",
                     f"{time.process_time() - cpu_started:.0f} s"])
    network = build_network(config.arch, len(classes), config.input_size, pretrained=False)
    network.load_state_dict(result.state_dict)
    torch.set_num_threads(COST_THREADS)
    started = time.perf_counter()
    predict_all(network, paths, config.input_size)
    per_s = len(paths) / (time.perf_counter() - started)
    print(f"\n[retrain cost] 2,000 labels of 10,000 letters, {COST_THREADS} torch threads, "
          f"load average {os.getloadavg()[0]:.1f}; scoring the 10,000 files (decoding "
          f"included): {per_s:.0f} images/s")
    print_table(["retrain", "wall", "CPU"], rows)


def test_bench_scoring_throughput_on_10000_files(tmp_path):
    """The issue's "scoring stays > 1,000 images/s", alone: ``predict_all`` over 10,000 PNGs.

    Against the bare decoding of the same files (the part no network can
    save) in the same process, three runs each, on LABELLOOP_BENCH_SEMI_COST_THREADS
    torch threads. Weights do not change the cost, so the network is untrained.
    """
    from models.data import decode_images

    images, _ = make_glyphs(10000, seed=11)
    paths = write_images(images, tmp_path / "letters")
    input_size = training_config({}, [Image.open(paths[0]).size]).input_size
    network = build_network("small_cnn", 10, input_size, pretrained=False)
    torch.set_num_threads(COST_THREADS)
    rows = []
    for run in range(3):
        started = time.perf_counter()
        decode_images(paths, input_size)
        decoded = len(paths) / (time.perf_counter() - started)
        started = time.perf_counter()
        predict_all(network, paths, input_size)
        scored = len(paths) / (time.perf_counter() - started)
        rows.append([run, f"{scored:.0f}", f"{decoded:.0f}", f"{scored / decoded:.2f}"])
    print(f"\n[scoring] 10,000 PNG files of 28 px at {input_size} px, {COST_THREADS} torch "
          f"threads, load average {os.getloadavg()[0]:.1f}:")
    print_table(["run", "scoring images/s (decoding included)", "decoding alone images/s",
                 "ratio"], rows)
