"""Exports: loadable by torchvision, versioned, atomic, never outside OUT."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import torchvision
from PIL import Image

import app.pool.exporter
from app.files.file_digest import file_sha256
from app.files.safe_names import safe_component, safe_folder_names
from app.pool.exporter import ExportError, export_dataset


def _label_some(ws, labels=("cat", "dog", "cat", "bird", "dog", "cat")):
    for sample, label in zip(ws.samples(), labels, strict=False):
        ws.label(sample.id, label, "ann")


def test_imagefolder_round_trip_through_torchvision(project, tmp_path):
    _label_some(project)
    report = export_dataset(project, tmp_path / "out", "imagefolder")
    dataset = torchvision.datasets.ImageFolder(tmp_path / "out")
    assert len(dataset) == report.files == 6
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert dataset.class_to_idx == manifest["class_to_idx"]
    got = sorted(dataset.classes[target] for _, target in dataset.samples)
    assert got == sorted(["cat", "dog", "cat", "bird", "dog", "cat"])
    assert manifest["counts"] == {"cat": 3, "dog": 2, "bird": 1}
    by_path = {f["path"]: f for f in manifest["files"]}
    for path, target in dataset.samples:
        entry = by_path[Path(path).relative_to(tmp_path / "out").as_posix()]
        assert entry["label"] == dataset.classes[target]
        assert entry["sha256"] == file_sha256(Path(path))


def test_same_labels_give_the_same_version_and_a_change_a_new_one(project, tmp_path):
    _label_some(project)
    first = export_dataset(project, tmp_path / "a", "imagefolder")
    second = export_dataset(project, tmp_path / "b", "csv")
    assert first.dataset_version == second.dataset_version == project.dataset_version()
    project.label(project.samples()[0].id, "dog", "ann")
    third = export_dataset(project, tmp_path / "c", "jsonl")
    assert third.dataset_version != first.dataset_version


def test_csv_and_jsonl_carry_path_label_annotator_and_time(project, tmp_path):
    _label_some(project, ("cat",))
    export_dataset(project, tmp_path / "c", "csv")
    export_dataset(project, tmp_path / "j", "jsonl")
    with open(tmp_path / "c" / "labels.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    (line,) = (tmp_path / "j" / "labels.jsonl").read_text().splitlines()
    for record in (row, json.loads(line)):
        assert record["label"] == "cat" and record["annotator"] == "ann"
        assert Path(record["path"]).is_file() and record["labeled_at"]


def test_a_class_named_dot_dot_evil_stays_inside_out(project, tmp_path):
    project.add_classes(["../evil", "a/b", "CON", "x:y*"])
    _label_some(project, ("../evil", "a/b", "CON", "x:y*"))
    out = tmp_path / "deep" / "out"
    export_dataset(project, out, "imagefolder")
    written = [p for p in (tmp_path / "deep").rglob("*") if p.is_file()]
    assert len(written) == 5 and all(p.resolve().is_relative_to(out) for p in written)
    assert not (tmp_path / "deep" / "evil").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["class_folders"]["../evil"] == "___evil"
    assert all((out / folder).parent == out for folder in manifest["class_folders"].values())
    assert len(torchvision.datasets.ImageFolder(out)) == 4


def test_safe_names_are_distinct_and_harmless():
    mapping = safe_folder_names(["a/b", "a_b", "A_B", "..", "nul", "trail. "])
    assert len({v.lower() for v in mapping.values()}) == len(mapping)
    assert safe_component("..") == "__" and safe_component("nul") == "_nul"
    assert safe_component("trail. ") == "trail"


def test_refuses_a_foreign_non_empty_folder_unless_forced(project, tmp_path):
    _label_some(project)
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not empty and was not written by Labelloop"):
        export_dataset(project, out, "imagefolder")
    report = export_dataset(project, out, "imagefolder", force=True)
    assert (report.previous_moved_to / "precious.txt").read_text() == "keep me"
    # Our own export is replaced without --force.
    export_dataset(project, out, "csv")
    assert (out / "labels.csv").exists() and not (out / "cat").exists()


def test_refuses_to_replace_the_project_or_its_pool(project, tmp_path):
    with pytest.raises(ExportError, match="project folder"):
        export_dataset(project, project.root, "csv", force=True)
    with pytest.raises(ExportError, match="project's own images"):
        export_dataset(project, tmp_path / "images", "csv", force=True)


def test_an_interrupted_export_leaves_no_half_dataset(project, tmp_path, monkeypatch):
    _label_some(project)
    calls = {"n": 0}
    real = app.pool.exporter._place_file

    def crash_on_third(source, dest):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(source, dest)

    monkeypatch.setattr(app.pool.exporter, "_place_file", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(project, tmp_path / "out", "imagefolder")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if "labelloop-tmp" in p.name] == []


def test_gif_samples_become_png_so_imagefolder_lists_them(tmp_path):
    from app.pool.importer import import_images
    from app.project.workspace import Workspace

    (tmp_path / "src").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "src" / "a.gif")
    with Workspace.init(tmp_path / "p", ["r"]) as ws:
        import_images(ws, [tmp_path / "src"], workers=1)
        ws.label(ws.samples()[0].id, "r", "ann")
        export_dataset(ws, tmp_path / "out", "imagefolder")
    dataset = torchvision.datasets.ImageFolder(tmp_path / "out")
    assert len(dataset) == 1 and dataset.samples[0][0].endswith(".png")


def test_a_file_changed_since_import_is_skipped_with_a_reason(project, tmp_path):
    _label_some(project, ("cat", "dog"))
    changed = project.resolve(project.samples()[0].path)
    os.chmod(changed, 0o644)
    Image.new("RGB", (5, 5), "white").save(changed)
    report = export_dataset(project, tmp_path / "out", "imagefolder")
    assert report.files == 1
    assert report.skipped == [{"path": str(changed), "reason": "file changed since import"}]
