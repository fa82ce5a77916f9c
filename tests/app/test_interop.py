"""Interop: every export format comes back in; Label Studio, COCO and FiftyOne as
their own libraries read and write them.

The fresh projects import *renamed copies* of the images, so a label can only
find its item by the sha256 the export records or by the content of the
export's own copy, never by a file name that happens to match.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

from app.pool.export_formats import EXPORT_FORMATS, ExportOptions
from app.pool.exporter import export_dataset
from app.pool.importer import import_images
from app.pool.label_import import import_labels
from app.project.workspace import Workspace, WorkspaceError
from tests.conftest import run_cli, run_cli_in_process, write_noise_images

CLASSES = ["cat", "dog", "bird"]
# (item index, class, annotator): two annotators, every class, four unlabeled items.
LABELS = [(0, "cat", "ann"), (1, "dog", "bob"), (2, "cat", "bob"), (3, "bird", "ann"),
          (4, "dog", "ann"), (5, "bird", "bob"), (6, "cat", "ann"), (7, "dog", "bob")]


@pytest.fixture
def labeled(tmp_path: Path):
    """A project of 12 images, 8 of them labeled by two annotators."""
    images = write_noise_images(tmp_path / "images", 12, seed=7)
    ws = Workspace.init(tmp_path / "source", CLASSES)
    import_images(ws, [images[0].parent], workers=1)
    samples = ws.samples()
    for index, label, annotator in LABELS:
        ws.label(samples[index].id, label, annotator, seconds_spent=1.5 + index)
    yield ws
    ws.close()


def fresh_project(tmp_path: Path, images: Path, name: str = "fresh") -> Workspace:
    """A new project holding renamed copies of ``images`` (same bytes, other names)."""
    copies = tmp_path / f"{name}-images"
    copies.mkdir()
    for number, path in enumerate(sorted(images.glob("*.png"))):
        shutil.copyfile(path, copies / f"copy_{number:03d}_{path.stem[::-1]}.png")
    ws = Workspace.init(tmp_path / name, CLASSES)
    import_images(ws, [copies], workers=1)
    return ws


def annotators_by_sha(ws: Workspace) -> dict[str, tuple[str, str]]:
    newest = ws.current_annotations()
    return {s.sha256: (label, newest[s.id].annotator) for s, label in ws.labeled_samples()}


# What each format is read back from: the export folder (format detected from
# the folder) or the label file inside it (format detected from the content).
READ_BACK = {"imagefolder": "", "csv": "labels.csv", "jsonl": "labels.jsonl",
             "labelstudio": "tasks.json", "hf": "train/metadata.jsonl", "hf-parquet": "",
             "coco": "annotations.json", "fiftyone": "labels.json"}
# Formats without a place for the annotator: the importing user is recorded.
NO_ANNOTATOR = {"imagefolder"}


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_each_format_imports_back_with_the_same_dataset_version(labeled, tmp_path, fmt):
    out = tmp_path / "out"
    report = export_dataset(labeled, out, fmt)
    assert report.files == len(LABELS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset_version"] == report.dataset_version == labeled.dataset_version()
    fresh = fresh_project(tmp_path, tmp_path / "images")
    try:
        assert fresh.dataset_version() != report.dataset_version
        imported = import_labels(fresh, out / READ_BACK[fmt], "importer")
        assert imported.labeled == len(LABELS) and imported.unmatched == []
        assert imported.matched == len(LABELS)
        assert fresh.dataset_version() == report.dataset_version
        expected = annotators_by_sha(labeled)
        if fmt in NO_ANNOTATOR:
            expected = {sha: (label, "importer") for sha, (label, _) in expected.items()}
        assert annotators_by_sha(fresh) == expected
        # A second import of the same file changes nothing.
        again = import_labels(fresh, out / READ_BACK[fmt], "importer")
        assert again.labeled == 0 and again.unchanged == len(LABELS)
    finally:
        fresh.close()


def test_every_export_folder_is_recognised_as_its_format(labeled, tmp_path):
    detected = {}
    for fmt in EXPORT_FORMATS:
        export_dataset(labeled, tmp_path / fmt, fmt)
        detected[fmt] = import_labels(labeled, tmp_path / fmt, "x").format
    assert detected == {"imagefolder": "imagefolder", "csv": "labelloop-table",
                        "jsonl": "labelloop-table", "labelstudio": "labelstudio",
                        "hf": "hf-metadata", "hf-parquet": "hf-parquet", "coco": "coco",
                        "fiftyone": "fiftyone"}


def test_re_exporting_another_format_removes_what_the_first_wrote(labeled, tmp_path):
    out = tmp_path / "out"
    for fmt in EXPORT_FORMATS:
        report = export_dataset(labeled, out, fmt)
        assert report.kept_aside == [] and report.previous_moved_to is None
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert files == ["data", *[f"data/{n}" for n in sorted(os.listdir(out / "data"))],
                     "labels.json", "manifest.json"]


def test_a_generated_file_edited_since_is_kept_aside_not_deleted(labeled, tmp_path):
    out = tmp_path / "out"
    export_dataset(labeled, out, "hf")
    card = out / "README.md"
    card.write_text(card.read_text() + "\nOur notes on this dataset.\n")
    report = export_dataset(labeled, out, "coco")
    assert report.kept_aside == ["README.md"]
    assert "Our notes" in (report.previous_moved_to / "README.md").read_text()
    assert not (out / "train").exists() and (out / "annotations.json").is_file()


# -- Label Studio -------------------------------------------------------------------


def test_label_studio_export_is_valid_for_the_sdk(labeled, tmp_path):
    from label_studio_sdk.converter import Converter
    from label_studio_sdk.label_interface import LabelInterface

    out = tmp_path / "ls"
    export_dataset(labeled, out, "labelstudio", options=ExportOptions(image_root=tmp_path))
    config = (out / "label_config.xml").read_text()
    interface = LabelInterface(config)
    assert sorted(interface.get_control("label").labels) == sorted(CLASSES)
    tasks = json.loads((out / "tasks.json").read_text())
    assert len(tasks) == len(LABELS)
    for task in tasks:
        (annotation,) = task["annotations"]
        assert interface.validate_annotation(annotation)
        assert annotation["lead_time"] > 1 and task["meta"]["annotator"] in {"ann", "bob"}
        # Label Studio refuses completed_by naming a user it does not know.
        assert "completed_by" not in annotation
        path = task["data"]["image"].removeprefix("/data/local-files/?d=")
        assert (tmp_path / path).is_file()  # relative to the image root, as Label Studio needs
    # The SDK's own export parser reads the labels and annotators back.
    parsed = list(Converter(config, str(out), download_resources=False)
                  .iter_from_json_file(str(out / "tasks.json")))
    by_task = {t["id"]: t for t in tasks}
    got = sorted((by_task[p["id"]]["data"]["sha256"], p["output"]["label"][0]["choices"][0],
                  by_task[p["id"]]["meta"]["annotator"]) for p in parsed)
    expected = sorted((sha, label, who) for sha, (label, who) in
                      annotators_by_sha(labeled).items())
    assert got == expected


def _region(label: str, from_name: str = "choice") -> dict:
    return {"value": {"choices": [label]}, "id": f"r-{label}", "from_name": from_name,
            "to_name": "image", "type": "choices", "origin": "manual"}


def _annotation(number: int, label: str | None, by: object, day: int,
                cancelled: bool = False) -> dict:
    return {"id": number, "completed_by": by, "result": [] if label is None else [_region(label)],
            "was_cancelled": cancelled, "ground_truth": False,
            "created_at": f"2024-03-{day:02d}T10:00:00.000000Z",
            "updated_at": f"2024-03-{day:02d}T10:00:00.000000Z", "lead_time": 4.2}


LS_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="choice" toName="image"><Choice value="cat"/><Choice value="dog"/>
  <Choice value="bird"/></Choices>
</View>"""


