"""The repository the workspace implements: its shape, and queries with known answers."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain.dataset_version import dataset_version
from app.monitor.drift_report import training_reference
from app.project.workspace import Workspace
from app.store.repository import ProjectRepository
from tests.conftest import REPO, run_cli, write_noise_images

ANNOTATOR = "ann"


@pytest.fixture(params=["sqlite", "postgresql"])
def project(request, tmp_path: Path):
    """The shared three-class, 12-image project, on each backend in turn.

    The same records behind either backend must answer every query the same.
    """
    from app.pool.importer import import_images

    database = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    images = write_noise_images(tmp_path / "images", 12)
    workspace = Workspace.init(tmp_path / "proj", ["cat", "dog", "bird"], database=database)
    import_images(workspace, [images[0].parent], workers=1)
    yield workspace
    workspace.close()


def _version_fields(data_version: str = "unknown") -> dict:
    return {
        "creator": "test", "arch": "small_cnn", "input_shape": [3, 24, 24],
        "classes": ["cat", "dog", "bird"], "seed": 0, "hyperparameters": {},
        "torch_version": "x", "torchvision_version": "x", "checkpoint_path": "models/none.pt",
        "checkpoint_sha256": "0" * 64, "data_version": data_version, "n_train": 1,
        "n_labels": 1, "metrics": {}, "parent_id": None, "duration_s": 1.0,
    }


def test_the_workspace_implements_every_repository_method_with_its_signature():
    members = [name for name in vars(ProjectRepository) if not name.startswith("_")]
    assert len(members) > 30
    for name in members:
        declared = getattr(ProjectRepository, name)
        implemented = getattr(Workspace, name)
        if isinstance(declared, property):
            assert isinstance(implemented, property), name
            continue
        assert list(inspect.signature(implemented).parameters) \
            == list(inspect.signature(declared).parameters), name


def test_no_module_outside_the_store_speaks_sql_or_holds_a_connection():
    app = Path(REPO) / "app"
    offenders = []
    for path in app.rglob("*.py"):
        relative = path.relative_to(app).as_posix()
        if relative.startswith("store/"):
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("import sqlite3", "sqlalchemy", r"(?<!app)\.store\."):
            if re.search(needle, text):
                offenders.append((relative, needle))
    # The workspace holds its backend (``self.store``) and passes requests to it.
    assert {relative for relative, _ in offenders} <= {"project/workspace.py",
                                                       "project/records.py"}
    assert all("store" in needle for _, needle in offenders)


def test_unlabeled_ids_are_the_samples_without_a_current_label(project):
    ids = [s.id for s in project.samples()]
    project.label(ids[0], "cat", ANNOTATOR)
    project.label(ids[1], "dog", ANNOTATOR)
    project.label(ids[1], None, ANNOTATOR)  # unlabeled again
    project.label(ids[2], "bird", ANNOTATOR)
    project.label(ids[3], "cat", ANNOTATOR)
    project.undo_last(ANNOTATOR)  # ids[3] back to unlabeled, through an undo row
    expected = [i for i in ids if i not in project.current_labels()]
    assert project.unlabeled_sample_ids() == expected
    assert expected == [i for i in ids if i not in (ids[0], ids[2])]


def test_latest_model_is_the_newest_kept_version_with_its_evaluations(project):
    assert project.latest_model() is None
    first = project.add_model_version(_version_fields())
    second = project.add_model_version(_version_fields())
    project.add_evaluation(first, "set-a", 5, {"accuracy": 0.5})
    project.add_evaluation(second, "set-b", 7, {"accuracy": 0.7})
    project.add_evaluation(first, "set-c", 3, {"accuracy": 0.3})
    latest = project.latest_model()
    assert latest.id == second
    assert latest.evaluations[0]["test_set"] == "set-b" and len(latest.evaluations) == 1
    listed = {v.id: [e["test_set"] for e in v.evaluations] for v in project.model_versions()}
    assert listed == {first: ["set-a", "set-c"], second: ["set-b"]}
    assert project.model_version(first).evaluations[1]["n"] == 3
    project.mark_model_deleted(second)
    assert project.latest_model().id == first


def test_a_recorded_training_set_survives_a_class_rename(project):
    ids = [s.id for s in project.samples()][:6]
    for sid, name in zip(ids, ["cat", "dog", "bird"] * 2, strict=True):
        project.label(sid, name, ANNOTATOR)
    samples = {s.id: s for s in project.samples()}
    data_version = dataset_version((samples[sid].sha256, name)
                                   for sid, name in project.current_labels().items())
    class_ids = {c.name: c.id for c in project.class_infos()}
    trained = [(sid, class_ids[name]) for sid, name in project.current_labels().items()]
    recorded = project.add_model_version(_version_fields(data_version), trained)
    rebuilt = project.add_model_version(_version_fields(data_version))
    project.label(ids[0], "dog", ANNOTATOR)  # after training: not what it was trained on
    project.rename_class("bird", "parrot")

    assert project.training_items(recorded) == dict(trained)
    assert project.training_items(rebuilt) is None
    reference = training_reference(project, project.model_version(recorded))
    assert reference.recorded and reference.exact and reference.sample_ids == sorted(ids)
    # Without recorded rows the labels are rebuilt from timestamps, and the
    # rename makes them hash differently from the version's data_version.
    fallback = training_reference(project, project.model_version(rebuilt))
    assert not fallback.recorded and not fallback.exact


# On PostgreSQL a real training run is test_postgres_project's (with a media root).
@pytest.mark.parametrize("project", ["sqlite"], indirect=True)
def test_a_real_training_run_records_the_items_it_trained_on(project):
    ids = [s.id for s in project.samples()]
    for i, sid in enumerate(ids[:9]):
        project.label(sid, ["cat", "dog", "bird"][i % 3], ANNOTATOR)
    expected = {sid: {c.name: c.id for c in project.class_infos()}[name]
                for sid, name in project.current_labels().items()}
    root = project.root
    project.close()
    run_cli("train", root, "--epochs", "1", "--patience", "0", "--min-steps", "0",
            "--input-size", "16")
    with Workspace.open(root) as ws:
        version = ws.latest_model()
        assert ws.training_items(version.id) == expected
        assert version.n_labels == len(expected) == 9


WRITE_LABELS = """
import sys
from app.project.workspace import Workspace
with Workspace.open(sys.argv[1]) as ws:
    for sid in ws.unlabeled_sample_ids()[:4]:
        ws.label(sid, "cat", "other-process")
