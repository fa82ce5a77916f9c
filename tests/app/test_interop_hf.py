"""The Hugging Face exports as ``datasets`` itself loads them.

``datasets`` takes seconds to import and to build a dataset, so one project
and its three exports are shared by the module's tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.pool.export_formats import ExportOptions
from app.pool.exporter import export_dataset
from app.pool.importer import import_images
from app.project.workspace import Workspace
from tests.conftest import write_noise_images

CLASSES = ["cat", "dog", "bird"]
LABELS = [("cat", "ann"), ("dog", "bob"), ("cat", "bob"), ("bird", "ann"), ("dog", "ann")]


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory):
    """``{name: export folder}`` plus the expected ``{sha256: (label, annotator)}``."""
    root = tmp_path_factory.mktemp("hf")
    images = write_noise_images(root / "images", 7, seed=5)
    with Workspace.init(root / "proj", CLASSES) as ws:
        import_images(ws, [images[0].parent], workers=1)
        for sample, (label, annotator) in zip(ws.samples(), LABELS, strict=False):
            ws.label(sample.id, label, annotator)
        folders = {
            "hf-jsonl": export_dataset(ws, root / "hf-jsonl", "hf").out,
            "hf-parquet-metadata": export_dataset(
                ws, root / "hf-pq-meta", "hf", options=ExportOptions(hf_metadata="parquet")).out,
            "hf-parquet": export_dataset(ws, root / "hf-parquet", "hf-parquet").out,
        }
        newest = ws.current_annotations()
        expected = {s.sha256: (label, newest[s.id].annotator) for s, label in
                    ws.labeled_samples()}
    return folders, expected, root / "hf-cache"


@pytest.fixture(scope="module")
def datasets_module():
    import os

    # Everything is local: never ask the Hub for anything.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
    return datasets


def _pairs(dataset) -> dict[str, tuple[str, str]]:
    """``{sha256 of the image: (label name, annotator)}`` of a loaded split."""
    import hashlib

    label = dataset.features["label"]
    names = label.names if hasattr(label, "names") else None
    out = {}
    for row in dataset.cast_column("image", type(dataset.features["image"])(decode=False)):
        data = row["image"]["bytes"] or Path(row["image"]["path"]).read_bytes()
        name = names[row["label"]] if names is not None else row["label"]
        out[hashlib.sha256(data).hexdigest()] = (name, row["annotator"])
    return out


def test_imagefolder_with_metadata_jsonl_loads_as_is(exports, datasets_module):
    folders, expected, cache = exports
    loaded = datasets_module.load_dataset("imagefolder", data_dir=str(folders["hf-jsonl"]),
                                          cache_dir=str(cache))
    train = loaded["train"]
    assert set(train.column_names) >= {"image", "label", "annotator", "labeled_at", "sha256"}
    # JSON has no class type: datasets types the column as strings.
    assert train.features["label"].dtype == "string"
    assert _pairs(train) == expected
    # The same (file, label) pairs as the manifest lists.
    manifest = json.loads((folders["hf-jsonl"] / "manifest.json").read_text())
    paths = train.cast_column("image", datasets_module.Image(decode=False))["image"]
    got = {(Path(p["path"]).relative_to(folders["hf-jsonl"]).as_posix(), label)
           for p, label in zip(paths, train["label"], strict=True)}
    assert got == {(f["path"], f["label"]) for f in manifest["files"]}


def test_imagefolder_with_metadata_parquet_gives_a_class_label(exports, datasets_module):
    folders, expected, cache = exports
    loaded = datasets_module.load_dataset(
        "imagefolder", data_dir=str(folders["hf-parquet-metadata"]), cache_dir=str(cache))
    label = loaded["train"].features["label"]
    assert isinstance(label, datasets_module.ClassLabel) and label.names == CLASSES
    assert _pairs(loaded["train"]) == expected


def test_parquet_shards_load_with_images_and_a_class_label(exports, datasets_module):
    folders, expected, cache = exports
    folder = folders["hf-parquet"]
    loaded = datasets_module.load_dataset("parquet", data_dir=str(folder / "data"),
                                          cache_dir=str(cache))
    train = loaded["train"]
    assert isinstance(train.features["label"], datasets_module.ClassLabel)
    assert train.features["label"].names == CLASSES
    assert isinstance(train.features["image"], datasets_module.Image)
    assert _pairs(train) == expected
    assert train[0]["image"].size == (24, 24)  # real, decodable images
    card = (folder / "README.md").read_text()
    assert all(f'"{name}"' in card for name in CLASSES)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [g["path"] for g in manifest["generated"]] == [
        "README.md", "data/train-00000-of-00001.parquet"]


def test_the_dataset_card_declares_the_class_names_in_order(exports, datasets_module):
    from huggingface_hub import DatasetCard

    folders, _, _ = exports
    for name in ("hf-jsonl", "hf-parquet"):
        card = DatasetCard.load(folders[name] / "README.md")
        features = card.data.to_dict()["dataset_info"]["features"]
        label = next(f for f in features if f["name"] == "label")
        assert label["dtype"]["class_label"]["names"] == {str(i): n for i, n in
                                                          enumerate(CLASSES)}


def test_a_parquet_dataset_written_by_datasets_imports_by_image_content(
        exports, datasets_module, tmp_path):
    """A Hub-style shard from ``datasets`` itself: no sha256 column, labels as a
    ClassLabel (integers): items are found by the image bytes, classes by name."""
    from app.pool.label_import import import_labels

    folders, expected, _ = exports
    images = sorted((folders["hf-jsonl"] / "train").rglob("*.png"))
    truth = {json.loads(line)["file_name"]: json.loads(line)["label"] for line in
             (folders["hf-jsonl"] / "train" / "metadata.jsonl").read_text().splitlines()}
    features = datasets_module.Features({
        "image": datasets_module.Image(),
        "label": datasets_module.ClassLabel(names=["bird", "cat", "dog"])})  # another order
    # As on the Hub: the image bytes inside the shard, under a bare name.
    table = datasets_module.Dataset.from_dict(
        {"image": [{"bytes": p.read_bytes(), "path": p.name} for p in images],
         "label": [truth[p.relative_to(folders["hf-jsonl"] / "train").as_posix()]
                   for p in images]}, features=features)
    shard = tmp_path / "train-00000-of-00001.parquet"
    table.to_parquet(str(shard))
    source_images = folders["hf-jsonl"].parent / "images"
    with Workspace.init(tmp_path / "p", CLASSES) as ws:
        import_images(ws, [source_images], workers=1)
        report = import_labels(ws, shard, "hub")
        assert report.format == "hf-parquet" and report.labeled == len(LABELS)
        got = {s.sha256: label for s, label in ws.labeled_samples()}
    assert got == {sha: label for sha, (label, _) in expected.items()}
