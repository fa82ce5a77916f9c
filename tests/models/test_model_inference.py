"""Streaming inference: probabilities, MC-dropout stacks, embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.data import ImageReadError, decode_images
from models.inference import (
    PredictionBatch,
    concatenate,
    mc_dropout_mode,
    predict,
    predict_all,
    predict_tensors,
)
from models.networks import build_network


@pytest.fixture
def model() -> nn.Module:
    torch.manual_seed(0)
    return build_network("small_cnn", 10, 32, dropout=0.5)


@pytest.fixture
def paths(digits) -> list[str]:
    return digits[0][:100]


class BodyDropoutNet(nn.Module):
    """Dropout inside the body, so MC sampling must run whole forward passes."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out = nn.Linear(4, 3)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def test_shapes_dtypes_and_normalisation(model, paths):
    scores = predict_all(model, paths, 32, mc_samples=6)
    assert scores.probs.shape == (100, 10) and scores.probs.dtype == np.float32
    assert scores.mc_probs.shape == (100, 10, 6) and scores.mc_probs.dtype == np.float32
    assert scores.embeddings.shape == (100, 512) and scores.embeddings.dtype == np.float32
    np.testing.assert_allclose(scores.probs.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(scores.mc_probs.sum(axis=1), 1, atol=1e-5)
    # Every pass draws its own dropout mask.
    for t in range(1, 6):
        assert not np.allclose(scores.mc_probs[:, :, 0], scores.mc_probs[:, :, t])
    assert scores.errors == {}


def test_without_mc_there_is_no_stack(model, paths):
    assert predict_all(model, paths[:5], 32).mc_probs is None


def test_streaming_batches_in_order(model, paths):
    seen: list[dict] = []
    batches = list(predict(model, paths, 32, batch_size=32, mc_samples=2, progress=seen.append))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    assert [b.start for b in batches] == [0, 32, 64, 96]
    assert [p["done"] for p in seen] == [32, 64, 96, 100]
    assert seen[-1]["fraction_done"] == 1.0
    joined = concatenate(batches)
    whole = predict_all(model, paths, 32, batch_size=256)
    np.testing.assert_allclose(joined.probs, whole.probs, atol=1e-5)
    np.testing.assert_allclose(joined.embeddings, whole.embeddings, atol=1e-4)


def test_mc_stacks_are_reproducible_and_leave_global_rng_alone(model, paths):
    before = torch.get_rng_state()
    first = predict_all(model, paths[:20], 32, mc_samples=4, seed=3).mc_probs
    assert torch.equal(torch.get_rng_state(), before)
    again = predict_all(model, paths[:20], 32, mc_samples=4, seed=3).mc_probs
    other = predict_all(model, paths[:20], 32, mc_samples=4, seed=4).mc_probs
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def _record_modes(model: nn.Module) -> dict[str, list[bool]]:
    modes: dict[str, list[bool]] = {"bn": [], "dropout": []}
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.register_forward_pre_hook(lambda m, _: modes["bn"].append(m.training))
        if isinstance(module, nn.Dropout):
            module.register_forward_pre_hook(lambda m, _: modes["dropout"].append(m.training))
    return modes


@pytest.mark.parametrize("network", ["small_cnn", "body_dropout"])
def test_batchnorm_stays_in_eval_during_mc(network, model, paths):
    net = model if network == "small_cnn" else BodyDropoutNet()
    net.train()  # as a caller might leave it after training
    state = {k: v.clone() for k, v in net.state_dict().items()}
    modes = _record_modes(net)
    scores = predict_all(net, paths[:10], 32, mc_samples=5)
    assert modes["bn"] and not any(modes["bn"])  # BatchNorm always in eval
    assert modes["dropout"].count(True) == 5  # only the MC passes sample
    assert modes["dropout"].count(False) >= 1  # the deterministic pass does not
    assert not np.allclose(scores.mc_probs[..., 0], scores.mc_probs[..., 1])
    # Running statistics untouched, and every module's mode restored.
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert all(m.training for m in net.modules())


def test_mc_dropout_mode_restores_mixed_modes(model):
    model.train()
    model.features[0][1].eval()  # a frozen BatchNorm inside a training model
    with mc_dropout_mode(model) as dropouts:
        assert [d.training for d in dropouts] == [True]
        assert not model.training and not model.features[0][1].training
    assert model.training and not model.features[0][1].training


def test_no_grad_state_leaks_between_batches(model, paths):
    stream = predict(model, paths, 32, batch_size=16)
    batch = next(stream)
    assert isinstance(batch, PredictionBatch)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    stream.close()


def test_pre_decoded_tensors_give_the_same_scores(model, paths):
    images = decode_images(paths[:40], 32)
    from_tensors = concatenate(predict_tensors(model, images, batch_size=16, mc_samples=3))
    from_files = predict_all(model, paths[:40], 32, batch_size=16, mc_samples=3)
    np.testing.assert_allclose(from_tensors.probs, from_files.probs, atol=1e-6)
    np.testing.assert_allclose(from_tensors.mc_probs, from_files.mc_probs, atol=1e-6)


def test_unreadable_images_raise_or_become_nan_rows(model, paths, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    mixed = [paths[0], str(broken), paths[1]]
    with pytest.raises(ImageReadError, match="broken.png"):
        predict_all(model, mixed, 32)
    scores = predict_all(model, mixed, 32, mc_samples=2, on_error="nan")
    assert list(scores.errors) == [1] and "broken.png" in scores.errors[1]
    assert np.isnan(scores.probs[1]).all() and np.isnan(scores.mc_probs[1]).all()
    assert np.isfinite(scores.probs[[0, 2]]).all()
    np.testing.assert_allclose(
        scores.probs[[0, 2]], predict_all(model, [paths[0], paths[1]], 32).probs, atol=1e-6
    )


def test_empty_input(model):
    scores = predict_all(model, [], 32, mc_samples=3)
    assert scores.probs.shape[0] == 0 and scores.mc_probs.shape == (0, 0, 3)


def test_trained_model_is_confident_on_held_out_digits(trained_digits):
    run = trained_digits.result
    net = build_network("small_cnn", 10, run.input_shape[1], pretrained=False)
    net.load_state_dict(run.state_dict)
    scores = predict_all(net, trained_digits.test_paths[:300], run.input_shape[1], mc_samples=10)
    correct = scores.probs.argmax(1) == trained_digits.test_labels[:300]
    # MC-averaged predictions should agree with the deterministic ones almost always.
    agree = scores.mc_probs.mean(axis=2).argmax(1) == scores.probs.argmax(1)
    assert agree.mean() > 0.95
    # And the model is less sure (higher MC variance) where it is wrong.
    spread = scores.mc_probs.var(axis=2).sum(axis=1)
    if (~correct).any():
        assert spread[~correct].mean() > spread[correct].mean()
