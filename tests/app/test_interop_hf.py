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


def _file_label_pairs(dataset, folder: Path) -> set[tuple[str, str]]:
    """(image path relative to the export, label name) of every row."""
    label = dataset.features["label"]
    names = label.names if hasattr(label, "names") else None
    images = dataset.cast_column("image", type(dataset.features["image"])(decode=False))["image"]
    return {(Path(image["path"]).relative_to(folder).as_posix(),
             names[value] if names is not None else value)
            for image, value in zip(images, dataset["label"], strict=True)}


def _manifest_pairs(folder: Path) -> set[tuple[str, str]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {(f["path"], f["label"]) for f in manifest["files"]}


def test_imagefolder_with_metadata_jsonl_loads_with_a_class_label(exports, datasets_module):
    """``load_dataset(OUT)`` reads the card: ``label`` from metadata.jsonl is a
    ClassLabel of the project's classes, in the project's order (not sorted)."""
    folders, expected, cache = exports
    folder = folders["hf-jsonl"]
    assert (folder / "train" / "metadata.jsonl").is_file()
    train = datasets_module.load_dataset(str(folder), cache_dir=str(cache))["train"]
    assert set(train.column_names) == {"image", "label", "annotator", "labeled_at", "sha256"}
    label = train.features["label"]
    assert isinstance(label, datasets_module.ClassLabel) and label.names == CLASSES
    assert _pairs(train) == expected
    assert _file_label_pairs(train, folder) == _manifest_pairs(folder)


def test_imagefolder_builder_on_metadata_jsonl_loads_as_is_with_string_labels(
        exports, datasets_module):
    """``load_dataset("imagefolder", data_dir=OUT)`` never reads the card, and
    with a metadata file it types columns from that file alone: JSON has no
    class type, so ``label`` is the class name as a string."""
    folders, expected, cache = exports
    folder = folders["hf-jsonl"]
    loaded = datasets_module.load_dataset("imagefolder", data_dir=str(folder),
                                          cache_dir=str(cache))
    train = loaded["train"]
    assert set(train.column_names) == {"image", "label", "annotator", "labeled_at", "sha256"}
    assert train.features["label"] == datasets_module.Value("string")
    assert _pairs(train) == expected
    assert _file_label_pairs(train, folder) == _manifest_pairs(folder)


def test_imagefolder_with_metadata_parquet_gives_a_class_label(exports, datasets_module):
    folders, expected, cache = exports
    loaded = datasets_module.load_dataset(
        "imagefolder", data_dir=str(folders["hf-parquet-metadata"]), cache_dir=str(cache))
    label = loaded["train"].features["label"]
    assert isinstance(label, datasets_module.ClassLabel) and label.names == CLASSES
    assert _pairs(loaded["train"]) == expected
    whole = datasets_module.load_dataset(str(folders["hf-parquet-metadata"]),
                                         cache_dir=str(cache))["train"]
    assert whole.features["label"].names == CLASSES and _pairs(whole) == expected


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
    # The folder itself, through the card's configs: the same.
    whole = datasets_module.load_dataset(str(folder), cache_dir=str(cache))["train"]
    assert whole.features["label"].names == CLASSES and _pairs(whole) == expected
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
        data = card.data.to_dict()
        # The Hub's description, and the features datasets applies when it builds.
        for features in (data["dataset_info"]["features"], data["configs"][0]["features"]):
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


def test_video_frames_load_with_their_columns(datasets_module, tmp_path):
    """A pool of frames and images: the card declares the frame columns, and the
    rows of plain images load with them empty."""
    from tests.app.video_fixtures import make_video

    (tmp_path / "src").mkdir()
    make_video(tmp_path / "src" / "drive.mp4", fps=25)
    write_noise_images(tmp_path / "src", 2, seed=9)
    with Workspace.init(tmp_path / "p", ["car", "none"]) as ws:
        import_images(ws, [tmp_path / "src"], workers=1)
        for n, sample in enumerate(ws.samples()):
            ws.label(sample.id, "none" if n % 2 else "car", "ann")
        truth = {s.sha256: (s.frame_index, s.timestamp_s) for s in ws.samples()}
        export_dataset(ws, tmp_path / "hf", "hf")
    train = datasets_module.load_dataset(str(tmp_path / "hf"),
                                         cache_dir=str(tmp_path / "cache"))["train"]
    assert train.features["label"].names == ["car", "none"]
    assert train.features["frame_index"] == datasets_module.Value("int64")
    got = {row["sha256"]: (row["frame_index"], row["timestamp"])
           for row in train.remove_columns("image")}
    assert got == truth and sum(i is None for i, _ in got.values()) == 2
