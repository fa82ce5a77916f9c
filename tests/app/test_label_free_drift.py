"""Drift before the first model: the label-free embedding against the earlier batches.

Real digit images, no model: the pixel embedding (pixels + PCA) is what a
project has before ``pretrain``; after one quick pretraining the same checks
run on the backbone's embedding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from app.labeling.queues import QueueSpec, build_queue
from app.learning.pretraining import backbone_checkpoint_path, pretrain_pool
from app.monitor.batch_drift import batch_drift
from app.monitor.label_free_drift import LabelFreeDriftReport, earlier_pool
from app.pool.demo import digit_image, load_digits_arrays
from app.pool.importer import import_images
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import run_cli_in_process

POOL, BATCH = 240, 80


def _write(folder: Path, indices, invert: bool = False) -> Path:
    images, _ = load_digits_arrays()
    folder.mkdir(parents=True)
    for index in indices:
        image: Image.Image = digit_image(images[index], 32)
        (ImageOps.invert(image) if invert else image).save(folder / f"digit_{index:04d}.png")
    return folder


@pytest.fixture(scope="module")
def unmodeled(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A pool batch, then a fresh split of the same digits and an inverted batch; no model."""
    root = tmp_path_factory.mktemp("label_free_drift")
    order = np.random.default_rng(0).permutation(len(load_digits_arrays()[1]))
    batches = {}
    with Workspace.init(root / "project", [str(d) for d in range(10)]) as ws:
        for name, indices, invert in (("pool", order[:POOL], False),
                                      ("fresh", order[POOL:POOL + BATCH], False),
                                      ("inverted", order[POOL + BATCH:POOL + 2 * BATCH], True)):
            batches[name] = import_images(ws, [_write(root / name, indices, invert)],
                                          workers=1).batch
    return root / "project", batches


def test_the_reference_is_every_batch_imported_before(unmodeled):
    root, batches = unmodeled
    with Workspace.open(root) as ws:
        reference, tested = earlier_pool(ws, batches["inverted"])
        assert reference.batches == [batches["pool"], batches["fresh"]]
        assert len(reference.sample_ids) == POOL + BATCH and len(tested) == BATCH
        first, half = earlier_pool(ws, batches["pool"], seed=3)
        assert first.halves and sorted(first.sample_ids + half) == ws.sample_ids_in_batch(
            batches["pool"])
        assert "one random half" in first.describe()


def test_without_a_model_an_inverted_batch_drifts_and_a_fresh_split_does_not(unmodeled):
    root, batches = unmodeled
    with Workspace.open(root) as ws:
        assert ws.latest_model() is None
        inverted = batch_drift(ws, batches["inverted"], alpha=0.01, top=5)
        assert isinstance(inverted, LabelFreeDriftReport) and inverted.model is None
        assert inverted.drift and inverted.n_batch == BATCH
        assert "pixels" in inverted.features
        assert [s.sample_id for s in inverted.top_samples] == [
            q.sample_id for q in inverted.as_queue()]
        assert set(q.sample_id for q in inverted.as_queue()) <= set(
            ws.sample_ids_in_batch(batches["inverted"]))
        fresh = batch_drift(ws, batches["fresh"], alpha=0.01)
        assert not fresh.drift, fresh.mmd_p_value
        with pytest.raises(WorkspaceError, match="uses no model"):
            batch_drift(ws, batches["fresh"], features="label-free", version_id=1)
        with pytest.raises(WorkspaceError, match="features must be"):
            batch_drift(ws, features="pixels")


def test_the_drifted_queue_opens_before_any_model(unmodeled):
    root, batches = unmodeled
    with Workspace.open(root) as ws:
        queue = build_queue(ws, QueueSpec(kind="drift", batch=batches["inverted"], size=7))
    assert len(queue) == 7 and all(item.reason.model is None for item in queue)


def test_cli_json_says_which_embedding_and_has_no_model(unmodeled):
    root, batches = unmodeled
    data = json.loads(run_cli_in_process("drift", str(root), "--batch",
                                         str(batches["inverted"]), "--top", "3", "--json"))
    assert data["model"] is None and data["drift"] is True
    assert data["features"].startswith("downscaled pixels") or "pixels" in data["features"]
    assert len(data["top_samples"]) == 3 and "psi" not in data
    text = run_cli_in_process("drift", str(root), "--batch", str(batches["fresh"]))
    assert "without a model" in text and "no drift" in text


def test_after_pretraining_drift_runs_on_the_backbone(tmp_path):
    order = np.random.default_rng(1).permutation(len(load_digits_arrays()[1]))
    with Workspace.init(tmp_path / "project", [str(d) for d in range(10)]) as ws:
        import_images(ws, [_write(tmp_path / "pool", order[:POOL])], workers=1)
        inverted = import_images(ws, [_write(tmp_path / "inv", order[POOL:POOL + BATCH],
                                              invert=True)], workers=1).batch
        backbone = pretrain_pool(ws, checkpoint=backbone_checkpoint_path(ws, 1),
                                 creator="test", epochs=1, time_budget_s=0).backbone_id
        report = batch_drift(ws, inverted, alpha=0.01)
    assert report.features.startswith(f"pretrained backbone {backbone}")
    # The backbone saw both batches: the inverted one is tested against the other.
    assert report.reference.backbone == backbone and len(report.reference.sample_ids) == POOL
    assert report.drift
