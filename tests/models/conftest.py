"""Shared fixtures: scikit-learn's digits written as PNG files, and one trained model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from models.training import TrainConfig, TrainResult, train

DIGIT_CLASSES = [str(d) for d in range(10)]

#: The recipe the accuracy test relies on (see test_training.py).
DIGITS_CONFIG = TrainConfig(epochs=10, lr=3e-3, batch_size=32, seed=0)


def write_digits(folder: Path, size: int = 32) -> tuple[list[str], np.ndarray]:
    """Write the 1,797 8x8 digits as grey PNGs upscaled to ``size`` px."""
    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (pixels, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        path = folder / f"{i:04d}_{target}.png"
        image = Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L")
        image.resize((size, size), Image.Resampling.BILINEAR).save(path)
        paths.append(str(path))
    return paths, digits.target.astype(np.int64)


@pytest.fixture(scope="session")
def digit_classes() -> list[str]:
    """Class names of the digits, index i naming digit i."""
    return list(DIGIT_CLASSES)


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], np.ndarray]:
    """``(paths, labels)`` of all 1,797 digits as 32x32 PNG files."""
    return write_digits(tmp_path_factory.mktemp("digits"))


@dataclass(frozen=True)
class TrainedDigits:
    result: TrainResult
    train_paths: list[str]
    test_paths: list[str]
    test_labels: np.ndarray
    progress: list[dict]


@pytest.fixture(scope="session")
def trained_digits(digits: tuple[list[str], np.ndarray]) -> TrainedDigits:
    """A small CNN trained on 500 random digits; the other 1,297 are held out."""
    paths, labels = digits
    order = np.random.default_rng(0).permutation(len(paths))
    train_idx, test_idx = order[:500], order[500:]
    calls: list[dict] = []
    result = train(
        [paths[i] for i in train_idx],
        labels[train_idx].tolist(),
        DIGIT_CLASSES,
        DIGITS_CONFIG,
        progress=calls.append,
    )
    return TrainedDigits(
        result,
        [paths[i] for i in train_idx],
        [paths[i] for i in test_idx],
        labels[test_idx],
        calls,
    )


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Score with one thread: on a shared, busy CI machine OpenMP threads that
    wait for each other make multi-threaded CPU kernels many times slower.
    (Training already uses ``TrainConfig.num_threads``, 1 by default.)"""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
