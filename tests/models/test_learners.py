"""The Learner interface: the registry, one way back from weights, and scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.learning.checkpoint_file import save_checkpoint
from models.checkpoint import load_checkpoint
from models.inference import concatenate, predict_all, predict_tensors
from models.learner import Learner, NetworkSpec, StateMismatchError
from models.learners import LEARNERS, learner_from_state, learner_type
from models.networks import LATEST_SMALL_CNN_REVISION, build_network
from models.train_config import ARCHITECTURES, DEFAULT_DROPOUT, TrainConfig
from models.training import TrainResult, plan_training


def test_every_architecture_has_a_learner_and_no_other():
    assert tuple(LEARNERS) == ARCHITECTURES
    for arch in ARCHITECTURES:
        assert learner_type(arch) is LEARNERS[arch]
    with pytest.raises(ValueError, match="unknown architecture 'vgg'"):
        learner_type("vgg")


@pytest.mark.parametrize(("arch", "size", "dropout", "revision"), [
    ("small_cnn", 16, 0.7, 1),
    ("small_cnn", 16, 0.05, 2),
    ("resnet18", 32, 0.6, None),
])
def test_a_checkpoint_comes_back_as_the_network_that_was_saved(tmp_path, arch, size, dropout,
                                                               revision):
    torch.manual_seed(0)
    original = build_network(arch, 3, size, pretrained=False, dropout=dropout,
                             revision=revision).eval()
    path = tmp_path / "model.pt"
    sha = save_checkpoint(original.state_dict(), path)
    spec = NetworkSpec(arch, 3, size, dropout, revision)
    learner = learner_from_state(spec, load_checkpoint(path, sha))
    assert isinstance(learner, Learner)
    assert learner.spec == spec
    assert repr(learner.network) == repr(original)
    assert not learner.network.training
    images = torch.randint(0, 256, (4, 3, size, size), dtype=torch.uint8)
    got = concatenate(learner.predict_tensors(images, mc_samples=8, seed=3))
    want = concatenate(predict_tensors(original, images, mc_samples=8, seed=3))
    np.testing.assert_array_equal(got.mc_probs, want.mc_probs)
    np.testing.assert_array_equal(got.probs, want.probs)
    np.testing.assert_array_equal(got.embeddings, want.embeddings)
    # state_dict gives back what from_state takes.
    again = learner_from_state(spec, learner.state_dict())
    assert all(torch.equal(again.network.state_dict()[k], v)
               for k, v in original.state_dict().items())


def test_weights_of_another_network_are_refused_with_torchs_first_line():
    state = build_network("small_cnn", 5, 16).state_dict()
    with pytest.raises(StateMismatchError, match="size mismatch for fc"):
        learner_from_state(NetworkSpec("small_cnn", 3, 16), state)
    # A revision-1 state into a revision-2 network: the classifier's width differs.
    old = build_network("small_cnn", 3, 16, revision=1).state_dict()
    with pytest.raises(StateMismatchError):
        learner_from_state(NetworkSpec("small_cnn", 3, 16, revision=2), old)


def test_a_records_settings_give_its_spec_and_old_records_their_defaults():
    recorded = {**TrainConfig(dropout=0.45).to_dict(), "network_revision": 2}
    assert NetworkSpec.from_record("small_cnn", 4, [3, 24, 24], recorded) == NetworkSpec(
        "small_cnn", 4, 24, 0.45, 2)
    # Rows from before dropout and revisions were recorded.
    assert NetworkSpec.from_record("small_cnn", 4, [3, 24, 24], {}) == NetworkSpec(
        "small_cnn", 4, 24, DEFAULT_DROPOUT, 1)
    assert NetworkSpec.from_record("resnet18", 2, (3, 64, 64), {"network_revision": None}
                                   ).revision is None


def test_a_configs_spec_is_what_training_builds():
    config = TrainConfig(dropout=0.2, input_size=24)
    assert NetworkSpec.for_config(config, 5) == NetworkSpec("small_cnn", 5, 24, 0.2, None)
    assert NetworkSpec.for_config(TrainConfig(), 5, input_size=32).input_size == 32
    with pytest.raises(ValueError, match="input size"):
        NetworkSpec.for_config(TrainConfig(), 5)
    built = learner_from_state(NetworkSpec.for_config(config, 5),
                               build_network("small_cnn", 5, 24).state_dict())
    assert built.network.revision == LATEST_SMALL_CNN_REVISION


def test_fit_then_from_state_scores_like_the_trained_weights(digits, digit_classes):
    paths, labels = digits
    paths, labels = paths[:120], labels[:120].tolist()
    config = TrainConfig(epochs=2, min_steps=40, batch_size=32, lr=3e-3, input_size=16,
                         dropout=0.5, val_fraction=0)
    learner_class = learner_type(config.arch)
    plan = learner_class.plan(labels, config)
    assert plan == plan_training(labels, config)
    result = learner_class.fit(paths, labels, digit_classes, config)
    assert isinstance(result, TrainResult) and result.epochs_run == plan.epochs
    spec = NetworkSpec.for_config(config, len(digit_classes))
    learner = learner_class.from_state(spec, result.state_dict)

    by_hand = build_network("small_cnn", 10, 16, pretrained=False, dropout=0.5)
    by_hand.load_state_dict(result.state_dict)
    want = predict_all(by_hand, paths[:40], 16, mc_samples=4)
    got = learner.predict_all(paths[:40], mc_samples=4)
    np.testing.assert_array_equal(got.mc_probs, want.mc_probs)
    streamed = concatenate(learner.predict(paths[:40], batch_size=16, mc_samples=4))
    np.testing.assert_array_equal(streamed.probs, want.probs)
    embeddings = learner.embed(paths[:40])
    assert embeddings.shape == (40, by_hand.embedding_dim)
    np.testing.assert_array_equal(embeddings, want.embeddings)
    # Well above chance (0.1) on the digits it was trained on.
    accuracy = float(np.mean(got.probs.argmax(1) == np.asarray(labels[:40])))
    assert accuracy > 0.5


def test_embed_reports_an_unreadable_image_as_a_nan_row(tmp_path, digits):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    learner = learner_from_state(NetworkSpec("small_cnn", 10, 16),
                                 build_network("small_cnn", 10, 16).state_dict())
    embeddings = learner.embed([digits[0][0], str(broken)], on_error="nan")
    assert np.isfinite(embeddings[0]).all() and np.isnan(embeddings[1]).all()
