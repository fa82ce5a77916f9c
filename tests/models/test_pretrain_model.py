"""The self-supervised objective, augmentation and derived settings, with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from models.networks import build_network
from models.pretrain import augment_batch, load_backbone_state, nt_xent, pretrain_backbone
from models.pretrain_config import CALIBRATION_STEPS, MIN_POOL, plan_pretraining


def test_nt_xent_of_identical_orthogonal_views_has_its_closed_form():
    n, temperature = 3, 0.5
    z = torch.eye(n, 5)
    # Each row: its twin at cosine 1, the 2n - 2 others at cosine 0.
    expected = -math.log(math.exp(1 / temperature) / (math.exp(1 / temperature) + 2 * n - 2))
    assert float(nt_xent(z, z, temperature)) == pytest.approx(expected, rel=1e-6)
    # Views that disagree cost more than views that agree.
    assert float(nt_xent(z, z.roll(1, 0), temperature)) > expected


def test_two_views_of_a_batch_differ_and_keep_its_shape():
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    a, b = augment_batch(images, generator), augment_batch(images, generator)
    assert a.shape == (8, 3, 32, 32) and a.dtype == torch.float32
    assert not torch.allclose(a, b)


@pytest.mark.parametrize(("n", "batch", "epochs"), [(20_000, 128, 10), (1_797, 128, 108),
                                                     (MIN_POOL, 16, 375)])
def test_settings_follow_the_pool_size(n, batch, epochs):
    config = plan_pretraining(n, 32)
    assert (config.batch_size, config.epochs) == (batch, epochs)


def test_a_pool_too_small_is_refused():
    with pytest.raises(ValueError, match="at least 64 images"):
        plan_pretraining(MIN_POOL - 1, 32)


def test_the_time_budget_cuts_the_schedule_after_calibration_and_the_backbone_loads():
    images = torch.randint(0, 256, (MIN_POOL, 3, 16, 16), dtype=torch.uint8)
    config = plan_pretraining(MIN_POOL, 16, time_budget_s=1e-6, num_threads=1)
    result = pretrain_backbone([f"img{i}" for i in range(MIN_POOL)], config, images=images)
    assert result.steps_run == CALIBRATION_STEPS < result.planned_steps
    assert "time budget" in result.notes[0]
    classifier = build_network("small_cnn", 4, 16, pretrained=False)
    load_backbone_state(classifier, result.state_dict)
    assert torch.equal(classifier.state_dict()["features.0.0.weight"],
                       result.state_dict["features.0.0.weight"])