@pytest.fixture
def studio_export(tmp_path: Path):
    """A project whose files have spaces and accents, and an export in Label
    Studio's own shape naming them: local-files URLs (URL-encoded), an upload,
    several annotators, cancelled annotations, predictions, unmatched tasks."""
    folder = tmp_path / "photos" / "été 2024"
    write_noise_images(folder, 4, seed=3, prefix="chat noir")
    ws = Workspace.init(tmp_path / "proj", CLASSES)
    import_images(ws, [folder], workers=1)
    url = "/data/local-files/?d=" + quote("photos/été 2024/chat noir_0000.png")
    prediction = {"id": 9, "model_version": "yolo", "score": 0.8, "result": [_region("bird")]}
    tasks = [
        {"id": 1, "data": {"image": url}, "predictions": [prediction], "annotations": [
            _annotation(11, "cat", 1, 1),
            _annotation(12, "dog", {"id": 2, "email": "b@lab.org"}, 3),
            _annotation(13, "bird", 3, 2, cancelled=True),
            _annotation(14, None, 3, 4, cancelled=True),  # the newest, but skipped
        ]},
        # An uploaded file: Label Studio adds an 8-hex prefix to its name.
        {"id": 2, "data": {"image": "/data/upload/7/3fa2b9c1-chat%20noir_0001.png"},
         "annotations": [_annotation(21, "bird", 1, 5)], "predictions": []},
        {"id": 3, "data": {"image": "/data/local-files/?d=elsewhere/missing.png"},
         "annotations": [_annotation(31, "cat", 1, 5)], "predictions": []},
        {"id": 4, "data": {"image": "/data/local-files/?d=" + quote(
            "photos/été 2024/chat noir_0002.png")},
         "annotations": [_annotation(41, "dog", 1, 6, cancelled=True)],
         "predictions": [prediction]},
        {"id": 5, "data": {"image": url.replace("0000", "0003")}, "annotations": [],
         "predictions": [prediction]},
    ]
    path = tmp_path / "export" / "project-1-at-2024-03-07.json"
    path.parent.mkdir()
    path.write_text(json.dumps(tasks), encoding="utf-8")
    yield ws, path
    ws.close()


