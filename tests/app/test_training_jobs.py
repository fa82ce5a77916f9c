"""Training jobs in real processes, the model registry, scoring and evaluation."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from app.learning.job_events import EpochProgress
from app.learning.jobs import reconcile_jobs, start_job
from app.learning.model_registry import AUTO_RETRAIN_SETTING, load_network, retrain_due
from app.learning.scoring import cached_scores, ensure_scores
from app.pool.importer import import_images
from app.pool.label_import import import_labels
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import run_cli

FAST = ["--epochs", "2", "--patience", "0", "--min-steps", "0"]
# 15 epochs of 400 training digits are ~100 steps: enough here, and a fixed
# epoch count keeps this fixture quick.
RECIPE = ["--epochs", "15", "--min-steps", "0", "--seed", "3"]


def _labeled_digits_project(root: Path, pool: Path, n_labels: int) -> Path:
    """A project over ``pool`` (the demo's simulation pool, one folder per class)
    with ``n_labels`` true labels; the project reads the images where they are."""
    with Workspace.init(root, [str(d) for d in range(10)]) as ws:
        import_images(ws, [pool])
        rows = []
        for class_dir in sorted(pool.iterdir()):
            rows += [(f"{class_dir.name}/{p.name}", class_dir.name)
                     for p in sorted(class_dir.iterdir())]
        rng = np.random.default_rng(0)
        chosen = [rows[i] for i in sorted(rng.choice(len(rows), n_labels, replace=False))]
        with open(root / "labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "label"])
            writer.writerows(chosen)
        import_labels(ws, root / "labels.csv", "tester")
    return root


@pytest.fixture(scope="module")
def trained(digits_demo, tmp_path_factory):
    """A project with 500 labels and two versions trained with the same recipe."""
    root = _labeled_digits_project(tmp_path_factory.mktemp("t") / "proj",
                                   digits_demo.simulate_pool, 500)
    out = [json.loads(line) for line in
           run_cli("train", root, *RECIPE, "--json").stdout.splitlines()]
    run_cli("train", root, *RECIPE, "--json", "--annotator", "eve")
    return root, out


def test_train_streams_epochs_and_registers_a_version_with_lineage(trained):
    root, events = trained
    assert events[0]["event"] == "plan" and events[0]["n_train"] + events[0]["n_val"] == 500
    assert events[0]["plan"].startswith(f"{events[0]['n_train']} labels to train on")
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and {"epoch", "loss", "val_accuracy", "fraction_done"} <= set(progress[0])
    assert [e["epoch"] for e in progress] == list(range(1, len(progress) + 1))
    assert events[-1]["event"] == "done" and events[-1]["model_version"] == 1
    with Workspace.open(root) as ws:
        first, second = ws.model_versions()
        assert first.parent_id is None and second.parent_id == first.id
        assert second.creator == "eve" and first.n_labels == 500
        assert first.input_shape == (3, 32, 32) and first.classes == [str(d) for d in range(10)]
        assert first.data_version == ws.dataset_version()
        assert first.torch_version.startswith("2.") and first.seed == 3
        assert len(first.checkpoint_sha256) == 64
        assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(first.metrics)
        # Same seed, same labels, same recipe: byte-identical weights.
        assert first.checkpoint_sha256 == second.checkpoint_sha256


def test_500_labels_reach_085_on_held_out_digits(trained, digits_demo):
    root, _ = trained
    result = json.loads(run_cli("evaluate", root, digits_demo.simulate_test, "--model", "1",
                                "--json").stdout)
    assert set(result) == {"model", "accuracy", "macro_f1", "per_class", "n"}
    assert result["n"] == 449 or result["n"] > 400
    assert result["accuracy"] >= 0.85, result["accuracy"]
    with Workspace.open(root) as ws:
        (evaluation,) = ws.model_version(1).evaluations
        assert evaluation["accuracy"] == result["accuracy"]


def test_models_list_show_compare(trained):
    root, _ = trained
    listed = json.loads(run_cli("models", root, "--json").stdout)
    assert [v["id"] for v in listed] == [1, 2]
    shown = run_cli("models", root, "--show", "1").stdout
    assert "input shape (3, 32, 32)" in shown and "Conv2d" in shown
    structure = json.loads(run_cli("models", root, "--show", "1", "--json").stdout)["structure"]
    total = sum(row["params"] for row in structure)
    assert total == structure[0]["total_params"] > 0
    compared = json.loads(run_cli("models", root, "--compare", "1", "2", "--json").stdout)
    assert compared["accuracy_delta"] == 0.0
    assert set(compared["per_class"]) == {str(d) for d in range(10)}


def test_scores_are_cached_per_version_and_rebuilt_for_a_new_one(trained, tmp_path):
    root, _ = trained
    with Workspace.open(root) as ws:
        v1, v2 = ws.model_versions()
        scores = ensure_scores(ws, v1, mc_samples=4)
        n = ws.sample_count()
        assert scores.probs.shape == (n, 10) and scores.mc_probs.shape == (n, 10, 4)
        assert scores.embeddings.shape[0] == n
        assert np.allclose(scores.probs.sum(axis=1), 1, atol=1e-4)
        assert cached_scores(ws, v2) is None  # a new version never reuses v1's cache
        stamp = (root / "cache" / "scores" / "v00001" / "probs.npy").stat().st_mtime_ns
        again = ensure_scores(ws, v1, mc_samples=4)
        assert (root / "cache" / "scores" / "v00001" / "probs.npy").stat().st_mtime_ns == stamp
        assert np.array_equal(again.probs, scores.probs)


def test_scores_grow_with_new_imports_without_rescoring(trained, tmp_path):
    from tests.conftest import write_noise_images

    root, _ = trained
    with Workspace.open(root) as ws:
        v1 = ws.model_version(1)
        before = ensure_scores(ws, v1, mc_samples=2)
        import_images(ws, [write_noise_images(tmp_path / "new", 3, size=32)[0].parent], workers=1)
        after = ensure_scores(ws, v1, mc_samples=2)
        assert len(after.sample_ids) == len(before.sample_ids) + 3
        rows = after.rows_for(before.sample_ids)
        assert np.array_equal(after.probs[rows], before.probs)


def test_a_tampered_checkpoint_is_refused(trained, tmp_path):
    root, _ = trained
    with Workspace.open(root) as ws:
        version = ws.model_version(2)
        path = ws.resolve(version.checkpoint_path)
        original = path.read_bytes()
        try:
            path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
            with pytest.raises(WorkspaceError, match="sha256"):
                load_network(ws, version)
            result = run_cli("score", root, "--model", "2", check=False)
            assert result.returncode == 1 and "sha256" in result.stderr
        finally:
            path.write_bytes(original)


def test_delete_keeps_the_row_and_removes_files(trained):
    root, _ = trained
    with Workspace.open(root) as ws:
        ensure_scores(ws, ws.model_version(2), mc_samples=2)
        checkpoint = ws.resolve(ws.model_version(2).checkpoint_path)
    run_cli("models", root, "--delete", "2")
    with Workspace.open(root) as ws:
        assert not checkpoint.exists()
        assert not (root / "cache" / "scores" / "v00002").exists()
        assert [v.id for v in ws.model_versions()] == [1]
        assert ws.model_versions(include_deleted=True)[1].deleted_at is not None
        with pytest.raises(WorkspaceError, match="no model version 2"):
            ws.model_version(2)


def test_retrain_due_counts_new_labels_against_the_setting(trained):
    root, _ = trained
    with Workspace.open(root) as ws:
        assert not retrain_due(ws)  # off by default
        ws.set_setting(AUTO_RETRAIN_SETTING, "2")
        assert not retrain_due(ws)
        unlabeled = [s.id for s in ws.samples() if s.id not in ws.current_labels()][:2]
        ws.label(unlabeled[0], "1", "t")
        assert not retrain_due(ws)
        ws.label(unlabeled[1], "2", "t")
        assert retrain_due(ws)
        ws.set_setting(AUTO_RETRAIN_SETTING, "0")


@pytest.fixture
def small_project(digits_demo, tmp_path):
    """120 labels over a private copy of the pool: tests here damage its images, and the
    demo is shared by the whole session (a broken digit once failed the simulations)."""
    pool = shutil.copytree(digits_demo.simulate_pool, tmp_path / "pool")
    return _labeled_digits_project(tmp_path / "proj", pool, 120)


def _wait_for_progress(handle):
    for event in handle.events():
        if isinstance(event, EpochProgress):
            return event
    raise AssertionError("job ended before reporting progress")


def test_cancel_mid_run_leaves_no_version_and_no_checkpoint(small_project):
    with Workspace.open(small_project) as ws:
        handle = start_job(ws, "train", {"epochs": 200, "patience": 0})
        _wait_for_progress(handle)
        handle.cancel()
        job = handle.wait(timeout=120)
        assert job.status == "cancelled"
        assert ws.model_versions() == []
        assert list((small_project / "models").iterdir()) == []


def test_a_second_training_job_is_refused_while_one_runs(small_project):
    with Workspace.open(small_project) as ws:
        handle = start_job(ws, "train", {"epochs": 200, "patience": 0})
        try:
            result = run_cli("train", small_project, *FAST, check=False)
            assert result.returncode == 1
            assert f"a train job (#{handle.job_id}) is already running" in result.stderr
        finally:
            handle.cancel()
            handle.wait(timeout=120)


def test_a_crash_mid_run_is_visible_in_jobs_and_the_registry_is_unchanged(small_project):
    with Workspace.open(small_project) as ws:
        handle = start_job(ws, "train", {"epochs": 200, "patience": 0})
        _wait_for_progress(handle)
        os.kill(handle.pid, signal.SIGKILL)
        job = handle.wait(timeout=60)
        assert job.status == "failed" and "exited with code -9" in job.error
        assert ws.model_versions() == []
    listed = json.loads(run_cli("jobs", small_project, "--json").stdout)
    assert listed[-1]["status"] == "failed"


def test_a_job_that_dies_unobserved_is_marked_failed_by_jobs(small_project):
    with Workspace.open(small_project) as ws:
        handle = start_job(ws, "train", {"epochs": 200, "patience": 0})
        _wait_for_progress(handle)
        os.kill(handle.pid, signal.SIGKILL)
        handle.process.wait()
        # Nobody called handle.wait(): the row still says running.
        assert ws.store.get_job(handle.job_id).status == "running"
        assert [j.id for j in reconcile_jobs(ws)] == [handle.job_id]
        assert "crashed or killed" in ws.store.get_job(handle.job_id).error


def test_an_unreadable_training_image_fails_the_job_with_its_name(small_project):
    with Workspace.open(small_project) as ws:
        sample_id = next(iter(ws.current_labels()))
        path = ws.resolve(ws.sample(sample_id).path)
    path.write_bytes(b"garbage")
    result = run_cli("train", small_project, *FAST, "--json", check=False)
    assert result.returncode == 1
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["event"] == "error" and path.name in final["message"]
    with Workspace.open(small_project) as ws:
        assert ws.model_versions() == []
        assert ws.store.list_jobs()[-1].status == "failed"


def test_training_with_one_labeled_class_is_a_clear_error(tmp_path):
    from tests.conftest import write_noise_images

    with Workspace.init(tmp_path / "p", ["a", "b"]) as ws:
        import_images(ws, [write_noise_images(tmp_path / "src", 4)[0].parent], workers=1)
        for s in ws.samples():
            ws.label(s.id, "a", "t")
    result = run_cli("train", tmp_path / "p", check=False)
    assert result.returncode == 1 and "at least 2 classes" in result.stderr


def test_score_needs_a_model_first(tmp_path):
    run_cli("init", tmp_path / "p", "--classes", "a,b")
    result = run_cli("score", tmp_path / "p", check=False)
    assert result.returncode == 1 and "no model yet" in result.stderr


def test_job_progress_is_recorded_while_it_runs(small_project):
    with Workspace.open(small_project) as ws:
        handle = start_job(ws, "train", {"epochs": 200, "patience": 0})
        _wait_for_progress(handle)
        deadline = time.time() + 30
        while ws.store.get_job(handle.job_id).progress is None and time.time() < deadline:
            time.sleep(0.1)
        assert ws.store.get_job(handle.job_id).progress["epoch"] >= 1
        handle.cancel()
        handle.wait(timeout=120)
