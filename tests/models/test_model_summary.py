"""describe_network / format_summary on the real networks."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from models.networks import PretrainedWeightsWarning, build_network
from models.summary import describe_network, format_summary


@pytest.mark.parametrize("arch,size", [("small_cnn", 32), ("resnet18", 64)])
def test_totals_equal_the_parameter_count(arch, size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PretrainedWeightsWarning)
        model = build_network(arch, 10, size, pretrained=False)
    rows = describe_network(model, (3, size, size))
    expected = sum(p.numel() for p in model.parameters())
    assert sum(row["params"] for row in rows) == expected
    assert rows[0]["name"] == "" and rows[0]["total_params"] == expected
    by_name = {row["name"]: row for row in rows}
    assert by_name["fc"]["output_shape"] == [10]
    assert by_name["fc"]["params"] == model.fc.weight.numel() + model.fc.bias.numel()
    assert by_name["dropout"]["output_shape"] == [model.fc.in_features]
    assert rows[0]["output_shape"] == [10]
    text = format_summary(rows, (3, size, size))
    assert f"Total params: {expected:,}" in text
    assert f"Input shape: [3, {size}, {size}]" in text


def test_shapes_depth_and_mode_are_right():
    model = build_network("small_cnn", 3, 32)
    model.train()
    rows = describe_network(model, (3, 32, 32))
    by_name = {row["name"]: row for row in rows}
    assert by_name["features.0.0"]["output_shape"] == [32, 32, 32]  # first conv
    assert by_name["features.0"]["output_shape"] == [32, 16, 16]  # after pooling
    assert by_name["features.0.0"]["depth"] == 3
    assert by_name["features.0.0"]["type"] == "Conv2d"
    assert model.training and model.features[0][1].training  # mode restored
    assert model.features[0][1].num_batches_tracked.item() == 0  # no BN update


def test_frozen_parameters_are_not_trainable_and_shared_ones_count_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    model[3].weight.requires_grad_(False)
    rows = describe_network(model, (4,))
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters()) == 30
    assert sum(r["trainable_params"] for r in rows) == 30 - 8
    assert "Non-trainable params: 8" in format_summary(rows, (4,))


def test_unused_module_has_no_shape():
    class WithSpare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(2, 2)
            self.spare = nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.used(x)

    rows = {r["name"]: r for r in describe_network(WithSpare(), (2,))}
    assert rows["spare"]["output_shape"] is None
    assert "-" in format_summary(list(rows.values()), (2,))
