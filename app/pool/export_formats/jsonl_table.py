"""``jsonl``: ``labels.jsonl``, one JSON object per labeled image (images stay in place)."""

from __future__ import annotations

import json

from app.pool.export_formats.common import (
    ExportContext,
    ExportedItem,
    FormatWriter,
    label_row,
)


class JsonlWriter(FormatWriter):
    name = "jsonl"
    summary = "labels.jsonl: one {path,label,sha256,annotator,labeled_at} per line"


    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        with ctx.open_text("labels.jsonl") as handle:
            for item in items:
                handle.write(json.dumps(label_row(item)) + "\n")


WRITER = JsonlWriter()
