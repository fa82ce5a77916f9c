"""A trained network comes back the same whoever saved it: a model version or a
simulation round.

A checkpoint holds tensors only, so a setting without tensors, the dropout
probability, must come back from the record. MC-dropout stacks (what BALD
and variation ratio rank by) depend on it; the plain probabilities do not,
which is why a network rebuilt with the default dropout looks fine until its
uncertainty is used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from app.learning import simulation
from app.learning.checkpoint_file import save_checkpoint
from app.learning.model_registry import TrainingSet, load_network, register_version
from models.inference import concatenate, predict_tensors
from models.networks import build_network
from models.train_config import DEFAULT_DROPOUT
from models.training import train
from tests.conftest import write_noise_images

DROPOUT = 0.7
SIZE = 16


@dataclass(frozen=True)
class HighDropoutRecipe(simulation.Recipe):
    """A simulation recipe whose rounds train with a dropout other than the default."""

    def train_config(self, n_labeled, input_size, seed, warm_state):
        config = super().train_config(n_labeled, input_size, seed, warm_state)
        return replace(config, dropout=DROPOUT)


def mc_stacks(network: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """MC-dropout stacks ``[n, classes, 16]`` with fixed dropout masks."""
    return concatenate(predict_tensors(network, images, mc_samples=16, seed=0)).mc_probs


def test_a_network_trained_with_dropout_p_comes_back_with_p_by_every_path(project, tmp_path):
    assert DROPOUT != DEFAULT_DROPOUT
    paths = [str(p) for p in write_noise_images(tmp_path / "train", 12, size=SIZE)]
    labels = [i % 3 for i in range(12)]
    classes = project.classes()
    recipe = HighDropoutRecipe(epochs=1, min_steps=0, input_size=SIZE)
    config = recipe.train_config(len(paths), SIZE, 0, None)
    result = train(paths, labels, classes, config)  # a real, tiny training run

    # What was trained: built by hand with the run's own dropout.
    trained = build_network("small_cnn", len(classes), SIZE, pretrained=False, dropout=DROPOUT)
    trained.load_state_dict(result.state_dict)
    trained.eval()

    # Path 1: the registry, from a checkpoint file and the version's record.
    checkpoint = project.models_dir / "dropout.pt"
    sha = save_checkpoint(result.state_dict, checkpoint)
    version_id = register_version(
        project, result=result, config=config,
        data=TrainingSet([s.id for s in project.samples()], paths, labels, classes, "d",
                         [c.id for c in project.class_infos()]),
        creator="t", checkpoint=checkpoint, checkpoint_sha256=sha, parent_id=None)
    from_registry = load_network(project, project.model_version(version_id))
    # Path 2: a simulation round, from the round's weights file and the recipe.
    simulation.save_state(tmp_path / "round.pt", 0, result.state_dict)
    state = simulation.load_state(tmp_path / "round.pt", 0)
    from_round = simulation.round_learner(state, recipe, len(classes), SIZE).network

    images = torch.randint(0, 256, (6, 3, SIZE, SIZE), dtype=torch.uint8)
    expected = mc_stacks(trained, images)
    for loaded in (from_registry, from_round):
        assert repr(loaded) == repr(trained)  # the architecture, Dropout(p=0.7) included
        np.testing.assert_array_equal(mc_stacks(loaded, images), expected)
