"""Broken projects and a full disk give one clear line, never a traceback or half a write.

Every case runs the real CLI in a subprocess.  The full-disk cases put the
project (or the export) on a small tmpfs, mounted for the test; they are
skipped where mounting is not allowed (not root).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from app.project.workspace import DB_NAME, Workspace
from tests.app.test_confinement import register_small_cnn
from tests.conftest import run_cli, write_noise_images


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("labelloop: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def closed_project(project) -> Path:
    """The 12-sample project, closed (its WAL folded back into the file)."""
    project.close()
    return project.root


def test_a_future_schema_version_is_refused(closed_project):
    db = closed_project / DB_NAME
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    assert_one_line_error(run_cli("status", closed_project, check=False),
                          str(db), "schema version 99 is newer")


def test_an_empty_database_is_refused_not_re_created(closed_project):
    db = closed_project / DB_NAME
    db.write_bytes(b"")
    for command in ("status", "import"):
        args = [command, closed_project] + ([closed_project] if command == "import" else [])
        assert_one_line_error(run_cli(*args, check=False), str(db), "empty (0 bytes)")
    assert db.stat().st_size == 0  # still the evidence, not a fresh empty project


@pytest.mark.parametrize("content, reason", [
    (b"this is no database" * 10, "file is not a database"),
    (b"SQLite format 3\x00" + b"\xff" * 200, "file is not a database"),
])
def test_garbage_is_refused(closed_project, content, reason):
    (closed_project / DB_NAME).write_bytes(content)
    assert_one_line_error(run_cli("status", closed_project, check=False), reason)


def test_a_truncated_database_is_one_line(closed_project):
    db = closed_project / DB_NAME
    assert not db.with_name(DB_NAME + "-wal").exists()
    with open(db, "r+b") as handle:
        handle.truncate(db.stat().st_size // 3)
    assert_one_line_error(run_cli("status", closed_project, check=False),
                          str(db), "malformed")


def test_an_sqlite_file_that_is_not_a_project_is_refused(tmp_path):
    (tmp_path / "p").mkdir()
    with sqlite3.connect(tmp_path / "p" / DB_NAME) as conn:
        conn.execute("CREATE TABLE other (x)")
    assert_one_line_error(run_cli("status", tmp_path / "p", check=False),
                          "not a Labelloop database")


def test_init_in_an_impossible_place_leaves_nothing(tmp_path):
    assert_one_line_error(run_cli("init", "/proc/labelloop-test", "--classes", "a", check=False),
                          "/proc/labelloop-test", "No such file or directory")
    # A folder whose `models` is a file: init fails half-way and removes what it made.
    root = tmp_path / "p"
    root.mkdir()
    (root / "models").write_text("the user's file")
    assert_one_line_error(run_cli("init", root, "--classes", "a", check=False),
                          str(root / "models"))
    assert sorted(p.name for p in root.iterdir()) == ["models"]
    assert (root / "models").read_text() == "the user's file"


def test_a_checkpoint_of_the_wrong_shape_is_one_line(closed_project):
    with Workspace.open(closed_project) as ws:
        version_id = register_small_cnn(ws, classes=3, built_for=5)
    for args in (["models", closed_project, "--show", str(version_id)],
                 ["score", closed_project]):
        assert_one_line_error(run_cli(*args, check=False),
                              f"model version {version_id}", "does not fit", "size mismatch")


def test_training_from_weights_of_the_wrong_shape_names_the_file(closed_project, tmp_path):
    import torch

    from models.networks import SmallCNN

    with Workspace.open(closed_project) as ws:
        for sample in ws.samples()[:6]:
            ws.label(sample.id, "cat" if sample.id % 2 else "dog", "t")
    weights = tmp_path / "narrow.pt"
    torch.save(SmallCNN(3, width=8).state_dict(), weights)
    result = run_cli("train", closed_project, "--weights", weights, "--epochs", "1",
                     "--min-steps", "0", "--json", check=False)
    # Refused before any job starts: one line naming the file and the cause.
    assert result.returncode != 0 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert str(weights) in line and "size mismatch" in line
    with Workspace.open(closed_project) as ws:
        assert ws.store.list_jobs() == [] and ws.model_versions() == []


# -- read-only projects ------------------------------------------------------


@pytest.fixture
def read_only_project(project, tmp_path):
    """The project with one model version, then made read-only for real."""
    register_small_cnn(project)
    for sample in project.samples()[:6]:
        project.label(sample.id, ("cat", "dog", "bird")[sample.id % 3], "t")
    project.close()
    root = project.root
    if os.geteuid() != 0:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        yield root
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        return
    # Root ignores permissions: a read-only bind mount is the real thing.
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(root), str(root)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot make a read-only mount: {mounted.stderr!r}")
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


def test_reading_commands_work_on_a_read_only_project(read_only_project, tmp_path):
    root = read_only_project
    assert "labeled:   6" in run_cli("status", root).stdout
    assert json.loads(run_cli("models", root, "--json").stdout)[0]["id"] == 1
    assert json.loads(run_cli("jobs", root, "--json").stdout) == []
    ranked = json.loads(run_cli("rank", root, "--top", "3", "--json").stdout)
    assert len(ranked) == 3
    exported = json.loads(run_cli("export", root, tmp_path / "out", "--json").stdout)
    assert exported["files"] == 6
    assert not (root / "cache" / "scores").exists()  # nothing was cached, nothing written


def test_a_writing_command_on_a_read_only_project_is_one_line(read_only_project):
    line = assert_one_line_error(run_cli("label", read_only_project, "1", "cat", check=False),
                                 str(read_only_project / DB_NAME), "read-only")
    assert "write" in line


# -- a full disk ------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB tmpfs: a disk that can really fill up."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr!r}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path, leave_kib: int) -> Path:
    """Take all but ``leave_kib`` KiB of the disk's free space."""
    ballast = disk / "ballast"
    ballast.unlink(missing_ok=True)
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    size = max(free - leave_kib * 1024, 0)
    if size:
        with open(ballast, "wb") as handle:
            os.posix_fallocate(handle.fileno(), 0, size)
    return ballast


