"""Benchmark: the Likely mislabeled queue on pools with labels flipped on purpose.

Run with ``pytest tests/bench -s``. For two datasets (the digits, and letters
A-J in 24 fonts from ``tests/bench/glyphs.py``) a real project is labeled with
the true classes except for a known set flipped to a random other class, a
model is trained with ``labelloop train``'s defaults, and the queue's top 50
are checked against the flipped set. Two cases:

* *after training*: 500 clean labels train the model; then 600 more are
  given, 10% of them wrong (an annotator's slips the model never saw);
* *in training*: 800 labels, 10% wrong, all trained on (the model partly
  memorises the wrong ones, so this is the hard case).

Baselines in the same process on the same labels and probabilities: random
order (the noise rate, averaged over 200 draws) and "the model disagrees",
ordered by the model's confidence in its own class.  Printed: precision of
the top 50 (and recall of all flipped labels in the top 50).  Nothing is
asserted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli.output import print_table
from app.learning.label_review import likely_mislabeled
from app.learning.scoring import ensure_scores
from app.pool.demo import digit_image, load_digits_arrays
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.bench.glyphs import make_glyphs
from tests.conftest import run_cli

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

TOP = 50
NOISE = 0.10


def _project(root: Path, images: list[Image.Image], labels: np.ndarray) -> dict[int, int]:
    """A project of ``images``; returns sample id -> true class."""
    folder = root / "images"
    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        image.save(folder / f"{i:05d}.png")
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    with Workspace.init(root / "project", classes) as workspace:
        import_images(workspace, [folder])
        return {s.id: int(labels[int(Path(s.path).stem)]) for s in workspace.samples()}


def _label(root: Path, truth: dict[int, int], ids: np.ndarray, flipped: set[int],
           rng: np.random.Generator, n_classes: int) -> None:
    with Workspace.open(root / "project") as workspace:
        for sid in ids.tolist():
            given = truth[sid]
            if sid in flipped:
                given = int(rng.choice([c for c in range(n_classes) if c != given]))
            workspace.label(sid, str(given), "bench")


def _precisions(root: Path, flipped: set[int]) -> list[float]:
    with Workspace.open(root / "project") as workspace:
        queue = likely_mislabeled(workspace)
        ours = [item.sample_id for item in queue[:TOP]]
        labels = workspace.current_labels()
        version = workspace.latest_model()
        scores = ensure_scores(workspace, version)
    ids = np.array(sorted(labels), np.int64)
    probs = scores.probs[scores.rows_for(ids)]
    given = np.array([int(labels[int(s)]) for s in ids])
    disagree = np.flatnonzero(probs.argmax(1) != given)
    by_confidence = disagree[np.argsort(-probs[disagree].max(1), kind="stable")]
    naive = ids[by_confidence][:TOP].tolist()
    rng = np.random.default_rng(0)
    random = np.mean([len(flipped & set(rng.choice(ids, TOP, replace=False).tolist())) / TOP
                      for _ in range(200)])
    return [random, len(flipped & set(naive)) / TOP, len(flipped & set(ours)) / TOP,
            len(flipped & set(ours)) / len(flipped), len(queue)]


@pytest.fixture(scope="module")
def datasets():
    pixels, targets = load_digits_arrays()
    glyphs, letters = make_glyphs(2000, seed=3)
    return {"digits (32 px)": ([digit_image(p, 32) for p in pixels], np.asarray(targets)),
            "letters A-J (28 px)": (glyphs, letters)}


def test_bench_mislabeled_queue(datasets, tmp_path):
    rows = []
    for name, (images, labels) in datasets.items():
        n_classes = int(labels.max()) + 1
        for case in ("after training", "in training"):
            root = tmp_path / f"{name.split()[0]}-{case.split()[0]}"
            truth = _project(root, images, labels)
            rng = np.random.default_rng(7)
            order = rng.permutation(np.array(sorted(truth), np.int64))
            if case == "after training":
                first, later = order[:500], order[500:1100]
                _label(root, truth, first, set(), rng, n_classes)
                run_cli("train", root / "project", "--seed", "0")
                flipped = set(rng.choice(later, int(NOISE * len(later)), replace=False).tolist())
                _label(root, truth, later, flipped, rng, n_classes)
            else:
                labeled = order[:800]
                flipped = set(rng.choice(labeled, int(NOISE * len(labeled)),
                                         replace=False).tolist())
                _label(root, truth, labeled, flipped, rng, n_classes)
                run_cli("train", root / "project", "--seed", "0")
            random, naive, ours, recall, suspects = _precisions(root, flipped)
            rows.append([name, case, f"{len(flipped)}", f"{random:.2f}", f"{naive:.2f}",
                         f"{ours:.2f}", f"{recall:.2f}", f"{suspects}"])
            print(f"\n[mislabeled] {name}, {case}: {rows[-1]}", flush=True)
    print(f"\n[mislabeled] precision of the top {TOP} (flipped labels found / {TOP}):")
    print_table(["dataset", "wrong labels given", "flipped", "random order",
                 "model disagrees", "likely mislabeled", f"recall in top {TOP}",
                 "suspects listed"], rows)
