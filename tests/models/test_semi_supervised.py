"""Semi-supervised training: augmentations, pseudo-labels, the derived plan and a real run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from models.augment import STRONG_OPS, cutout, strong_augment, weak_augment
from models.semi_supervised import (
    MAX_PASSES,
    MAX_STEPS,
    MIN_STEPS,
    OWN_WEIGHT,
    THRESHOLD,
    UNLABELED_RATIO,
    balanced_pseudo_labels,
    confidence_threshold,
    neighbour_smoothed,
    plan_semi_supervised,
    pseudo_labels,
)
from models.train_config import (
    SEMI_SUPERVISED_BELOW_PER_CLASS,
    semi_supervised_applies,
    semi_supervised_setting,
    semi_supervised_shown,
)
from models.training import TrainConfig, TrainingError, plan_training, train


def _batch(n: int = 6, side: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, side, side), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def _ramp(n: int = 32, side: int = 32) -> torch.Tensor:
    """Images dark on the left, light on the right."""
    row = torch.linspace(0, 255, side).round().to(torch.uint8)
    return row.expand(n, 3, side, side).clone()


@pytest.mark.parametrize("augment", [weak_augment, strong_augment])
def test_augmentations_keep_shape_and_dtype_and_repeat_under_a_seed(augment):
    images = _batch()
    first = augment(images, torch.Generator().manual_seed(3), flip=True)
    again = augment(images, torch.Generator().manual_seed(3), flip=True)
    other = augment(images, torch.Generator().manual_seed(4), flip=True)
    assert first.shape == images.shape and first.dtype == torch.uint8
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(first, images)


def test_the_weak_view_never_mirrors_unless_allowed():
    images = _ramp()

    def left_darker(batch: torch.Tensor) -> torch.Tensor:
        half = batch.shape[-1] // 2
        return batch[..., :half].float().mean(dim=(1, 2, 3)) < \
            batch[..., half:].float().mean(dim=(1, 2, 3))

    # Shifts of up to 4 px keep every ramp dark on the left ...
    assert left_darker(weak_augment(images, torch.Generator().manual_seed(0))).all()
    # ... mirroring turns about half of them around.
    mirrored = (~left_darker(weak_augment(images, torch.Generator().manual_seed(0),
                                          flip=True))).sum()
    assert 5 <= int(mirrored) <= 27


def test_the_weak_view_shifts_by_at_most_an_eighth_of_the_side():
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    image[0, :, 16, 16] = 255
    for seed in range(20):
        shifted = weak_augment(image, torch.Generator().manual_seed(seed))
        ys, xs = torch.nonzero(shifted[0, 0] == 255, as_tuple=True)
        assert len(ys) == 1 and abs(int(ys[0]) - 16) <= 4 and abs(int(xs[0]) - 16) <= 4


def test_every_strong_operation_keeps_shape_and_dtype():
    image = _batch(1, 20)[0]
    for name, op in STRONG_OPS.items():
        out = op(image, 1.0, torch.Generator().manual_seed(0))
        assert out.shape == image.shape and out.dtype == torch.uint8, name


def test_cutout_paints_one_square_in_the_mean_colour():
    image = torch.zeros(3, 16, 16, dtype=torch.uint8)
    image[:, :, 8:] = 200  # mean 100
    out = cutout(image, torch.Generator().manual_seed(1), fraction=0.5)
    changed = (out != image).any(dim=0)
    assert changed.any()
    assert set(out[:, changed].unique().tolist()) == {100}
    ys, xs = torch.nonzero((out == 100).all(dim=0), as_tuple=True)
    assert int(ys.max() - ys.min()) < 8 and int(xs.max() - xs.min()) < 8


def test_augmentations_refuse_anything_but_a_uint8_batch():
    with pytest.raises(ValueError, match="uint8"):
        weak_augment(torch.zeros(2, 3, 8, 8), torch.Generator())


def test_pseudo_labels_count_only_confident_rows():
    probs = torch.tensor([[0.96, 0.02, 0.02], [0.5, 0.3, 0.2], [0.0, 0.05, 0.95],
                          [0.1, 0.9, 0.0]])
    targets, mask = pseudo_labels(probs, 0.95)
    assert targets.tolist() == [0, 0, 2, 1]
    assert mask.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert pseudo_labels(probs, 0.5)[1].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_balanced_pseudo_labels_take_each_classes_most_confident_share():
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.4, 0.6],
                          [0.3, 0.7]])
    # Half of 6 rows with equal priors: at most 2 per class (rounded), the most confident.
    rows, targets = balanced_pseudo_labels(probs, 0.5, torch.tensor([0.5, 0.5]))
    assert rows.tolist() == [0, 1, 4, 5] and targets.tolist() == [0, 0, 1, 1]
    # A class the labels never saw gets none, however confident.
    rows, targets = balanced_pseudo_labels(probs, 1.0, torch.tensor([0.0, 1.0]))
    assert rows.tolist() == [4, 5] and targets.tolist() == [1, 1]


def test_the_plan_is_derived_from_the_label_and_pool_counts():
    small = plan_semi_supervised(n_labeled=30, n_pool=1270, num_classes=10, batch_size=64)
    assert (small.batch_size, small.ratio, small.steps) == (30, UNLABELED_RATIO, MIN_STEPS)
    assert small.n_unlabeled == 1270 and small.threshold == THRESHOLD
    big = plan_semi_supervised(n_labeled=1600, n_pool=100_000, num_classes=10, batch_size=64)
    assert big.steps == MAX_STEPS
    # Only what the steps can show twice is decoded.
    assert big.n_unlabeled == MAX_STEPS * 64 * UNLABELED_RATIO // 2 < 100_000
    # Fewer unlabeled than labeled images: one unlabeled per labeled in a step.
    assert plan_semi_supervised(500, 300, 10, 64).ratio == 1
    assert confidence_threshold(100) < THRESHOLD
    assert plan_semi_supervised(30, 1270, 10, 64, steps=7).steps == 7
    # A tiny pool is not shown more than MAX_PASSES times.
    tiny = plan_semi_supervised(n_labeled=8, n_pool=16, num_classes=2, batch_size=32)
    assert (tiny.batch_size, tiny.ratio) == (8, 2)
    assert tiny.steps == MAX_PASSES * 16 // 16 < MIN_STEPS


def test_the_training_plan_names_the_phase_and_the_pool_it_uses():
    labels = np.repeat(np.arange(10), 200)
    config = TrainConfig(epochs=30, min_steps=200, semi_supervised=True)
    alone = plan_training(labels, config)
    assert alone.semi is None and "semi-supervised" not in alone.describe()
    plan = plan_training(labels, config, n_unlabeled=100_000)
    semi = plan.semi
    assert semi == plan_semi_supervised(1600, 100_000, 10, 64)
    assert (f"; then {semi.steps} semi-supervised steps over {semi.n_unlabeled} of 100000 "
            "unlabeled images") in plan.describe()
    # The phase comes after the supervised epochs; they stay as they were.
    assert (plan.epochs, plan.total_steps) == (alone.epochs, alone.total_steps)
    assert plan_training(labels, replace(config, semi_supervised=False), 100_000) == alone


def test_neighbours_outvote_an_isolated_mistake_of_the_model():
    # Two tight clusters far apart; the model got one image of cluster A wrong.
    generator = torch.Generator().manual_seed(0)
    a = torch.tensor([1.0, 0.0, 0.0]) + 0.01 * torch.randn(6, 3, generator=generator)
    b = torch.tensor([0.0, 1.0, 0.0]) + 0.01 * torch.randn(6, 3, generator=generator)
    embeddings = torch.cat([a, b])
    probs = torch.tensor([[0.9, 0.1]] * 6 + [[0.2, 0.8]] * 6)
    probs[0] = torch.tensor([0.3, 0.7])  # the mistake
    smoothed = neighbour_smoothed(probs, embeddings, k=5)
    assert smoothed.argmax(1).tolist() == [0] * 6 + [1] * 6
    assert torch.allclose(smoothed.sum(1), torch.ones(12))
    # Its own row counts with OWN_WEIGHT, its 5 neighbours (all of A but itself) the rest.
    expected = OWN_WEIGHT * probs[0] + (1 - OWN_WEIGHT) * probs[1:6].mean(0)
    assert torch.allclose(smoothed[0], expected)
    # Blocks of any size give the same result.
    assert torch.allclose(neighbour_smoothed(probs, embeddings, k=5, block=5), smoothed)
    # A lone image has no neighbour; fewer images than k use all the others.
    assert torch.equal(neighbour_smoothed(probs[:1], embeddings[:1]), probs[:1])
    two = neighbour_smoothed(probs[:2], embeddings[:2], k=10)
    assert torch.allclose(two[0], OWN_WEIGHT * probs[0] + (1 - OWN_WEIGHT) * probs[1])


def test_the_automatic_setting_adds_the_phase_only_below_ten_labels_per_class():
    auto = TrainConfig(epochs=30, min_steps=200, semi_supervised=None)
    few = np.repeat(np.arange(10), 9)  # 9 per class
    added = plan_training(few, auto, n_unlabeled=1000)
    assert added.semi is not None
    assert any("semi-supervised phase added: fewer than 10 labels per class" in note
               for note in added.notes)
    asked = plan_training(few, replace(auto, semi_supervised=True), 1000)
    assert asked.semi == added.semi and not any("phase added" in n for n in asked.notes)
    assert plan_training(few, replace(auto, semi_supervised=False), 1000).semi is None
    # Counted over the classes that have labels, as the validation split is.
    assert plan_training(np.repeat(np.arange(3), 9), auto, 1000, num_classes=10).semi is not None
    enough = np.repeat(np.arange(10), SEMI_SUPERVISED_BELOW_PER_CLASS)
    assert plan_training(enough, auto, n_unlabeled=1000).semi is None
    assert plan_training(enough, replace(auto, semi_supervised=True), 1000).semi is not None
    assert semi_supervised_applies(None, 99, 10) and not semi_supervised_applies(None, 100, 10)
    assert semi_supervised_applies(True, 10**6, 2) and not semi_supervised_applies(False, 1, 2)
    # The recorded settings say "auto", not a null that reads as "not set".
    assert auto.to_dict()["semi_supervised"] == "auto"
    assert [semi_supervised_setting(w) for w in ("on", "off", "auto", True, None)] == \
        [True, False, None, True, None]
    with pytest.raises(ValueError, match="semi-supervised must be one of"):
        semi_supervised_setting("sometimes")
    # What is shown reads back as the same setting.
    for setting in (True, False, None):
        assert semi_supervised_setting(semi_supervised_shown(setting)) is setting


def test_a_semi_supervised_run_trains_on_the_pool_and_says_so(digits, digit_classes):
    paths, labels = digits
    labeled = [int(np.flatnonzero(labels == c)[0]) for c in range(10)] + \
        [int(np.flatnonzero(labels == c)[1]) for c in range(10)]
    pool = [p for i, p in enumerate(paths[:220]) if i not in set(labeled)]
    config = TrainConfig(epochs=2, batch_size=16, input_size=16, seed=0, val_fraction=0,
                         semi_supervised=True, semi_supervised_steps=12)
    events: list[dict] = []
    result = train([paths[i] for i in labeled], labels[labeled].tolist(), digit_classes,
                   config, progress=events.append, unlabeled=pool)
    stats = result.semi_supervised
    assert stats is not None and stats["steps"] == 12 and stats["n_unlabeled"] == len(pool)
    assert stats["method"] == "self-training" and len(stats["pseudo_labels"]) == 2
    assert 0.0 <= stats["mask_rate"] <= 1.0
    assert [e["epoch"] for e in events] == [1, 2, 3]  # 2 epochs, then one phase report
    assert events[-1]["fraction_done"] == 1.0 and events[-1]["phase"] == "semi-supervised"
    assert result.epochs_run == 2 and len(result.history) == 3
    again = train([paths[i] for i in labeled], labels[labeled].tolist(), digit_classes,
                  config, unlabeled=pool)
    assert all(torch.equal(again.state_dict[k], v) for k, v in result.state_dict.items())
    supervised = train([paths[i] for i in labeled], labels[labeled].tolist(), digit_classes,
                       replace(config, semi_supervised=False), unlabeled=pool)
    assert supervised.semi_supervised is None
    assert not all(torch.equal(supervised.state_dict[k], v)
                   for k, v in result.state_dict.items())


def test_the_fixmatch_method_runs_too_and_an_unknown_one_is_refused(digits, digit_classes):
    paths, labels = digits
    config = TrainConfig(epochs=1, batch_size=16, input_size=16, seed=0, val_fraction=0,
                         semi_supervised=True, semi_supervised_steps=6,
                         semi_supervised_method="fixmatch")
    result = train(paths[:30], labels[:30].tolist(), digit_classes, config,
                   unlabeled=paths[30:130])
    assert result.semi_supervised["method"] == "fixmatch"
    assert result.semi_supervised["steps"] == 6 and 0 <= result.semi_supervised["mask_rate"] <= 1
    with pytest.raises(TrainingError, match="unknown semi-supervised method"):
        train(paths[:30], labels[:30].tolist(), digit_classes,
              replace(config, semi_supervised_method="mixmatch"), unlabeled=paths[30:130])


def test_semi_supervised_without_unlabeled_images_trains_on_the_labels_with_a_note(
        digits, digit_classes):
    paths, labels = digits
    config = TrainConfig(epochs=1, batch_size=16, input_size=16, val_fraction=0,
                         semi_supervised=True)
    result = train(paths[:40], labels[:40].tolist(), digit_classes, config)
    assert result.semi_supervised is None
    assert any("no unlabeled images" in note for note in result.notes)
