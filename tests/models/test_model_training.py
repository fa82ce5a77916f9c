"""Training on the real digits: accuracy, reproducibility, cancellation, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from app.learning.checkpoint_file import save_checkpoint
from models.inference import predict_all
from models.networks import build_network
from models.training import (
    TrainConfig,
    TrainingCancelled,
    TrainingError,
    epochs_for,
    plan_training,
    split_train_val,
    train,
)

TINY = TrainConfig(epochs=2, batch_size=32, input_size=16, seed=0)


def _tiny_subset(digits, n=150):
    paths, labels = digits
    return paths[:n], labels[:n].tolist()


def test_digits_held_out_accuracy(trained_digits):
    run = trained_digits.result
    assert run.input_shape == (3, 32, 32)
    assert (run.n_train, run.n_val) == (400, 100)
    net = build_network("small_cnn", 10, 32, pretrained=False)
    net.load_state_dict(run.state_dict)
    scores = predict_all(net, trained_digits.test_paths, 32)
    accuracy = float(np.mean(scores.probs.argmax(1) == trained_digits.test_labels))
    print(
        f"held-out digits accuracy: {accuracy:.4f} ({run.epochs_run} epochs, "
        f"{run.duration_s:.1f} s)"
    )
    assert accuracy >= 0.85
    assert run.metrics["accuracy"] >= 0.85
    assert run.metrics["split"] == "validation"


def test_result_history_and_progress(trained_digits):
    run, calls = trained_digits.result, trained_digits.progress
    assert len(calls) == len(run.history) == run.epochs_run
    assert 1 <= run.best_epoch <= run.epochs_run
    keys = {"epoch", "epochs", "loss", "val_loss", "val_accuracy", "fraction_done"}
    assert all(keys <= set(call) for call in calls)
    assert [c["epoch"] for c in calls] == list(range(1, run.epochs_run + 1))
    assert calls[-1]["fraction_done"] == pytest.approx(run.epochs_run / calls[-1]["epochs"])
    assert calls[-1]["loss"] < calls[0]["loss"]
    best = min(c["val_loss"] for c in calls)
    assert calls[run.best_epoch - 1]["val_loss"] == best
    # Stratified split: each digit keeps its share of the 100 validation images.
    supports = [c["support"] for c in run.metrics["per_class"].values()]
    assert sum(supports) == 100 and min(supports) >= 8
    json.dumps(run.metrics)
    json.dumps(run.history)


def test_same_seed_same_checkpoint_bytes(digits, tmp_path):
    paths, labels = _tiny_subset(digits)
    first = train(paths, labels, [str(d) for d in range(10)], TINY)
    second = train(paths, labels, [str(d) for d in range(10)], TINY)
    other = train(
        paths,
        labels,
        [str(d) for d in range(10)],
        TrainConfig(**{**TINY.to_dict(), "warm_start_state": None, "seed": 1}),
    )
    sha = [
        save_checkpoint(r.state_dict, tmp_path / f"{i}.pt")
        for i, r in enumerate((first, second, other))
    ]
    assert sha[0] == sha[1]
    assert sha[0] != sha[2]

    def without_time(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert without_time(first.history) == without_time(second.history)


def test_decoding_on_every_access_matches_the_cache(digits, tmp_path):
    paths, labels = _tiny_subset(digits, 80)
    classes = [str(d) for d in range(10)]
    cached = train(paths, labels, classes, TINY)
    streamed = train(
        paths,
        labels,
        classes,
        TrainConfig(**{**TINY.to_dict(), "warm_start_state": None, "cache_bytes": 0}),
    )
    assert any("decoded on every access" in note for note in streamed.notes)
    assert save_checkpoint(cached.state_dict, tmp_path / "a.pt") == save_checkpoint(
        streamed.state_dict, tmp_path / "b.pt"
    )


def test_global_torch_state_is_restored(digits):
    paths, labels = _tiny_subset(digits, 60)
    torch.manual_seed(123)
    rng = torch.get_rng_state()
    threads = torch.get_num_threads()
    train(paths, labels, [str(d) for d in range(10)], TINY)
    assert torch.equal(torch.get_rng_state(), rng)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_should_stop_cancels(digits):
    paths, labels = _tiny_subset(digits, 100)
    polls = []

    def stop_on_third_batch() -> bool:
        polls.append(1)
        return len(polls) >= 3

    threads = torch.get_num_threads()
    with pytest.raises(TrainingCancelled):
        train(paths, labels, [str(d) for d in range(10)], TINY, should_stop=stop_on_third_batch)
    assert len(polls) == 3
    assert torch.get_num_threads() == threads


def test_classes_without_samples_are_allowed_but_two_need_samples(digits):
    paths, labels = digits
    picked = [i for i in range(200) if labels[i] in (0, 1)]
    run = train(
        [paths[i] for i in picked],
        [int(labels[i]) for i in picked],
        ["zero", "one", "unused"],
        TrainConfig(epochs=1, input_size=16),
    )
    assert run.state_dict["fc.weight"].shape[0] == 3
    assert run.metrics["per_class"]["unused"]["support"] == 0
    only_zero = [i for i in range(50) if labels[i] == 0]
    with pytest.raises(TrainingError, match="class 'one' has no labeled samples"):
        train([paths[i] for i in only_zero], [0] * len(only_zero), ["zero", "one"], TINY)


def test_bad_inputs_are_refused(digits, tmp_path):
    paths, labels = _tiny_subset(digits, 20)
    classes = [str(d) for d in range(10)]
    with pytest.raises(TrainingError, match="20 paths but 19 labels"):
        train(paths, labels[:-1], classes, TINY)
    with pytest.raises(TrainingError, match="class indices"):
        train(paths, [*labels[:-1], 10], classes, TINY)
    with pytest.raises(TrainingError, match="architecture"):
        train(paths, labels, classes, TrainConfig(arch="vgg"))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"garbage")
    with pytest.raises(TrainingError, match="broken.png"):
        train([*paths, str(broken)], [*labels, 3], classes, TINY)
    with pytest.raises(TrainingError, match="broken.png"):  # also when the size is derived
        train([*paths, str(broken)], [*labels, 3], classes, TrainConfig(epochs=1))


def test_tiny_sets_fall_back_and_say_so(digits):
    paths, labels = digits
    zeros = [i for i in range(200) if labels[i] == 0][:19]
    ones = [i for i in range(60) if labels[i] == 1][:1]
    picked = zeros + ones
    run = train(
        [paths[i] for i in picked],
        [int(labels[i]) for i in picked],
        ["0", "1"],
        TrainConfig(epochs=1, input_size=16, val_fraction=0.25),
    )
    assert any("not stratified" in note for note in run.notes)
    pair = [zeros[0], ones[0]]
    run = train([paths[i] for i in pair], [0, 1], ["0", "1"], TrainConfig(epochs=2, input_size=16))
    assert run.n_val == 0 and run.metrics["split"] == "none"
    assert run.best_epoch == run.epochs_run == 2
    assert run.history[0]["val_loss"] is None


def test_few_labels_train_on_everything_and_claim_no_accuracy(digits):
    """30 labels (3 per class): no 6-sample validation split, no accuracy presented as a fact."""
    paths, labels = digits
    picked = [i for c in range(10) for i in np.flatnonzero(labels == c)[:3]]
    config = TrainConfig(epochs=2, input_size=16, val_fraction=0.2, patience=1)
    run = train([paths[i] for i in picked], labels[picked].tolist(),
                [str(d) for d in range(10)], config)
    assert (run.n_train, run.n_val) == (30, 0)
    assert run.metrics["split"] == "none" and run.metrics["n"] == 0
    assert run.metrics["accuracy"] is None and run.metrics["macro_f1"] is None
    assert "not enough labels to validate" in run.metrics["not_validated"]
    assert not run.stopped_early
    json.dumps(run.metrics)
    # One label short of 10 per class still holds nothing out; 10 per class does.
    nine = np.repeat(np.arange(10), 9)
    assert len(split_train_val(nine, 0.2, seed=0)[1]) == 0
    assert len(split_train_val(np.repeat(np.arange(10), 10), 0.2, seed=0)[1]) == 20
    # Classes without labels do not count towards the threshold.
    assert len(split_train_val(np.repeat([0, 1], 10), 0.2, seed=0)[1]) == 4


def test_early_stopping_never_ends_training_before_min_steps(digits):
    """Shuffled labels make the validation loss lowest at epoch 1 (the class
    priors), so patience 1 alone stops at once and keeps epoch 1: min_steps
    forbids both stopping and keeping any epoch before it."""
    paths, labels = _tiny_subset(digits, 200)
    labels = np.random.default_rng(0).permutation(labels).tolist()
    base = TrainConfig(epochs=12, batch_size=64, input_size=16, lr=3e-3, patience=1, seed=3)
    free = train(paths, labels, [str(d) for d in range(10)], base)
    assert free.stopped_early and free.best_epoch < 8  # the defect this guards against
    config = replace(base, min_steps=8 * 3)  # 160 training images: 3 steps per epoch
    plan = plan_training(labels, config)
    assert (plan.n_train, plan.steps_per_epoch, plan.min_steps_epoch) == (160, 3, 8)
    assert plan.early_stopping and "early stopping after epoch 8" in plan.describe()
    run = train(paths, labels, [str(d) for d in range(10)], config)
    assert run.epochs_run >= 8 and run.best_epoch >= 8


def test_plan_says_what_will_happen():
    labels = np.repeat(np.arange(10), 3)
    plan = plan_training(labels, TrainConfig(epochs=15, batch_size=64, min_steps=200))
    assert (plan.n_train, plan.n_val, plan.epochs, plan.total_steps) == (30, 0, 200, 200)
    assert not plan.early_stopping
    assert plan.describe() == ("30 labels to train on, no validation split; up to 200 epochs "
                               "(raised from 15 to reach 200 steps), no early stopping")
    enough = plan_training(np.repeat(np.arange(10), 100), TrainConfig(epochs=30, min_steps=200))
    assert enough.describe() == ("800 labels to train on, 200 labels held out for validation; "
                                 "up to 30 epochs (390 steps), early stopping after epoch 16")
    assert any("epochs raised from 15 to 200" in note for note in plan.notes)
    assert any("not enough labels to validate" in note for note in plan.notes)


def test_split_is_stratified_and_deterministic():
    labels = np.repeat(np.arange(4), [40, 30, 20, 10])
    train_idx, val_idx, note = split_train_val(labels, 0.2, seed=0)
    assert note is None
    assert len(val_idx) == 20 and len(np.intersect1d(train_idx, val_idx)) == 0
    assert np.bincount(labels[val_idx]).tolist() == [8, 6, 4, 2]
    again = split_train_val(labels, 0.2, seed=0)
    assert np.array_equal(again[1], val_idx)
    assert not np.array_equal(split_train_val(labels, 0.2, seed=1)[1], val_idx)


def test_warm_start_keeps_fitting_weights_and_replaces_the_classifier(trained_digits, digits):
    paths, labels = digits
    previous = trained_digits.result.state_dict
    eleven = [str(d) for d in range(10)] + ["new"]
    run = train(
        paths[:64],
        labels[:64].tolist(),
        eleven,
        TrainConfig(epochs=1, lr=1e-7, input_size=32, warm_start_state=previous),
    )
    assert run.weights_source == "warm-start"
    assert any("fc.weight" in note for note in run.notes)
    assert run.state_dict["fc.weight"].shape == (11, 512)
    conv = "features.0.0.weight"
    assert torch.allclose(run.state_dict[conv], previous[conv], atol=1e-5)
    with pytest.raises(TrainingError, match="warm_start_state"):
        train(
            paths[:64],
            labels[:64].tolist(),
            eleven,
            TrainConfig(epochs=1, warm_start_state={"nothing": torch.zeros(1)}),
        )


def test_min_steps_raises_the_epochs_for_few_labels(digits):
    paths, labels = _tiny_subset(digits, 40)
    config = TrainConfig(epochs=1, batch_size=16, input_size=16, val_fraction=0, patience=0,
                         min_steps=9)
    assert epochs_for(config, 40) == 3  # 3 batches per epoch: 3 epochs reach 9 steps
    run = train(paths, labels, [str(d) for d in range(10)], config)
    assert run.epochs_run == 3 and [h["epochs"] for h in run.history] == [3, 3, 3]
    assert any("epochs raised from 1 to 3" in note for note in run.notes)
    assert epochs_for(TrainConfig(epochs=5, batch_size=16, min_steps=9), 400) == 5
