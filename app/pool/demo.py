"""The built-in demo project: scikit-learn's handwritten digits as image files.

The recipe (size, split) lives in ``assets/demo/recipe.json``.  The digits
ship inside scikit-learn, so building the demo needs no download.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.pool.importer import import_images
from app.project.workspace import Workspace

RECIPE_PATH = Path(__file__).resolve().parents[2] / "assets" / "demo" / "recipe.json"


def load_recipe() -> dict:
    return json.loads(RECIPE_PATH.read_text(encoding="utf-8"))


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(images [1797, 8, 8] in 0..16, targets [1797])`` from scikit-learn."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def digit_image(pixels: np.ndarray, size: int) -> Image.Image:
    """One 8x8 digit (values 0..16) as dark ink on light paper, ``size`` px square."""
    grey = (255 - np.clip(pixels, 0, 16) * (255 / 16)).astype(np.uint8)
    return Image.fromarray(grey, mode="L").resize((size, size), Image.Resampling.BICUBIC)


def write_digits(
    folder: Path, indices: Sequence[int], *, size: int, by_class: bool
) -> list[tuple[str, str]]:
    """Write digits as PNG files; return ``(relative file, label)`` for each.

    With ``by_class`` the files go in one subfolder per class (ImageFolder
    layout); otherwise they all go flat into ``folder``.
    """
    images, targets = load_digits_arrays()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in indices:
        label = str(int(targets[index]))
        name = f"digit_{index:04d}.png"
        relative = f"{label}/{name}" if by_class else name
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        digit_image(images[index], size).save(folder / relative)
        written.append((relative, label))
    return written


@dataclass(frozen=True)
class DemoPaths:
    project: Path
    truth_csv: Path
    simulate_pool: Path
    simulate_test: Path


def build_demo(folder: str | Path) -> DemoPaths:
    """Create (or reuse) the demo under ``folder``.

    ``folder/project``       an unlabeled pool of all 1,797 digits, classes 0-9
    ``folder/truth.csv``     their true labels (``file,label``), kept aside
    ``folder/simulate/``     an ImageFolder pool/test split for ``labelloop simulate``
    """
    recipe = load_recipe()
    folder = Path(folder).resolve()
    paths = DemoPaths(
        folder / "project", folder / "truth.csv",
        folder / "simulate" / "pool", folder / "simulate" / "test",
    )
    if (paths.project / "labelloop.sqlite").exists() and paths.truth_csv.exists():
        return paths
    size = int(recipe["image_size"])
    _, targets = load_digits_arrays()
    everything = list(range(len(targets)))
    with Workspace.init(paths.project, recipe["classes"]) as workspace:
        truth = write_digits(paths.project / "pool", everything, size=size, by_class=False)
        import_images(workspace, [paths.project / "pool"], workers=1)
    with open(paths.truth_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows(truth)
    order = np.random.default_rng(int(recipe["split_seed"])).permutation(len(targets))
    n_test = int(round(len(targets) * float(recipe["simulate_test_fraction"])))
    write_digits(paths.simulate_test, sorted(order[:n_test].tolist()), size=size, by_class=True)
    write_digits(paths.simulate_pool, sorted(order[n_test:].tolist()), size=size, by_class=True)
    return paths
