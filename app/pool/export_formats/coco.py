"""``coco``: COCO JSON with image-level class annotations, the images beside it.

Layout::

    OUT/annotations.json     images, categories, annotations (+ info)
    OUT/images/000042_name.png

Each labeled image has one annotation ``{id, image_id, category_id}`` and
no ``bbox``: a class for the whole image.  Boxes, when Labelloop labels
them, are more annotations of the same images and categories.  Category
ids are the project's classes in order, from 1 (0 is COCO's background).
Images carry their ``sha256``; annotations their annotator and time (keys
COCO readers ignore).  ``pycocotools.coco.COCO(OUT/annotations.json)``
loads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.records import Item
from app.domain.timestamps import utc_now
from app.pool.export_formats.common import (
    ExportContext,
    ExportedItem,
    FormatWriter,
    frame_fields,
)

ANNOTATIONS_FILE = "annotations.json"
IMAGES = "images"


class CocoWriter(FormatWriter):
    name = "coco"
    summary = "COCO JSON (images, categories, image-level annotations) + images/"

    def image_path(self, ctx: ExportContext, sample: Item, label: str, source: Path) -> str:
        return f"{IMAGES}/{ctx.image_name(sample, source)}"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        category = {name: i for i, name in enumerate(ctx.classes, start=1)}
        images, annotations = [], []
        for number, item in enumerate(items, start=1):
            images.append({
                "id": number,
                "file_name": Path(item.path).relative_to(IMAGES).as_posix(),
                "width": item.sample.width, "height": item.sample.height,
                "sha256": item.source_sha256, "labelloop_id": item.sample.id,
                **frame_fields(item)})
            annotations.append({
                "id": number, "image_id": number, "category_id": category[item.label],
                "annotator": item.annotation.annotator,
                "labeled_at": item.annotation.created_at,
                "lead_time": item.annotation.seconds_spent})
        document = {
            "info": {"description": "Labelloop export", "date_created": utc_now()},
            "licenses": [],
            "images": images,
            "categories": [{"id": i, "name": name, "supercategory": ""}
                           for name, i in category.items()],
            "annotations": annotations,
        }
        with ctx.open_text(ANNOTATIONS_FILE) as handle:
            json.dump(document, handle, indent=1, ensure_ascii=False)


WRITER = CocoWriter()