def test_a_label_studio_export_imports_with_the_right_counts(studio_export):
    ws, path = studio_export
    report = import_labels(ws, path, "importer")
    assert report.format == "labelstudio"
    assert report.labeled == 2 and report.history == 1 and report.unmatched == [
        "elsewhere/missing.png"]
    assert report.source_counts == {"tasks": 5, "annotations": 7, "cancelled": 3,
                                    "predictions_ignored": 3, "tasks_without_label": 2}
    assert report.per_annotator == {"b@lab.org": {"labeled": 1, "history": 0},
                                    "labelstudio-user-1": {"labeled": 1, "history": 1}}
    by_name = {Path(s.path).name: s for s in ws.samples()}
    first = by_name["chat noir_0000.png"]
    # The newest non-cancelled annotation wins; the older one is history, with its annotator.
    assert [(a.class_name, a.annotator, a.origin) for a in ws.history(first.id)] == [
        ("cat", "labelstudio-user-1", "imported"), ("dog", "b@lab.org", "imported")]
    assert ws.current_labels() == {first.id: "dog", by_name["chat noir_0001.png"].id: "bird"}


def test_an_annotation_edited_last_is_the_newest(studio_export):
    """Created first but updated after the others: its class wins, in the full
    export and in the SDK's JSON_MIN of it."""
    from label_studio_sdk.converter import Converter

    ws, path = studio_export
    tasks = json.loads(path.read_text())
    tasks[0]["annotations"][0]["updated_at"] = "2024-03-09T10:00:00.000000Z"  # cat, user 1
    path.write_text(json.dumps(tasks))
    first = next(s.id for s in ws.samples() if Path(s.path).name == "chat noir_0000.png")
    report = import_labels(ws, path, "importer")
    assert report.labeled == 2 and report.history == 1
    assert ws.current_labels()[first] == "cat"
    assert [(a.class_name, a.annotator) for a in ws.history(first)][-1] == (
        "cat", "labelstudio-user-1")
    converter = Converter(LS_CONFIG, str(path.parent), download_resources=False)
    converter.convert_to_json_min(str(path), str(path.parent / "min"), is_dir=False)
    records = json.loads((path.parent / "min" / "result.json").read_text())
    assert {r.get("updated_at") for r in records if r["id"] == 1} >= {
        "2024-03-09T10:00:00.000000Z"}
    with Workspace.init(ws.root.parent / "again", CLASSES) as again:
        import_images(again, [ws.root.parent / "photos"], workers=1)
        import_labels(again, path.parent / "min" / "result.json", "importer")
        name = {s.id: Path(s.path).name for s in again.samples()}
        assert {name[i]: c for i, c in again.current_labels().items()}[
            "chat noir_0000.png"] == "cat"


