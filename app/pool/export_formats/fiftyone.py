"""``fiftyone``: FiftyOne's ``FiftyOneImageClassificationDataset`` layout.

Layout::

    OUT/data/000042_name.png
    OUT/labels.json    {"classes": [...], "labels": {"000042_name": 2, ...}}

A label is an index into ``classes``; the key is the image's path in
``data/`` without its extension (FiftyOne's "uuid").
``fiftyone.Dataset.from_dir(OUT, dataset_type=fo.types.FiftyOneImageClassificationDataset)``
loads it.  ``labels.json`` also carries each image's annotator and sha256
under keys FiftyOne does not read.  (The ``imagefolder`` export is
FiftyOne's other classification layout, ``ImageClassificationDirectoryTree``.)
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from app.domain.records import Item
from app.pool.export_formats.common import ExportContext, ExportedItem, FormatWriter

LABELS_FILE = "labels.json"
DATA = "data"


class FiftyOneWriter(FormatWriter):
    name = "fiftyone"
    summary = "FiftyOneImageClassificationDataset: data/*.png + labels.json"

    def image_path(self, ctx: ExportContext, sample: Item, label: str, source: Path) -> str:
        return f"{DATA}/{ctx.image_name(sample, source)}"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        index = {name: i for i, name in enumerate(ctx.classes)}
        labels, annotators, digests = {}, {}, {}
        for item in items:
            uuid = PurePosixPath(item.path).relative_to(DATA).with_suffix("").as_posix()
            labels[uuid] = index[item.label]
            annotators[uuid] = item.annotation.annotator
            digests[uuid] = item.source_sha256
        document = {"classes": ctx.classes, "labels": labels,
                    "annotators": annotators, "sha256": digests}
        with ctx.open_text(LABELS_FILE) as handle:
            json.dump(document, handle, indent=1, ensure_ascii=False)


WRITER = FiftyOneWriter()
