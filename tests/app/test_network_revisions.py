"""Versions trained before small_cnn revisions were recorded keep loading as revision 1."""

from __future__ import annotations

import torch

from app.learning.checkpoint_file import save_checkpoint
from app.learning.model_registry import load_network
from models.networks import build_network


def _register(ws, network, hyperparameters: dict) -> int:
    path = ws.models_dir / f"v{len(ws.model_versions(include_deleted=True)) + 1}.pt"
    sha = save_checkpoint(network.state_dict(), path)
    return ws.store.add_model_version({
        "creator": "t", "arch": "small_cnn", "input_shape": [3, 32, 32],
        "classes": ["cat", "dog", "bird"], "seed": 0, "hyperparameters": hyperparameters,
        "torch_version": torch.__version__, "torchvision_version": "x",
        "checkpoint_path": ws.stored_path(path), "checkpoint_sha256": sha,
        "data_version": "d", "n_train": 1, "n_labels": 1, "metrics": {},
        "parent_id": None, "duration_s": 0.0,
    })


def test_an_old_version_loads_as_revision_1_and_a_new_one_as_recorded(project):
    torch.manual_seed(0)
    old = build_network("small_cnn", 3, 32, revision=1).eval()
    new = build_network("small_cnn", 3, 32).eval()
    old_id = _register(project, old, {})  # rows from before revisions were recorded
    new_id = _register(project, new, {"network_revision": new.revision})
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        for version_id, original in ((old_id, old), (new_id, new)):
            loaded = load_network(project, project.model_version(version_id))
            assert loaded.revision == original.revision
            torch.testing.assert_close(loaded(x), original(x))