def test_json_min_from_the_sdk_converter_gives_the_same_labels(studio_export, tmp_path):
    from label_studio_sdk.converter import Converter

    ws, path = studio_export
    converter = Converter(LS_CONFIG, str(path.parent), download_resources=False)
    converter.convert_to_json_min(str(path), str(tmp_path / "min"), is_dir=False)
    minimal = tmp_path / "min" / "result.json"
    records = json.loads(minimal.read_text())
    # The SDK's own shape: one record per annotation (none for cancelled ones), the
    # choice under the control's name, the annotator as a user id or an email.
    assert sorted((r["id"], r.get("choice"), r.get("annotator")) for r in records) == [
        (1, "cat", 1), (1, "dog", "b@lab.org"), (2, "bird", 1), (3, "cat", 1), (5, None, None)]
    report = import_labels(ws, minimal, "importer")
    assert report.format == "labelstudio-min"
    assert report.labeled == 2 and report.history == 1 and report.invalid_labels == []
    assert report.per_annotator == {"b@lab.org": {"labeled": 1, "history": 0},
                                    "labelstudio-user-1": {"labeled": 1, "history": 1}}
    assert report.unmatched == ["elsewhere/missing.png"]
    labels = {Path(ws.sample(i).path).name: c for i, c in ws.current_labels().items()}
    assert labels == {"chat noir_0000.png": "dog", "chat noir_0001.png": "bird"}


def test_json_min_of_a_labelloop_export_imports_back_with_the_same_dataset_version(
        labeled, tmp_path):
    """Label Studio's other export: the SDK's converter turns our tasks.json into
    JSON_MIN (annotator lost: no completed_by), which imports back the same."""
    from label_studio_sdk.converter import Converter

    out = tmp_path / "ls"
    export_dataset(labeled, out, "labelstudio")
    converter = Converter((out / "label_config.xml").read_text(), str(out),
                          download_resources=False)
    converter.convert_to_json_min(str(out / "tasks.json"), str(tmp_path / "min"), is_dir=False)
    minimal = tmp_path / "min" / "result.json"
    fresh = fresh_project(tmp_path, tmp_path / "images")
    try:
        report = import_labels(fresh, minimal, "importer")
        assert report.format == "labelstudio-min" and report.labeled == len(LABELS)
        assert report.unmatched == [] and report.invalid_labels == []
        assert fresh.dataset_version() == labeled.dataset_version()
    finally:
        fresh.close()


def test_several_choices_ticked_are_reported_not_guessed(studio_export):
    ws, path = studio_export
    tasks = json.loads(path.read_text())
    tasks[1]["annotations"][0]["result"][0]["value"]["choices"] = ["bird", "cat"]
    path.write_text(json.dumps(tasks))
    report = import_labels(ws, path, "importer")
    assert report.labeled == 1
    assert report.invalid_labels == [{"file": "chat noir_0001.png", "label": "",
                                      "reason": "several choices ticked (bird, cat)"}]


def register_model_for(ws: Workspace) -> int:
    """A real (untrained) small_cnn over the project's classes, registered as a version."""
    import torch

    from app.learning.checkpoint_file import save_checkpoint
    from models.networks import build_network

    network = build_network("small_cnn", len(CLASSES), 32, pretrained=False)
    path = ws.models_dir / "hand-1.pt"
    sha = save_checkpoint(network.state_dict(), path)
    return ws.store.add_model_version({
        "creator": "t", "arch": "small_cnn", "input_shape": [3, 32, 32], "classes": CLASSES,
        "seed": 0, "hyperparameters": {"network_revision": network.revision},
        "torch_version": torch.__version__, "torchvision_version": "x",
        "checkpoint_path": ws.stored_path(path), "checkpoint_sha256": sha,
        "data_version": "d", "n_train": 1, "n_labels": 1, "metrics": {},
        "parent_id": None, "duration_s": 0.0,
    })


