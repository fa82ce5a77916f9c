"""``labelloop settings``: the project's settings, the ones every door reads."""

from __future__ import annotations

import json

from app.labeling.queues import QueueSpec, build_queue, queue_batch_size
from app.learning.compute_setting import compute_address
from app.learning.training_settings import training_settings
from app.project.workspace import Workspace
from tests.conftest import run_cli


def _settings(root, *args):
    return json.loads(run_cli("settings", root, *args, "--json").stdout)


def test_settings_are_stored_with_the_project_and_read_back(project):
    root = project.root
    project.close()
    shown = _settings(root, "--queue-size", "3", "--epochs", "9", "--no-augment",
                      "--auto-retrain", "50", "--compute", "local")
    assert shown["queue_size"] == 3 and shown["auto_retrain"] == 50
    assert shown["training"]["epochs"] == 9 and shown["training"]["augment"] is False
    assert shown["training_set"] == ["augment", "epochs"]
    assert shown["compute"] == "Ray cluster at local"
    with Workspace.open(root) as ws:
        assert queue_batch_size(ws) == 3
        assert training_settings(ws).job_params() == {"epochs": 9, "augment": False}
        assert compute_address(ws) == "local"
        # The batch cap applies to batch queues: the cold start holds 3 samples.
        cold = build_queue(ws, QueueSpec(kind="uncertain", batch_size=queue_batch_size(ws)))
        assert len(cold) == 3
    shown = _settings(root, "--reset-training", "--compute", "this-machine")
    assert shown["training_set"] == [] and shown["compute"] == "this machine"


def test_bad_settings_are_refused_and_nothing_changes(project):
    root = project.root
    project.close()
    bad = run_cli("settings", root, "--compute", "no port here", check=False)
    assert bad.returncode == 1 and "HOST:PORT" in bad.stderr
    bad = run_cli("settings", root, "--queue-size", "0", check=False)
    assert bad.returncode == 2 and "--queue-size" in bad.stderr
    assert _settings(root)["compute"] == "this machine"
