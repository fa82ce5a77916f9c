"""Evaluating a model version on a fixed, labeled test folder.

The folder is ImageFolder-style (one subfolder per class, named like the
project's classes).  Results are stored on the version, so versions can be
compared on the same test set later.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from app.domain.records import ModelVersion
from app.files.image_io import IMAGE_SUFFIXES
from app.learning.model_registry import load_learner
from app.project.workspace import Workspace, WorkspaceError


def read_labeled_folder(folder: str | os.PathLike[str], classes: list[str]
                        ) -> tuple[list[str], list[int]]:
    """Image files under ``folder/CLASS/`` with their class index.

    Raises
    ------
    WorkspaceError
        When the folder is missing, empty, or has subfolders that are not
        classes of the project (listed by name).
    """
    root = Path(folder)
    if not root.is_dir():
        raise WorkspaceError(f"{root}: not a folder")
    subfolders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [name for name in subfolders if name not in classes]
    if unknown:
        raise WorkspaceError(
            f"{root}: subfolders {', '.join(map(repr, unknown))} are not classes of this "
            f"project ({', '.join(classes)})"
        )
    paths, labels = [], []
    for name in subfolders:
        for path in sorted((root / name).rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                paths.append(str(path))
                labels.append(classes.index(name))
    if not paths:
        raise WorkspaceError(f"{root}: no images in class subfolders")
    return paths, labels


def fingerprint_of_test_set(root: Path, paths: list[str]) -> str:
    """Names and sizes of the test files, hashed: tells whether a test set changed."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{Path(path).relative_to(root).as_posix()}\t{os.path.getsize(path)}\n"
                      .encode())
    return digest.hexdigest()


def evaluate_version(workspace: Workspace, version: ModelVersion, test_dir: str | os.PathLike[str]
                     ) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class figures of ``version`` on ``test_dir``; stored."""
    from models.metrics import classification_metrics

    root = Path(test_dir).resolve()
    classes = list(version.classes)
    paths, labels = read_labeled_folder(root, classes)
    scores = load_learner(workspace, version).predict_all(paths, on_error="nan")
    readable = ~np.isnan(scores.probs).any(axis=1)
    predicted = scores.probs[readable].argmax(axis=1)
    truth = np.asarray(labels)[readable]
    metrics = classification_metrics(truth.tolist(), predicted.tolist(), classes)
    metrics["fingerprint"] = fingerprint_of_test_set(root, paths)
    metrics["unreadable"] = int((~readable).sum())
    workspace.add_evaluation(version.id, str(root), int(readable.sum()), metrics)
    return {
        "model": version.id,
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "per_class": metrics["per_class"],
        "n": int(readable.sum()),
    }
