"""Label folders: an export folder of any format, or an ImageFolder class tree.

A folder written by Labelloop says its format in ``manifest.json``;
otherwise the files in it tell (``labels.json`` + ``data/``: FiftyOne;
``metadata.*``: Hugging Face imagefolder; Parquet shards; COCO's
``annotations.json``; Label Studio's ``tasks.json``).  A folder with none
of them is a class tree: each first-level folder is a class (FiftyOne's
``ImageClassificationDirectoryTree``, torchvision's ``ImageFolder``), and
its images are matched by content.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.files.image_walk import walk_image_files
from app.pool.label_formats.entries import LabelEntry, LabelSource

#: FiftyOne's folder name for images without a class.
UNLABELED_FOLDER = "_unlabeled"
_HF_METADATA = ("metadata.jsonl", "metadata.csv", "metadata.parquet")


def _manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) and manifest.get("generator") == \
        "labelloop" else {}


#: Where each Labelloop export format keeps its labels ([] : the folders are the labels).
_EXPORT_LABEL_FILES = {
    "imagefolder": (), "csv": ("labels.csv",), "jsonl": ("labels.jsonl",),
    "labelstudio": ("tasks.json",), "coco": ("annotations.json",),
    "fiftyone": ("labels.json",),
    "hf": ("train/metadata.jsonl", "train/metadata.parquet"),
}


def label_files_in(folder: Path) -> list[Path]:
    """The label file(s) inside an export folder, or [] for a class tree."""
    fmt = _manifest(folder).get("format")
    if fmt == "imagefolder":
        return []
    for name in _EXPORT_LABEL_FILES.get(fmt, ()):
        if (folder / name).is_file():
            return [folder / name]
    for name in ("labels.json", "annotations.json", "tasks.json", "labels.csv",
                 "labels.jsonl"):
        if (folder / name).is_file():
            return [folder / name]
    for split in (folder, *sorted(p for p in folder.iterdir()
                                  if p.is_dir() and not p.name.startswith("."))):
        found = [split / n for n in _HF_METADATA if (split / n).is_file()]
        if found:
            return [found[0]]
    shards = sorted((folder / "data").glob("*.parquet")) if (folder / "data").is_dir() else []
    return shards or sorted(folder.glob("*.parquet"))


def read_class_tree(folder: Path) -> LabelSource:
    """Entries for every image under ``folder/CLASS/`` (recursively), class = folder name.

    Folder names written by a Labelloop export (made safe for file systems)
    are turned back into class names through its manifest.
    """
    source = LabelSource("imagefolder")
    folders = _manifest(folder).get("class_folders")
    class_of = {v: k for k, v in folders.items()} if isinstance(folders, dict) else {}
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or child.is_symlink():
            continue
        if child.name == UNLABELED_FOLDER:
            source.count("unlabeled", sum(1 for _ in walk_image_files(str(child))))
            continue
        label = class_of.get(child.name, child.name)
        for path in walk_image_files(str(child)):
            file = Path(path)
            source.entries.append(LabelEntry(
                file=file.relative_to(folder).as_posix(), label=label, local_file=file))
    return source
