"""Training and simulation on a real local Ray cluster; Ray stays out of a plain start."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.learning.model_registry import load_learner, training_set
from app.pool.importer import import_images
from app.project.workspace import Workspace
from models.checkpoint import file_sha256
from tests.app.ray_helpers import REPO, shared_cluster
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    return shared_cluster()


def write_two_classes(folder, per_class: int, seed: int) -> None:
    """Dark and bright noise images in class subfolders: an easy, learnable pair."""
    rng = np.random.default_rng(seed)
    for name, low in (("dark", 0), ("bright", 150)):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(low, low + 100, size=(16, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{name}_{i:03d}.png")


def test_core_and_window_modules_start_without_importing_ray():
    code = ("import sys, app.cli.main, app.cli.training, app.cli.simulate, "
            "app.learning.job_worker, app.gui.main_window, app.gui.job_runner, "
            "app.gui.compute_dialog; "
            "from app.cli.main import build_parser; build_parser(); "
            "print('ray' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, env={"PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
                                           "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_train_on_a_cluster_started_for_the_job_registers_the_version_as_a_local_run_does(
        tmp_path):
    """``--ray local``: the job starts a cluster of its own, and leaves nothing behind."""
    token_file = Path.home() / ".ray" / "auth_token"
    had_token = token_file.exists()
    write_two_classes(tmp_path / "images", 12, seed=0)
    with Workspace.init(tmp_path / "proj", ["dark", "bright"]) as ws:
        import_images(ws, [tmp_path / "images"], workers=1)
        for sample in ws.samples():
            ws.label(sample.id, sample.path.split("/")[-2], "tester")
    result = run_cli("train", tmp_path / "proj", "--ray", "local", "--epochs", "2",
                     "--min-steps", "0", "--patience", "0", "--val-fraction", "0.25", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "plan"
    epochs = [e for e in events if e["event"] == "progress"]
    assert [e["epoch"] for e in epochs] == [1, 2]  # streamed back from the worker
    assert events[-1]["event"] == "done"
    with Workspace.open(tmp_path / "proj") as ws:
        version = ws.model_version(events[-1]["model_version"])
        path = ws.resolve(version.checkpoint_path)
        assert file_sha256(path) == version.checkpoint_sha256
        assert version.data_version == training_set(ws).data_version
        assert version.n_labels == 24 and version.hyperparameters["epochs_run"] == 2
        assert version.metrics["n"] == 6  # validated on the worker: 25 % of 24
        paths = [str(ws.resolve(s.path)) for s in ws.samples()]
        probs = load_learner(ws, version).predict_all(paths).probs
        assert probs.shape == (24, 2)
        job = ws.list_jobs()[-1]
        assert job.kind == "train" and job.status == "succeeded"
        assert job.params["ray"] == "local"
    # No token file left to change how this machine's own `ray start` clusters behave.
    assert token_file.exists() == had_token


def _simulate(*args: object) -> str:
    """``labelloop simulate ARGS`` in this process, through the command's parser; stdout."""
    import contextlib
    import io

    from app.cli.main import build_parser

    parsed = build_parser(("simulate",)).parse_args(["simulate", *map(str, args)])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert parsed.run(parsed) == 0
    return out.getvalue()


def test_simulate_on_the_cluster_gives_the_local_curves_and_resumes(cluster, tmp_path):
    write_two_classes(tmp_path / "pool", 30, seed=1)
    write_two_classes(tmp_path / "test", 8, seed=2)
    common = ["--pool", tmp_path / "pool", "--test", tmp_path / "test",
              "--strategies", "random,margin", "--init", "6", "--step", "6", "--rounds", "1",
              "--seeds", "0", "--epochs", "1", "--min-steps", "0", "--input-size", "16"]
    _simulate(*common, "--out", tmp_path / "local", "--json")
    # OUT as an interrupted earlier call left it: random's run done, margin's not begun.
    (tmp_path / "ray" / "runs").mkdir(parents=True)
    shutil.copy(tmp_path / "local" / "simulation.json", tmp_path / "ray")
    for name in ("random-seed0.json", "random-seed0.pt"):
        shutil.copy(tmp_path / "local" / "runs" / name, tmp_path / "ray" / "runs")
    printed = _simulate(*common, "--out", tmp_path / "ray", "--ray", cluster.address)
    assert "2 rounds computed, 2 reused" in printed  # resumed as a local simulation does
    for name in ("random-seed0.json", "margin-seed0.json"):
        local = json.loads((tmp_path / "local" / "runs" / name).read_text())["rounds"]
        remote = json.loads((tmp_path / "ray" / "runs" / name).read_text())["rounds"]
        assert [r["added"] for r in remote] == [r["added"] for r in local]
        assert [r["accuracy"] for r in remote] == [r["accuracy"] for r in local]
    local_curves = json.loads((tmp_path / "local" / "curves.json").read_text())
    remote_curves = json.loads((tmp_path / "ray" / "curves.json").read_text())
    assert remote_curves["strategies"] == local_curves["strategies"]



def test_pretrain_on_the_cluster_registers_a_checked_backbone_as_a_local_run_does(
        cluster, tmp_path):
    from app.learning.label_free import label_free_embeddings
    from app.learning.pretraining import latest_backbone, load_backbone_checkpoint

    write_two_classes(tmp_path / "images", 32, seed=1)  # 64 images: the smallest pool
    with Workspace.init(tmp_path / "proj", ["dark", "bright"]) as ws:
        import_images(ws, [tmp_path / "images"], workers=1)
    result = run_cli("pretrain", tmp_path / "proj", "--ray", cluster.address, "--ship-media",
                     "--epochs", "2", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "progress"] == [1, 2]  # streamed back
    done = events[-1]
    assert done["event"] == "done" and done["n_images"] == 64 and done["device"] == "cpu"
    with Workspace.open(tmp_path / "proj") as ws:
        backbone = latest_backbone(ws)
        assert backbone.id == done["backbone"] and backbone.n_images == 64
        assert file_sha256(ws.resolve(backbone.checkpoint_path)) == backbone.checkpoint_sha256
        state = load_backbone_checkpoint(ws, backbone)  # sha256 checked, weights_only
        assert state and not any(key.startswith("fc.") for key in state)
        embedding = label_free_embeddings(ws)
        assert embedding.vectors.shape == (64, backbone.embedding_dim)
        job = ws.list_jobs()[-1]
        assert job.kind == "pretrain" and job.status == "succeeded"
        assert job.params["ray"] == cluster.address and job.params["ship_media"] is True
