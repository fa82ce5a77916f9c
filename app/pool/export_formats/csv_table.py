"""``csv``: ``labels.csv`` listing the project's own image files with their labels."""

from __future__ import annotations

import csv

from app.pool.export_formats.common import ExportContext, ExportedItem, FormatWriter, label_row

COLUMNS = ["path", "label", "sha256", "annotator", "labeled_at"]


class CsvWriter(FormatWriter):
    name = "csv"
    summary = "labels.csv: path,label,sha256,annotator,labeled_at (images stay in place)"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        rows = [label_row(item) for item in items]
        # Frames add video, frame_index and timestamp after the path.
        fields = list(dict.fromkeys([COLUMNS[0], *(k for row in rows for k in row), *COLUMNS]))
        with ctx.open_text("labels.csv", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


WRITER = CsvWriter()