def _project_on(disk: Path, tmp_path: Path) -> Path:
    images = write_noise_images(tmp_path / "src", 8)
    root = disk / "p"
    run_cli("init", root, "--classes", "a,b")
    run_cli("import", root, images[0].parent)
    for sample_id in range(1, 7):
        run_cli("label", root, str(sample_id), "a" if sample_id <= 3 else "b")
    return root


def test_import_and_import_labels_on_a_full_disk_write_nothing(small_disk, tmp_path):
    root = _project_on(small_disk, tmp_path)
    more = write_noise_images(tmp_path / "more", 5, seed=7)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nimg_0006.png,a\nimg_0007.png,b\n")
    ballast = fill(small_disk, 0)
    assert_one_line_error(run_cli("import", root, more[0].parent, check=False),
                          str(root / DB_NAME), "full")
    assert_one_line_error(run_cli("import-labels", root, labels, check=False),
                          str(root / DB_NAME), "full")
    ballast.unlink()
    status = run_cli("status", root).stdout
    assert "samples:   8" in status and "labeled:   6" in status


def test_train_on_a_full_disk_fails_the_job_and_leaves_no_checkpoint(small_disk, tmp_path):
    root = _project_on(small_disk, tmp_path)
    ballast = fill(small_disk, 300)  # room for the database, not for a checkpoint
    result = run_cli("train", root, "--epochs", "1", "--min-steps", "0", "--no-semi-supervised",
                     check=False)
    assert result.returncode == 1
    assert "No space left on device" in result.stderr and "models/job-00001.pt" in result.stderr
    ballast.unlink()
    assert list((root / "models").iterdir()) == []
    (job,) = json.loads(run_cli("jobs", root, "--json").stdout)
    assert job["status"] == "failed" and "disk is full" in job["error"]
    assert json.loads(run_cli("models", root, "--json").stdout) == []


def test_export_onto_a_full_disk_leaves_no_half_dataset(project, small_disk):
    for sample in project.samples():
        project.label(sample.id, "cat", "t")
    fill(small_disk, 0)
    out = small_disk / "out"
    assert_one_line_error(run_cli("export", project.root, out, check=False),
                          "No space left on device", str(small_disk))
    assert sorted(p.name for p in small_disk.iterdir()) == ["ballast"]
