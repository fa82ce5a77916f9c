"""What the label-budget benchmarks share: their datasets, label draws and scoring.

The cold-start, pretraining and semi-supervised benchmarks all ask "how good
is the model ``labelloop train`` fits on these few labels?" on the same two
datasets (the digits and letters A-J in 22 fonts, so that nothing is fitted
to one look; the ``simulate`` ones also MNIST scans). Keeping the draws here keeps them comparable: the same seed
labels the same images in every one of them.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.pool.demo import build_demo, digit_image, load_digits_arrays
from models.inference import predict_all
from models.networks import build_network
from models.pretrain import PretrainResult, pretrain_backbone
from models.pretrain_config import plan_pretraining
from models.train_config import TrainConfig
from models.training import train
from tests.bench.glyphs import CLASSES, make_glyphs
from tests.bench.scans import load_scans

#: Benchmarks run only when asked for (``make bench``, a path with "bench").
only_when_benchmarking = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)


def env_ints(name: str, default: str) -> list[int]:
    """A comma-separated list of integers from the environment (seeds, budgets)."""
    return [int(s) for s in os.environ.get(name, default).split(",")]


def write_images(images: list[Image.Image], folder: Path) -> list[str]:
    """Save ``images`` as numbered PNGs in ``folder``; their paths, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{i:05d}.png"
        image.save(path)
        paths.append(str(path))
    return paths


#: Names of the label-budget datasets, as the benchmarks' environment variables take them.
LABEL_DATASETS = ("digits", "letters", "scans")


def label_datasets(root: Path, names: Sequence[str] = ("digits", "letters"),
                   letters: int = 3000) -> dict[str, tuple[list[str], np.ndarray]]:
    """Datasets ``names`` written under ``root``: the digits (1,797 at 32 px), ``letters``
    glyph images (28 px) and the 5,000 MNIST scans (28 px), keyed by a printable name."""
    unknown = set(names) - set(LABEL_DATASETS)
    if unknown:
        raise ValueError(f"unknown dataset(s) {sorted(unknown)}: expected {LABEL_DATASETS}")
    found = {}
    if "digits" in names:
        pixels, targets = load_digits_arrays()
        found["digits (32 px)"] = (write_images([digit_image(p, 32) for p in pixels],
                                                root / "digits"), np.asarray(targets))
    if "letters" in names:
        glyphs, glyph_labels = make_glyphs(letters, seed=1)
        found["letters A-J (28 px)"] = (write_images(glyphs, root / "glyphs"), glyph_labels)
    if "scans" in names:
        scans, scan_labels = load_scans()
        found["MNIST scans (28 px)"] = (write_images(scans, root / "scans"), scan_labels)
    return found


#: Pool / test sizes of the ``simulate`` benchmarks' datasets besides the
#: demo's digits (1,348 / 449): letters drawn for the purpose, and the 5,000
#: scans split 70 / 30.
LETTERS_POOL, LETTERS_TEST = 1500, 750
SCANS_POOL = 3500


def shuffled_scans() -> tuple[list[Image.Image], np.ndarray]:
    """The 5,000 scans in one fixed random order: the first :data:`SCANS_POOL` are the pool."""
    images, labels = load_scans()
    order = np.random.default_rng(7).permutation(len(labels))
    return [images[i] for i in order], labels[order]


def scans_pool_and_test(root: Path) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """The shuffled scans written under ``root``: ``(pool paths, pool labels, test paths,
    test labels)``, the first :data:`SCANS_POOL` the pool and the rest the test set."""
    images, labels = shuffled_scans()
    paths = write_images(images, root / "scans")
    return paths[:SCANS_POOL], labels[:SCANS_POOL], paths[SCANS_POOL:], labels[SCANS_POOL:]


def simulate_folders(name: str, root: Path) -> tuple[Path, Path]:
    """``(pool, test)`` class folders of dataset ``name`` (digits, letters, scans) under ``root``."""
    if name == "digits":
        demo = build_demo(root / "demo")
        return demo.simulate_pool, demo.simulate_test
    if name == "letters":
        images, labels = make_glyphs(LETTERS_POOL + LETTERS_TEST, seed=1)
        names, pool_size = CLASSES, LETTERS_POOL
    elif name == "scans":
        images, labels = shuffled_scans()
        names, pool_size = tuple(str(c) for c in range(10)), SCANS_POOL
    else:
        raise ValueError(f"unknown dataset {name!r}: digits, letters or scans")
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / name / ("pool" if i < pool_size else "test") / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:05d}.png")
    return root / name / "pool", root / name / "test"


def pretrain_on_pool(paths: list[str], input_size: int, arch: str, time_budget_s: float,
                     num_threads: int) -> tuple[PretrainResult, float]:
    """A backbone pretrained on ``paths`` as ``labelloop pretrain`` plans it, and the seconds taken."""
    plan = plan_pretraining(len(paths), input_size, arch=arch, time_budget_s=time_budget_s,
                            num_threads=num_threads)
    started = time.perf_counter()
    result = pretrain_backbone(paths, plan)
    return result, time.perf_counter() - started


def per_class_split(labels: np.ndarray, per_class: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` random positions of each class to label, and the rest (held out)."""
    rng = np.random.default_rng(1000 + seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                             for c in np.unique(labels)])
    return picked, np.setdiff1d(np.arange(len(labels)), picked)


def trained_accuracy(paths: list[str], labels: np.ndarray, picked: np.ndarray,
                     held_out: np.ndarray, config: TrainConfig) -> float:
    """Train on ``picked`` with ``config``; accuracy on ``held_out`` (positions into ``paths``)."""
    classes = [str(c) for c in range(int(labels.max()) + 1)]
    result = train([paths[i] for i in picked], labels[picked].tolist(), classes, config)
    network = build_network(config.arch, len(classes), config.input_size, pretrained=False)
    network.load_state_dict(result.state_dict)
    scores = predict_all(network, [paths[i] for i in held_out], config.input_size)
    return float(np.mean(scores.probs.argmax(1) == labels[held_out]))


def mean_sd(values) -> str:
    values = np.asarray(values, dtype=np.float64)
    return f"{values.mean():.3f} ± {values.std():.3f}"
