"""Labels given to several samples at once: one transaction, one undo step."""

from __future__ import annotations

import pytest

from app.domain.errors import WorkspaceError
from app.labeling.session import LabelingSession
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.conftest import run_cli, write_noise_images


def test_a_batch_is_labeled_together_and_undone_in_one_step(project):
    ids = [s.id for s in project.samples()]
    project.label(ids[0], "cat", "ann")
    project.label(ids[1], "dog", "ann")                  # relabeled by the batch below
    project.label_many(ids[1:5], "bird", "ann", source="unlabeled")
    labels = project.current_labels()
    assert [labels[i] for i in ids[:5]] == ["cat", "bird", "bird", "bird", "bird"]
    batch = {a.label_batch for a in project.all_annotations() if a.class_name == "bird"}
    assert len(batch) == 1 and None not in batch

    undone = project.undo_last_step("ann")
    assert sorted(a.sample_id for a in undone) == ids[1:5]
    labels = project.current_labels()
    # Each sample is back to what it was before the batch, not simply unlabeled.
    assert labels == {ids[0]: "cat", ids[1]: "dog"}
    # The next step back is the single label given before the batch.
    assert [a.sample_id for a in project.undo_last_step("ann")] == [ids[1]]
    assert project.current_labels() == {ids[0]: "cat"}


def test_another_annotators_batch_is_not_undone(project):
    ids = [s.id for s in project.samples()]
    project.label_many(ids[:3], "cat", "ann")
    project.label_many(ids[3:6], "dog", "bob")
    assert sorted(a.sample_id for a in project.undo_last_step("ann")) == ids[:3]
    assert project.current_labels() == dict.fromkeys(ids[3:6], "dog")


def test_a_batch_naming_an_unknown_sample_or_class_writes_nothing(project):
    ids = [s.id for s in project.samples()]
    with pytest.raises(WorkspaceError, match="no sample with id 9999"):
        project.label_many([ids[0], 9999], "cat", "ann")
    with pytest.raises(WorkspaceError, match="horse"):
        project.label_many(ids[:2], "horse", "ann")
    assert project.current_labels() == {}


def test_the_session_moves_past_the_batch_and_undo_returns_to_it(project):
    from app.labeling.queues import QueueSpec, build_queue

    session = LabelingSession(project, "ann")
    session.set_queue(build_queue(project, QueueSpec(kind="unlabeled")), "unlabeled")
    ids = [item.sample_id for item in session.queue]
    session.label_selected(ids[0:3], "dog")
    assert session.current.sample_id == ids[3]
    assert {a.source for a in project.all_annotations()} == {"unlabeled"}
    undone = session.undo()
    assert len(undone) == 3 and session.current.sample_id == ids[0]
    assert project.current_labels() == {}


def test_cli_labels_several_samples_as_one_batch(tmp_path):
    images = write_noise_images(tmp_path / "images", 4)
    with Workspace.init(tmp_path / "proj", ["cat", "dog"]) as workspace:
        import_images(workspace, [images[0].parent], workers=1)
    paths = [str(p) for p in images[:3]]
    out = run_cli("label", str(tmp_path / "proj"), *paths, "dog", "--annotator", "ann").stdout
    assert out.count(": dog") == 3
    out = run_cli("undo", str(tmp_path / "proj"), "--annotator", "ann").stdout
    assert out.count("undid label dog") == 3
    with Workspace.open(tmp_path / "proj") as workspace:
        assert workspace.current_labels() == {}
