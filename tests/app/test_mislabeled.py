"""Likely mislabeled: a real model finds labels flipped on purpose."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from app.labeling.queues import QueueSpec, build_queue, queue_kind
from app.learning.pick_reasons import MislabeledReason
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.conftest import run_cli

COLOURS = {"red": (200, 30, 30), "green": (30, 180, 40), "blue": (40, 50, 210)}
PER_CLASS = 14
FLIPPED = {3: "green", 17: "blue", 31: "red"}  # image index -> the wrong label given


def _coloured_images(folder, seed=0):
    """Per class, noisy images of one hue: the class is plain to see, no two alike."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    truth = []
    for name, rgb in COLOURS.items():
        for i in range(PER_CLASS):
            pixels = np.clip(np.array(rgb) + rng.normal(0, 25, (24, 24, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{name}_{i:02d}.png")
            truth.append((f"{name}_{i:02d}.png", name))
    return truth


def test_labels_slipped_in_after_training_top_the_queue_and_the_command(tmp_path):
    truth = _coloured_images(tmp_path / "images")
    root = tmp_path / "project"
    with Workspace.init(root, list(COLOURS)) as workspace:
        import_images(workspace, [tmp_path / "images"], workers=1)
        by_name = {s.path.rsplit("/", 1)[-1]: s.id for s in workspace.samples()}
        for file, name in truth:
            workspace.label(by_name[file], name, "tester")
        assert build_queue(workspace, QueueSpec(kind="mislabeled")) == []  # no model yet
    flipped_ids = {by_name[truth[i][0]] for i in FLIPPED}
    run_cli("train", root, "--epochs", "5", "--min-steps", "150", "--seed", "0")

    # An annotator then relabels three samples wrongly; the model never saw
    # these labels, so it judges them out of sample.
    with Workspace.open(root) as workspace:
        assert build_queue(workspace, QueueSpec(kind="mislabeled")) == []  # all labels agree
        for index, wrong in FLIPPED.items():
            workspace.label(by_name[truth[index][0]], wrong, "tester")
        queue = build_queue(workspace, QueueSpec(kind="mislabeled"))
    top = {item.sample_id for item in queue[:len(FLIPPED)]}
    assert top == flipped_ids  # all three flipped labels first
    first = queue[0]
    assert isinstance(first.reason, MislabeledReason)
    given = {by_name[truth[i][0]]: (wrong, truth[i][1]) for i, wrong in FLIPPED.items()}
    assert (first.reason.given, first.reason.suggested) == given[first.sample_id]
    assert queue_kind("mislabeled").counted_when_built

    listed = json.loads(run_cli("mislabeled", root, "--top", "3", "--json").stdout)
    assert {row["sample_id"] for row in listed} == flipped_ids
    assert all(row["suggested"] != row["label"] for row in listed)


def test_the_command_says_a_model_is_needed(tmp_path):
    root = tmp_path / "project"
    Workspace.init(root, ["a", "b"]).close()
    result = run_cli("mislabeled", root, check=False)
    assert result.returncode != 0 and "no model yet" in result.stderr
