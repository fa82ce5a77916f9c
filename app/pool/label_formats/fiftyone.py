"""FiftyOne's ``FiftyOneImageClassificationDataset``: ``labels.json`` + ``data/``.

``labels.json`` is ``{"classes": [...] or null, "labels": {uuid: target}}``
where the uuid is an image's path in ``data/`` without its extension and
the target a class index (into ``classes``), a class name, a
``{"label": name, ...}`` dict, or null (unlabeled, skipped).  Labelloop's
own export adds ``annotators`` and ``sha256`` maps, used when present.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.pool.label_formats.entries import LabelEntry, LabelSource


def is_fiftyone_labels(document: object) -> bool:
    return isinstance(document, dict) and isinstance(document.get("labels"), dict) and (
        document.get("classes") is None or isinstance(document.get("classes"), list))


def _data_files(folder: Path) -> dict[str, Path]:
    """``{path relative to data/ without extension: file}`` of every file there."""
    found: dict[str, Path] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            path = Path(root) / name
            found[path.relative_to(folder).with_suffix("").as_posix()] = path
    return found


def _target_label(target: object, classes: list | None) -> tuple[str | None, str | None]:
    if isinstance(target, dict):
        target = target.get("label")
    if isinstance(target, bool):
        return None, f"not a class: {target!r}"
    if isinstance(target, int):
        if classes is None or not 0 <= target < len(classes):
            return None, f"class index {target} outside 'classes'"
        return str(classes[target]), None
    if isinstance(target, str) and target:
        return target, None
    return None, f"not a class: {target!r}"


def read_fiftyone(path: Path, document: dict) -> LabelSource:
    """Entries from a ``labels.json``; images are looked for in ``data/`` beside it."""
    source = LabelSource("fiftyone")
    classes = document.get("classes")
    data = _data_files(path.parent / "data") if (path.parent / "data").is_dir() else {}
    annotators = document.get("annotators") if isinstance(document.get("annotators"),
                                                          dict) else {}
    digests = document.get("sha256") if isinstance(document.get("sha256"), dict) else {}
    for uuid, target in sorted(document["labels"].items()):
        if target is None:
            source.count("unlabeled")
            continue
        local = data.get(uuid)
        file = local.relative_to(path.parent).as_posix() if local else uuid
        label, problem = _target_label(target, classes)
        if label is None:
            source.problems.append({"file": file, "reason": problem or "no class"})
            continue
        annotator, sha = annotators.get(uuid), digests.get(uuid)
        source.entries.append(LabelEntry(
            file=file, label=label, annotator=str(annotator) if annotator else None,
            sha256=sha.lower() if isinstance(sha, str) and sha else None, local_file=local))
    return source
