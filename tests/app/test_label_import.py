"""Importing labels from file,label CSVs."""

from __future__ import annotations

import pytest

from app.pool.label_import import import_labels
from app.project.workspace import WorkspaceError


def _csv(path, rows):
    path.write_text("file,label\n" + "".join(f"{f},{label}\n" for f, label in rows))
    return path


def test_matches_by_relative_path_and_by_unique_basename(project, tmp_path):
    names = sorted(s.path.rsplit("/", 1)[-1] for s in project.samples())
    rows = [(f"images/{names[0]}", "cat"), (names[1], "dog"), ("./" + names[2], "bird"),
            ("missing.png", "cat")]
    report = import_labels(project, _csv(tmp_path / "l.csv", rows), "ann")
    assert report.labeled == 3 and report.unmatched == ["missing.png"]
    labels = {project.sample(s).path.rsplit("/", 1)[-1]: c
              for s, c in project.current_labels().items()}
    assert labels == {names[0]: "cat", names[1]: "dog", names[2]: "bird"}
    again = import_labels(project, _csv(tmp_path / "l.csv", rows), "ann")
    assert again.labeled == 0 and again.unchanged == 3


def test_unknown_classes_are_listed_unless_added(project, tmp_path):
    name = project.samples()[0].path.rsplit("/", 1)[-1]
    csv_path = _csv(tmp_path / "l.csv", [(name, "fish"), (name, "eel")])
    with pytest.raises(WorkspaceError, match="unknown classes 'eel', 'fish'"):
        import_labels(project, csv_path, "ann")
    report = import_labels(project, csv_path, "ann", add_classes=True)
    assert report.added_classes == ["eel", "fish"]
    assert project.classes()[-2:] == ["eel", "fish"]


def test_a_basename_shared_by_two_samples_is_ambiguous(tmp_path):
    from app.pool.importer import import_images
    from app.project.workspace import Workspace
    from tests.conftest import write_noise_images

    write_noise_images(tmp_path / "src" / "a", 1, seed=1)
    write_noise_images(tmp_path / "src" / "b", 1, seed=2)
    with Workspace.init(tmp_path / "p", ["x"]) as ws:
        import_images(ws, [tmp_path / "src"], workers=1)
        report = import_labels(ws, _csv(tmp_path / "l.csv", [("img_0000.png", "x"),
                                                              ("b/img_0000.png", "x")]), "ann")
        assert report.ambiguous == ["img_0000.png"] and report.labeled == 1


def test_a_csv_without_the_columns_names_the_file(project, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,class\nx,y\n")
    with pytest.raises(WorkspaceError, match="bad.csv: needs a header with 'file' and 'label'"):
        import_labels(project, bad, "ann")
