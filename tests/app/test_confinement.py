"""Deletes and writes stay inside the project: tampered rows, exports, leftovers."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import torch

from app.files.confined_paths import OutsideFolderError, confined_path
from app.learning.checkpoint_file import save_checkpoint
from app.learning.model_registry import delete_version, load_network
from app.pool.exporter import export_dataset
from app.project.workspace import Workspace, WorkspaceError
from app.targeted.failure_sets import add_files, remove_set
from models.networks import build_network
from tests.conftest import run_cli, write_noise_images


def register_small_cnn(ws: Workspace, *, classes: int = 3, built_for: int | None = None) -> int:
    """A real small_cnn checkpoint in models/ and its registry row.

    ``built_for`` saves the weights of a network with that many classes while
    the row records ``classes``: a state_dict of the wrong shape.
    """
    network = build_network("small_cnn", built_for or classes, 32, pretrained=False)
    path = ws.models_dir / f"hand-{len(ws.model_versions(include_deleted=True)) + 1}.pt"
    sha = save_checkpoint(network.state_dict(), path)
    return ws.store.add_model_version({
        "creator": "t", "arch": "small_cnn", "input_shape": [3, 32, 32],
        "classes": [f"c{i}" for i in range(classes)], "seed": 0,
        "hyperparameters": {"network_revision": network.revision},
        "torch_version": torch.__version__, "torchvision_version": "x",
        "checkpoint_path": ws.stored_path(path), "checkpoint_sha256": sha,
        "data_version": "d", "n_train": 1, "n_labels": 1, "metrics": {},
        "parent_id": None, "duration_s": 0.0,
    })


def _tamper(ws: Workspace, version_id: int, checkpoint_path: str) -> None:
    with ws.store.transaction() as conn:
        conn.exec_driver_sql("UPDATE model_versions SET checkpoint_path = ? WHERE id = ?",
                             (checkpoint_path, version_id))


def test_confined_path_refuses_dot_dot_absolute_and_symlinks_out(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (tmp_path / "victim.txt").write_text("x")
    (folder / "link.pt").symlink_to(tmp_path / "victim.txt")
    assert confined_path(folder, folder / "a.pt", "file") == folder / "a.pt"
    for bad in (folder / ".." / "victim.txt", tmp_path / "victim.txt", folder / "link.pt",
                folder):
        with pytest.raises(OutsideFolderError, match="outside"):
            confined_path(folder, bad, "file")


def test_models_delete_refuses_a_checkpoint_path_outside_models(project, tmp_path):
    victim = project.root / "victim.txt"  # inside the project, outside models/
    victim.write_text("precious")
    far = tmp_path / "far.txt"
    far.write_text("precious")
    first, second = register_small_cnn(project), register_small_cnn(project)
    _tamper(project, first, "victim.txt")
    _tamper(project, second, str(far))
    for version_id in (first, second):
        result = run_cli("models", project.root, "--delete", str(version_id), check=False)
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert "outside" in result.stderr and "refusing" in result.stderr
        # Nothing was deleted and the version is not marked deleted either.
        assert project.model_version(version_id).deleted_at is None
    assert victim.read_text() == "precious" and far.read_text() == "precious"
    with pytest.raises(WorkspaceError, match="outside"):
        load_network(project, project.model_version(first))


def test_models_delete_removes_a_confined_checkpoint(project):
    version_id = register_small_cnn(project)
    path = project.resolve(project.model_version(version_id).checkpoint_path)
    delete_version(project, version_id)
    assert not path.exists()


def test_failures_remove_refuses_a_copy_path_outside_failures(project, tmp_path):
    report = add_files(project, "bad", write_noise_images(tmp_path / "outside", 2, seed=9))
    assert report.added == 2
    victim = tmp_path / "victim.png"
    victim.write_text("precious")
    with project.store.transaction() as conn:
        conn.exec_driver_sql("UPDATE failure_items SET path = ? "
                             "WHERE id = (SELECT MIN(id) FROM failure_items)", (str(victim),))
    with pytest.raises(WorkspaceError, match="outside"):
        remove_set(project, "bad")
    assert victim.read_text() == "precious"
    assert project.store.failure_set_names() == ["bad"]  # the set was not removed either


def _label_all(ws: Workspace) -> None:
    for sample in ws.samples()[:6]:
        ws.label(sample.id, "cat" if sample.id % 2 else "dog", "t")


def test_re_export_keeps_what_the_user_added_and_removes_only_listed_files(project, tmp_path):
    _label_all(project)
    out = tmp_path / "out"
    first = export_dataset(project, out, "imagefolder")
    listed = json.loads((out / "manifest.json").read_text())["files"]
    (out / "NOTES.txt").write_text("my notes")
    (out / "extra").mkdir()
    (out / "extra" / "plot.png").write_bytes(b"png")
    edited = out / listed[0]["path"]
    edited.unlink()
    edited.write_text("edited by hand")  # a listed file changed since: the user's now
    project.label(project.samples()[0].id, "bird", "t")
    report = export_dataset(project, out, "csv")
    assert report.dataset_version != first.dataset_version
    assert sorted(p.name for p in out.iterdir()) == ["labels.csv", "manifest.json"]
    aside = report.previous_moved_to
    assert aside is not None and aside.parent == out.parent
    assert report.kept_aside == sorted(["NOTES.txt", "extra", "extra/plot.png",
                                        listed[0]["path"], listed[0]["path"].split("/")[0]])
    assert (aside / "NOTES.txt").read_text() == "my notes"
    assert (aside / "extra" / "plot.png").read_bytes() == b"png"
    # Every other file the old manifest listed is gone, with its manifest.
    assert not (aside / "manifest.json").exists()
    assert sorted(p for p in aside.rglob("*") if p.is_file()) == sorted(
        [aside / "NOTES.txt", aside / "extra" / "plot.png", aside / listed[0]["path"]])


def test_re_export_of_an_untouched_export_leaves_nothing_aside(project, tmp_path):
    _label_all(project)
    out = tmp_path / "out"
    export_dataset(project, out, "imagefolder")
    report = export_dataset(project, out, "imagefolder")
    assert report.previous_moved_to is None and report.kept_aside == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out")] == ["out"]


def test_a_manifest_listing_paths_outside_its_folder_deletes_nothing_there(project, tmp_path):
    _label_all(project)
    out = tmp_path / "out"
    export_dataset(project, out, "imagefolder")
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"].append({"path": "../victim.png",
                              "sha256": hashlib.sha256(b"precious").hexdigest()})
    (out / "manifest.json").write_text(json.dumps(manifest))
    export_dataset(project, out, "imagefolder")
    assert victim.read_bytes() == b"precious"


def test_export_into_the_project_is_refused_except_under_exports(project):
    _label_all(project)
    for inside in ("models", "cache", "models/sub", "exports"):
        result = run_cli("export", project.root, project.root / inside, "--force",
                         check=False)
        assert result.returncode == 1 and "inside the project folder" in result.stderr
    assert sorted(p.name for p in (project.root / "models").iterdir()) == []
    report = export_dataset(project, project.root / "exports" / "v1", "csv")
    assert (report.out / "labels.csv").is_file()


def test_staging_left_by_a_killed_export_is_cleaned_on_the_next(project, tmp_path):
    _label_all(project)
    gone = subprocess.Popen(["true"])
    gone.wait()
    legacy = tmp_path / ".out.labelloop-tmp-1a2b3c4d"
    dead = tmp_path / f".out.labelloop-tmp-{gone.pid}-deadbeef"
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = tmp_path / f".out.labelloop-tmp-{sleeper.pid}-0badf00d"
        for folder in (legacy, dead, live):
            folder.mkdir()
            (folder / "half.png").write_bytes(b"half")
        report = export_dataset(project, tmp_path / "out", "csv")
        assert sorted(report.cleaned_stale) == sorted([str(legacy), str(dead)])
        assert not legacy.exists() and not dead.exists()
        assert live.exists()  # a running export's folder is left alone
    finally:
        sleeper.kill()
        sleeper.wait()


def test_an_import_batch_without_samples_is_not_listed(project, tmp_path):
    (real,) = project.store.list_batches()
    # What an import killed before its first chunk was stored leaves behind.
    empty = project.store.create_batch([str(tmp_path / "elsewhere")])
    assert [b.id for b in project.store.list_batches()] == [real.id]
    from app.monitor.drift_report import newest_batch_with_samples

    assert newest_batch_with_samples(project) == real.id
    # Once it holds a sample (the killed import got one chunk in) it is a batch.
    project.store.insert_samples([("x.png", "0" * 64, 1, 1, 0)], empty)
    assert [b.id for b in project.store.list_batches()] == [real.id, empty]


def test_symlinked_models_folder_is_resolved_before_the_check(tmp_path):
    # The project may itself live behind a symlink: checkpoints stay valid.
    real = tmp_path / "real"
    with Workspace.init(real, ["a", "b"]) as ws:
        version_id = register_small_cnn(ws, classes=2)
    link = tmp_path / "link"
    link.symlink_to(real)
    with Workspace.open(link) as ws:
        assert load_network(ws, ws.model_version(version_id)) is not None
        delete_version(ws, version_id)
    assert list((real / "models").iterdir()) == []