def test_label_studio_export_carries_the_latest_models_predictions(labeled, tmp_path):
    from label_studio_sdk.label_interface import LabelInterface

    from app.learning.scoring import cached_scores

    version_id = register_model_for(labeled)
    run_cli_in_process("export", labeled.root, tmp_path / "ls", "--format", "labelstudio",
                       "--predictions", "--image-url-prefix", "")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    interface = LabelInterface((tmp_path / "ls" / "label_config.xml").read_text())
    scores = cached_scores(labeled, labeled.model_version(version_id))
    version_classes = labeled.model_version(version_id).classes
    predicted = [t for t in tasks if t["predictions"]]
    assert sorted(t["id"] for t in predicted) == labeled.unlabeled_sample_ids()
    assert all(not t["predictions"] for t in tasks if t["annotations"])
    for task in predicted:
        (prediction,) = task["predictions"]
        assert interface.validate_prediction(prediction, return_errors=True) == []
        assert prediction["model_version"] == f"labelloop-model-{version_id}"
        row = int(scores.rows_for(np.array([task["id"]]))[0])
        best = int(scores.probs[row].argmax())
        assert prediction["result"][0]["value"]["choices"] == [version_classes[best]]
        assert prediction["score"] == pytest.approx(float(scores.probs[row][best]), abs=1e-6)
        assert Path(task["data"]["image"]).is_file()  # '' prefix: the plain path


def test_predictions_without_a_model_say_so(labeled, tmp_path):
    result = run_cli("export", labeled.root, tmp_path / "ls", "--format", "labelstudio",
                     "--predictions", check=False)
    assert result.returncode == 1 and "no model version" in result.stderr
    assert not (tmp_path / "ls").exists()


# -- COCO ---------------------------------------------------------------------------


def test_coco_export_loads_with_pycocotools(labeled, tmp_path):
    from pycocotools.coco import COCO

    export_dataset(labeled, tmp_path / "coco", "coco")
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == CLASSES
    assert len(coco.getImgIds()) == len(coco.getAnnIds()) == len(LABELS)
    expected = annotators_by_sha(labeled)
    for image in coco.loadImgs(coco.getImgIds()):
        (annotation,) = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        (category,) = coco.loadCats([annotation["category_id"]])
        assert (category["name"], annotation["annotator"]) == expected[image["sha256"]]
        assert (tmp_path / "coco" / "images" / image["file_name"]).is_file()
    # The category ids of one class name stay put: boxes added later share them.
    assert coco.getCatIds(catNms=["dog"]) == [2]


# -- FiftyOne -----------------------------------------------------------------------

_FIFTYONE_LOAD = """
import json, sys
import fiftyone as fo
out = {}
for kind, folder in (("json", sys.argv[1]), ("tree", sys.argv[2])):
    dataset_type = (fo.types.FiftyOneImageClassificationDataset if kind == "json"
                    else fo.types.ImageClassificationDirectoryTree)
    dataset = fo.Dataset.from_dir(dataset_dir=folder, dataset_type=dataset_type)
    out[kind] = {"classes": dataset.default_classes,
                 "pairs": sorted([s.filepath, s.ground_truth.label] for s in dataset)}
    if kind == "json":  # and FiftyOne's own writers, for import-labels to read
        for name, written in (("json", fo.types.FiftyOneImageClassificationDataset),
                              ("tree", fo.types.ImageClassificationDirectoryTree)):
            dataset.export(export_dir=sys.argv[3] + "/" + name, dataset_type=written,
                           label_field="ground_truth")
print(json.dumps(out))
"""
# Where ``make fiftyone`` puts FiftyOne: an environment of its own, beside .venv,
# complete once its stamp exists (a failed install leaves a Python without it).
FIFTYONE_VENV = Path(__file__).resolve().parents[2] / ".venv-fiftyone"


def _fiftyone_python() -> str | None:
    """An interpreter with FiftyOne: LABELLOOP_FIFTYONE_PYTHON, else the one
    ``make fiftyone`` installs, else this one if it has FiftyOne."""
    if os.environ.get("LABELLOOP_FIFTYONE_PYTHON"):
        return os.environ["LABELLOOP_FIFTYONE_PYTHON"]
    if (FIFTYONE_VENV / ".installed").is_file():
        return str(FIFTYONE_VENV / "bin" / "python")
    try:
        import fiftyone  # noqa: F401

        return sys.executable
    except ImportError:
        return None