"""


def test_reads_see_what_another_process_committed(project):
    before = project.unlabeled_sample_ids()
    subprocess.run([sys.executable, "-c", WRITE_LABELS, str(project.root)], cwd=REPO,
                   check=True, capture_output=True)
    assert project.unlabeled_sample_ids() == before[4:]


def test_a_write_to_a_read_only_project_is_one_clear_error_on_either_path(project):
    from app.store.errors import StoreError

    root = project.root
    location = project.store.location
    if project.database_kind == "sqlite":
        assert location == str(root / "labelloop.sqlite")
    project.close()
    with Workspace.open(root, read_only=True) as ws:
        batch = ws.list_batches()[0].id
        # Bulk rows go to the driver's cursor; a single label through SQLAlchemy.
        for write in (lambda: ws.insert_samples([("x.png", "0" * 64, 1, 1, 0)], batch),
                      lambda: ws.label(ws.samples()[0].id, "cat", ANNOTATOR)):
            with pytest.raises(StoreError) as caught:
                write()
            assert str(caught.value).startswith(f"{location}: the project is read-only")


def test_video_frames_and_label_batches_work_on_either_backend(project, tmp_path):
    """The media table, frame rows and one-undo batches, on SQLite and on the server."""
    from app.pool.importer import import_images
    from tests.app.video_fixtures import SCENES, make_video

    video = tmp_path / "clips" / "drive.mp4"
    video.parent.mkdir()
    make_video(video, SCENES[:2], fps=25)
    report = import_images(project, [video], workers=1)
    assert report.to_json()["videos"] == 1 and report.added >= 2
    frames = [s for s in project.samples() if s.is_frame]
    assert len(frames) == report.added and project.media()[0].path.endswith("drive.mp4")
    assert import_images(project, [video], workers=1).added == 0  # nothing twice
    ids = [f.id for f in frames]
    project.label_many(ids, "cat", ANNOTATOR)
    assert [project.current_labels()[i] for i in ids] == ["cat"] * len(ids)
    assert sorted(a.sample_id for a in project.undo_last_step(ANNOTATOR)) == ids
    assert not set(ids) & set(project.current_labels())
