"""Benchmark: how well targeted mining finds more of a failure's class, on the digits.

Run with ``pytest tests/bench -s``. A small_cnn is trained on 200 random
labels of the 1,797-digit demo pool. Then, for each class c in turn, the
failure set is 20 unlabeled pool samples of class c (the GUI's "mark as
failure"), and the unlabeled pool is mined by ``phash``, ``embedding`` and
``both``. Printed per method, as precision (share of class c) in the top k:

* P@50, P@100, P@200, and the base rate (class c's share of the candidates,
  what a random queue gets) as the baseline they are compared with;
* the ceiling at 200: only about 140 candidates of a class are left (about
  180 per class, minus ~20 labeled and the 20 failures), so P@200 cannot
  exceed about 0.7; R-precision (precision in the top R, R = the number of
  class-c candidates) is the figure that can reach 1.

The embedding figure is asserted (P@100 >= 0.8, mean over the ten classes);
the others are printed only. LABELLOOP_BENCH_MINING_EPOCHS sets the training
epochs (default 15), LABELLOOP_BENCH_MINING_SEED the label draw and training
seed (default 0).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter

import numpy as np
import pytest

from app.pool.label_import import import_labels
from app.project.workspace import Workspace
from app.targeted.failure_mining import MINING_METHODS, mine_failures
from app.targeted.failure_sets import add_samples
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

N_LABELS = 200
N_FAILURES = 20
TOP = 200


def _precision(ids: list[int], truth: dict[int, str], cls: str, k: int) -> float:
    top = ids[:k]
    return sum(truth[i] == cls for i in top) / max(len(top), 1)


def test_mining_precision_on_the_digits(digits_demo, tmp_path):
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(digits_demo.project, root)
    with open(digits_demo.truth_csv, newline="") as handle:
        rows = [(r["file"], r["label"]) for r in csv.DictReader(handle)]
    seed = int(os.environ.get("LABELLOOP_BENCH_MINING_SEED", "0"))
    rng = np.random.default_rng(seed)
    labeled = [rows[i] for i in sorted(rng.choice(len(rows), N_LABELS, replace=False))]
    with open(tmp_path / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows(labeled)
    with Workspace.open(root) as ws:
        import_labels(ws, tmp_path / "labels.csv", "bench")
        by_name = {s.path.rsplit("/", 1)[-1]: s.id for s in ws.samples()}
    truth = {by_name[f]: label for f, label in rows}
    epochs = os.environ.get("LABELLOOP_BENCH_MINING_EPOCHS", "15")
    out = run_cli("train", root, "--epochs", epochs, "--seed", str(seed), "--json").stdout
    accuracy = json.loads(out.splitlines()[-1]).get("metrics", {}).get("accuracy")
    print(f"\nmodel: {N_LABELS} labels (seed {seed}), {epochs} epochs, "
          f"validation accuracy {accuracy}")

    results: dict[str, list[dict[str, float]]] = {m: [] for m in MINING_METHODS}
    base_rates = []
    with Workspace.open(root) as ws:
        labels = ws.current_labels()
        unlabeled = [i for i in sorted(truth) if i not in labels]
        for cls in sorted(set(truth.values())):
            members = [i for i in unlabeled if truth[i] == cls]
            failures = sorted(rng.choice(members, N_FAILURES, replace=False).tolist())
            add_samples(ws, f"class-{cls}", failures)
            n_candidates = len(unlabeled) - N_FAILURES
            relevant = len(members) - N_FAILURES
            base_rates.append(relevant / n_candidates)
            for method in MINING_METHODS:
                ids = [m.sample_id for m in mine_failures(ws, f"class-{cls}", n_candidates,
                                                          method)]
                assert not set(ids) & set(failures) and not set(ids) & set(labels)
                results[method].append({
                    "class": float(cls),
                    "p50": _precision(ids, truth, cls, 50),
                    "p100": _precision(ids, truth, cls, 100),
                    "p200": _precision(ids, truth, cls, TOP),
                    "ceiling200": min(relevant, TOP) / TOP,
                    "r_precision": _precision(ids, truth, cls, relevant),
                })
    base = float(np.mean(base_rates))
    print(f"mining {N_FAILURES} failures of one class; base rate (random queue) {base:.3f}")
    print(f"{'method':<10} {'P@50':>6} {'P@100':>6} {'P@200':>6} {'ceil@200':>8} "
          f"{'R-prec':>6} {'min P@100':>9} {'P@100/base':>10}")
    for method, per_class in results.items():
        mean = {key: float(np.mean([r[key] for r in per_class])) for key in per_class[0]}
        worst = min(per_class, key=lambda r: r["p100"])
        print(f"{method:<10} {mean['p50']:>6.3f} {mean['p100']:>6.3f} {mean['p200']:>6.3f} "
              f"{mean['ceiling200']:>8.3f} {mean['r_precision']:>6.3f} "
              f"{worst['p100']:>6.3f} (c{int(worst['class'])}) {mean['p100'] / base:>7.1f}x")
    per_class = Counter({int(r["class"]): round(r["p100"], 2) for r in results["embedding"]})
    print(f"embedding P@100 per class: {dict(sorted(per_class.items()))}")
    assert np.mean([r["p100"] for r in results["embedding"]]) >= 0.8