def _fiftyone_environment(scratch: Path) -> dict[str, str]:
    """FiftyOne with its database, config and analytics kept to ``scratch``:
    a user's own FIFTYONE_* settings (a remote database URI) never apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIFTYONE_")}
    env.update(FIFTYONE_DATABASE_DIR=str(scratch / "db"),
               FIFTYONE_CONFIG_PATH=str(scratch / "config.json"),
               FIFTYONE_DO_NOT_TRACK="true", MPLCONFIGDIR=str(scratch / "mpl"))
    return env


@pytest.mark.slow
def test_fiftyone_dataset_from_dir_loads_both_classification_layouts(labeled, tmp_path):
    """``fiftyone.Dataset.from_dir`` (a real MongoDB, started by FiftyOne) loads
    the ``fiftyone`` export and the ``imagefolder`` tree with every label."""
    python = _fiftyone_python()
    if python is None:
        message = ("FIFTYONE NOT INSTALLED: `make fiftyone` installs it in .venv-fiftyone "
                   "(make test does; it needs PyPI), or set LABELLOOP_FIFTYONE_PYTHON to a "
                   "Python that has it")
        if os.environ.get("CI"):  # as for PostgreSQL: in CI a failure, never a skip
            pytest.fail(message)
        pytest.skip(message)
    export_dataset(labeled, tmp_path / "fo", "fiftyone")
    export_dataset(labeled, tmp_path / "tree", "imagefolder")
    written = tmp_path / "written-by-fiftyone"
    result = subprocess.run([python, "-c", _FIFTYONE_LOAD, str(tmp_path / "fo"),
                             str(tmp_path / "tree"), str(written)], capture_output=True, text=True,
                            timeout=300, env=_fiftyone_environment(tmp_path / "fiftyone"))
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    for kind, folder in (("json", tmp_path / "fo"), ("tree", tmp_path / "tree")):
        manifest = json.loads((folder / "manifest.json").read_text())
        assert loaded[kind]["pairs"] == sorted([str(folder / f["path"]), f["label"]]
                                               for f in manifest["files"])
        assert len(loaded[kind]["pairs"]) == len(LABELS)
    assert loaded["json"]["classes"] == CLASSES  # labels.json's order, the project's
    assert loaded["tree"]["classes"] == sorted(CLASSES)  # the folders, as FiftyOne lists them
    # What FiftyOne itself writes, in either layout, imports into a fresh project
    # (renamed copies of the images) with the same dataset_version.
    assert (written / "json" / "labels.json").is_file()
    for layout in ("json", "tree"):
        fresh = fresh_project(tmp_path, tmp_path / "images", name=f"fresh-{layout}")
        try:
            report = import_labels(fresh, written / layout, "importer")
            assert report.format == ("fiftyone" if layout == "json" else "imagefolder")
            assert report.labeled == len(LABELS) and report.unmatched == []
            assert fresh.dataset_version() == labeled.dataset_version()
        finally:
            fresh.close()


def test_fiftyone_labels_follow_the_documented_layout(labeled, tmp_path):
    """FiftyOneImageClassificationDataset: labels.json maps the image's name in data/
    without extension to an index into ``classes``."""
    export_dataset(labeled, tmp_path / "fo", "fiftyone")
    document = json.loads((tmp_path / "fo" / "labels.json").read_text())
    assert document["classes"] == CLASSES
    stems = {p.stem: p for p in (tmp_path / "fo" / "data").iterdir()}
    assert set(document["labels"]) == set(stems)
    manifest = json.loads((tmp_path / "fo" / "manifest.json").read_text())
    by_path = {f["path"]: f["label"] for f in manifest["files"]}
    for uuid, index in document["labels"].items():
        assert CLASSES[index] == by_path[f"data/{stems[uuid].name}"]


# -- import --with-labels, the summary, bad input -------------------------------------


def _class_tree(root: Path) -> None:
    write_noise_images(root / "cat", 2, seed=11)
    write_noise_images(root / "dog" / "deeper", 1, seed=12)
    write_noise_images(root / "fish", 1, seed=13)


def test_import_with_labels_takes_a_class_tree_in_one_step(tmp_path):
    _class_tree(tmp_path / "tree")
    Workspace.init(tmp_path / "p", CLASSES).close()
    refused = run_cli("import", tmp_path / "p", tmp_path / "tree", "--with-labels",
                      check=False)
    assert refused.returncode == 1 and "unknown classes 'fish'" in refused.stderr
    with Workspace.open(tmp_path / "p") as ws:
        assert ws.sample_count() == 0  # refused before importing anything
    output = run_cli_in_process("import", tmp_path / "p", tmp_path / "tree", "--with-labels",
                                "--add-classes", "--annotator", "curator", "--json")
    summary = json.loads(output)
    assert summary["added"] == 4 and summary["labels"]["labeled"] == 4
    assert summary["labels"]["per_annotator"] == {"curator": {"labeled": 4, "history": 0}}
    with Workspace.open(tmp_path / "p") as ws:
        labels = sorted((Path(ws.sample(i).path).parent.name, c)
                        for i, c in ws.current_labels().items())
    assert labels == [("cat", "cat"), ("cat", "cat"), ("deeper", "dog"), ("fish", "fish")]


def test_import_labels_json_summary_lists_unmatched_paths_and_annotators(studio_export):
    ws, path = studio_export
    summary = json.loads(run_cli_in_process("import-labels", ws.root, path, "--json"))
    assert summary["matched"] == 2 and summary["unmatched"] == ["elsewhere/missing.png"]
    assert summary["conflicting"] == [] and summary["format"] == "labelstudio"
    assert set(summary["per_annotator"]) == {"b@lab.org", "labelstudio-user-1"}


def test_conflicting_entries_keep_the_current_label(labeled, tmp_path):
    export_dataset(labeled, tmp_path / "coco", "coco")
    document = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    first = document["annotations"][0]
    document["annotations"].append({**first, "id": 99, "category_id": first["category_id"] % 3
                                    + 1})
    (tmp_path / "coco" / "annotations.json").write_text(json.dumps(document))
    fresh = fresh_project(tmp_path, tmp_path / "images")
    report = import_labels(fresh, tmp_path / "coco" / "annotations.json", "x")
    assert report.labeled == len(LABELS) - 1 and len(report.conflicting) == 1
    fresh.close()


@pytest.mark.parametrize("content, reason", [
    ('{"hello": 1}', "none of the label formats"),
    ('[{"data": 3}]', "cannot tell which field holds the class"),
    ('[1, 2]', "none of the label formats"),
    ('{"file_name": "a.png"}\n{"file_name": "b.png", "label": "cat"}\nnot json\n',
     "line 3 is not JSON"),
])
def test_a_file_of_no_known_format_names_the_file(labeled, tmp_path, content, reason):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(WorkspaceError, match=f"bad.json: .*{reason}"):
        import_labels(labeled, bad, "x")


def test_hugging_face_metadata_csv_beside_its_images(labeled, tmp_path):
    """An imagefolder from elsewhere: ``metadata.csv`` (file_name, label) next to
    the images, named unlike the project's files: matched by content."""
    folder = tmp_path / "hub" / "train"
    folder.mkdir(parents=True)
    rows = ["file_name,label"]
    for number, (sample, label) in enumerate(labeled.labeled_samples()):
        shutil.copyfile(labeled.resolve(sample.path), folder / f"{number}.png")
        rows.append(f"{number}.png,{label}")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    fresh = fresh_project(tmp_path, tmp_path / "images")
    try:
        report = import_labels(fresh, folder / "metadata.csv", "hub")
        assert report.format == "hf-metadata" and report.labeled == len(LABELS)
        assert fresh.dataset_version() == labeled.dataset_version()
    finally:
        fresh.close()


