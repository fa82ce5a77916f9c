"""Benchmark: training seconds per epoch and scoring images/s on the digits.

Run with ``pytest tests/bench -s``. Each figure is printed next to a baseline
measured in the same process (interleaved, best of several rounds, because the
machines are shared):

* training: ``train()`` per epoch vs the bare optimiser loop on the same
  number of pre-normalised tensors (no decoding, augmentation or loader), so
  the ratio is the cost of the data pipeline and bookkeeping;
* scoring: ``predict()`` images/s vs decoding the same files alone (the
  floor for any file-based scorer), with and without 20 MC-dropout passes.

Nothing is asserted on time. Everything runs with one torch thread, the
training default (see ``TrainConfig.num_threads``).
LABELLOOP_BENCH_MODELS_EPOCHS sets the epochs per training run (default 3).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from models.data import decode_images, eval_transform
from models.inference import predict_all, predict_tensors
from models.networks import build_network
from models.training import TrainConfig, train

pytestmark = pytest.mark.skipif(
    os.environ.get("LABELLOOP_BENCH") != "1" and not any("bench" in a for a in sys.argv[1:]),
    reason="benchmark: run `pytest tests/bench -s`",
)

EPOCHS = int(os.environ.get("LABELLOOP_BENCH_MODELS_EPOCHS", "3"))
CONFIG = TrainConfig(epochs=EPOCHS, lr=3e-3, batch_size=32, input_size=32, patience=0)


def _write_digits(folder: Path, size: int = 32) -> tuple[list[str], list[int]]:
    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(digits.images):
        path = folder / f"{i:04d}.png"
        image = Image.fromarray((pixels * 255 / 16).astype(np.uint8), mode="L")
        image.resize((size, size), Image.Resampling.BILINEAR).save(path)
        paths.append(str(path))
    return paths, digits.target.tolist()


def _race(candidates: dict[str, Callable[[], object]], rounds: int = 3) -> dict[str, float]:
    """Best wall time of each function, taking turns each round."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[int]]:
    return _write_digits(tmp_path_factory.mktemp("bench_digits"))


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_bench_training_seconds_per_epoch(digits):
    paths, labels = digits[0][:500], digits[1][:500]
    classes = [str(d) for d in range(10)]
    n_train = 400  # 500 labels minus the 20 % validation split

    torch.manual_seed(0)
    model = build_network("small_cnn", 10, 32)
    images = eval_transform()(decode_images(paths[:n_train], 32))
    targets = torch.as_tensor(labels[:n_train])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def bare_loop() -> None:
        model.train()
        for _ in range(EPOCHS):
            for start in range(0, n_train, CONFIG.batch_size):
                optimizer.zero_grad()
                batch = slice(start, start + CONFIG.batch_size)
                loss = torch.nn.functional.cross_entropy(model(images[batch]), targets[batch])
                loss.backward()
                optimizer.step()

    results = []
    times = _race(
        {"bare": bare_loop, "train": lambda: results.append(train(paths, labels, classes, CONFIG))}
    )
    per_epoch = times["train"] / EPOCHS
    bare = times["bare"] / EPOCHS
    result = results[-1]
    print(
        f"\n[models] train(): {per_epoch:.2f} s/epoch on {result.n_train} digits at 32 px "
        f"(bare optimiser loop {bare:.2f} s/epoch; train/bare = {per_epoch / bare:.2f}x); "
        f"epoch times {[round(h['seconds'], 2) for h in result.history]}; "
        f"val accuracy after {EPOCHS} epochs {result.metrics['accuracy']:.3f}"
    )


def test_bench_scoring_images_per_second(digits):
    paths = digits[0]
    torch.manual_seed(0)
    model = build_network("small_cnn", 10, 32)
    decoded = decode_images(paths, 32)

    times = _race(
        {
            "decode only": lambda: decode_images(paths, 32),
            "predict": lambda: predict_all(model, paths, 32),
            "predict mc=20": lambda: predict_all(model, paths, 32, mc_samples=20),
            "predict_tensors": lambda: list(predict_tensors(model, decoded)),
        }
    )
    n = len(paths)
    rates = {name: n / seconds for name, seconds in times.items()}
    floor = rates["decode only"]
    print(f"\n[models] scoring {n} digit files at 32 px, 1 thread:")
    for name, rate in rates.items():
        print(f"[models]   {name:16s} {rate:9.0f} images/s  ({rate / floor:.2f}x decode-only)")
    print(
        f"[models]   MC dropout with T=20 costs {times['predict mc=20'] / times['predict']:.2f}x "
        "a plain pass (the head alone is re-run)"
    )
