"""COCO JSON: image-level labels from ``annotations`` and ``categories``.

An annotation names an image and a category; the image's ``file_name`` is
looked for beside the JSON, in ``images/`` and in ``data/`` (where exports
put them) and matched by content when found, else by path.  An image with
annotations of two categories is a conflict, reported like any other.
"""

from __future__ import annotations

from pathlib import Path

from app.pool.label_formats.entries import LabelEntry, LabelSource

IMAGE_FOLDERS = ("", "images", "data")


def is_coco(document: object) -> bool:
    return isinstance(document, dict) and all(
        isinstance(document.get(k), list) for k in ("images", "annotations", "categories"))


def _local_file(base: Path, name: str) -> Path | None:
    for folder in IMAGE_FOLDERS:
        candidate = base / folder / name
        if candidate.is_file():
            return candidate
    return None


def read_coco(path: Path, document: dict) -> LabelSource:
    """Entries from a COCO document (one per annotation with a known image and category)."""
    source = LabelSource("coco")
    categories = {c.get("id"): str(c.get("name", "")) for c in document["categories"]
                  if isinstance(c, dict)}
    images = {i.get("id"): i for i in document["images"] if isinstance(i, dict)}
    for annotation in document["annotations"]:
        source.count("annotations")
        if not isinstance(annotation, dict):
            continue
        image = images.get(annotation.get("image_id"))
        if image is None or not image.get("file_name"):
            source.problems.append({"file": str(annotation.get("image_id")),
                                    "reason": "annotation of an image not in 'images'"})
            continue
        name = str(image["file_name"])
        label = categories.get(annotation.get("category_id"))
        if label is None:
            source.problems.append({"file": name, "reason": "category not in 'categories'"})
            continue
        sha = image.get("sha256")
        annotator = annotation.get("annotator")
        source.entries.append(LabelEntry(
            file=name, label=label, annotator=str(annotator) if annotator else None,
            sha256=sha.lower() if isinstance(sha, str) and sha else None,
            local_file=_local_file(path.parent, name)))
    source.counts["images"] = len(images)
    return source