def test_label_studio_image_urls_follow_the_prefix_and_root(labeled, tmp_path):
    options = ExportOptions(image_url_prefix="https://files.example/data/",
                            image_root=str(tmp_path))
    export_dataset(labeled, tmp_path / "ls", "labelstudio", options=options)
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    names = {Path(labeled.sample(t["id"]).path).name for t in tasks}
    assert sorted(t["data"]["image"] for t in tasks) == sorted(
        f"https://files.example/data/images/{n}" for n in names)
    # Read back by the URL's path alone (no sha256): the same labels.
    for task in tasks:
        del task["data"]["sha256"]
    (tmp_path / "ls" / "tasks.json").write_text(json.dumps(tasks))
    fresh = Workspace.init(tmp_path / "fresh", CLASSES)
    import_images(fresh, [tmp_path / "images"], workers=1)
    assert import_labels(fresh, tmp_path / "ls" / "tasks.json", "x").labeled == len(LABELS)
    assert fresh.dataset_version() == labeled.dataset_version()
    fresh.close()
    with pytest.raises(WorkspaceError, match="not under the image root"):
        export_dataset(labeled, tmp_path / "ls2", "labelstudio",
                       options=ExportOptions(image_root=str(tmp_path / "elsewhere")))
    assert not (tmp_path / "ls2").exists()


def test_video_frames_carry_video_frame_index_and_timestamp(tmp_path):
    """Every format names a frame's video, index and time; image files carry none."""
    from tests.app.video_fixtures import make_video

    video = tmp_path / "src" / "drive.mp4"
    video.parent.mkdir()
    make_video(video, fps=25)
    write_noise_images(tmp_path / "src", 2)
    with Workspace.init(tmp_path / "p", ["car", "none"]) as ws:
        import_images(ws, [tmp_path / "src"], workers=1)
        for n, sample in enumerate(ws.samples()):
            ws.label(sample.id, "car" if n % 2 else "none", "ann")
        truth = {s.id: (s.frame_index, s.timestamp_s) for s in ws.samples() if s.is_frame}
        stored_video = ws.media()[0].path
        assert len(truth) >= 2
        export_dataset(ws, tmp_path / "hf", "hf")
        export_dataset(ws, tmp_path / "coco", "coco")
        export_dataset(ws, tmp_path / "jsonl", "jsonl")
    rows = [json.loads(line) for line in
            (tmp_path / "hf" / "train" / "metadata.jsonl").read_text().splitlines()]
    coco = json.loads((tmp_path / "coco" / "annotations.json").read_text())["images"]
    table = [json.loads(line) for line in
             (tmp_path / "jsonl" / "labels.jsonl").read_text().splitlines()]
    for listing in (rows, coco, table):
        frames = [r for r in listing if "frame_index" in r]
        assert len(frames) == len(truth) and len(listing) == len(truth) + 2
        assert {r["video"] for r in frames} == {stored_video}
        assert sorted((r["frame_index"], r["timestamp"]) for r in frames) == sorted(
            truth.values())


def test_hugging_face_class_indices_are_named_through_the_dataset_card(labeled, tmp_path):
    export_dataset(labeled, tmp_path / "hf", "hf")
    metadata = tmp_path / "hf" / "train" / "metadata.jsonl"
    rows = [json.loads(line) for line in metadata.read_text().splitlines()]
    for row in rows:  # as datasets writes a ClassLabel column: the index
        row["label"] = CLASSES.index(row["label"])
        del row["sha256"]
    metadata.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fresh = fresh_project(tmp_path, tmp_path / "images")
    try:
        assert import_labels(fresh, metadata, "x").labeled == len(LABELS)
        assert fresh.dataset_version() == labeled.dataset_version()
        (tmp_path / "hf" / "README.md").unlink()  # no card: indices are no class names
        with pytest.raises(WorkspaceError, match="unknown classes '0', '1', '2'"):
            import_labels(fresh, metadata, "x")
    finally:
        fresh.close()


def test_import_labels_text_summary_names_the_format_history_and_annotators(studio_export):
    ws, path = studio_export
    lines = run_cli_in_process("import-labels", ws.root, path).splitlines()
    assert lines[0].startswith("labeled 2, already so 0, unmatched 1,")
    assert lines[1:] == ["read as labelstudio", "earlier annotations kept as history: 1",
                         "by annotator: b@lab.org 1, labelstudio-user-1 1"]


def test_a_label_studio_path_that_climbs_out_is_refused(studio_export):
    ws, path = studio_export
    tasks = json.loads(path.read_text())
    tasks[1]["data"]["image"] = "/data/local-files/?d=" + quote("photos/../../etc/passwd")
    path.write_text(json.dumps(tasks))
    report = import_labels(ws, path, "importer")
    assert report.refused_paths == [{"file": "photos/../../etc/passwd",
                                     "reason": "has a '..' component; write the path "
                                               "without it"}]
    assert report.labeled == 1


def test_import_with_labels_reads_an_export_folder_as_import_labels_does(labeled, tmp_path):
    # A Hugging Face export keeps its images in train/CLASS/: the split is no class.
    export_dataset(labeled, tmp_path / "hf", "hf")
    Workspace.init(tmp_path / "p", CLASSES).close()
    summary = json.loads(run_cli_in_process("import", tmp_path / "p", tmp_path / "hf",
                                            "--with-labels", "--json"))
    assert summary["labels"]["labeled"] == len(labeled.current_labels())
    expected = {labeled.sample(i).sha256: c for i, c in labeled.current_labels().items()}
    with Workspace.open(tmp_path / "p") as ws:
        assert {ws.sample(i).sha256: c for i, c in ws.current_labels().items()} == expected
        assert "train" not in ws.classes()
