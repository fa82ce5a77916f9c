"""Export formats, looked up by name.

Each module writes one format (see :class:`common.FormatWriter`);
:mod:`app.pool.exporter` does the rest (staging, manifest, atomic swap).
A new format is a module here and one line in :data:`WRITERS`.
"""

from __future__ import annotations

from app.pool.export_formats import (
    coco,
    csv_table,
    fiftyone,
    hf_imagefolder,
    hf_parquet,
    imagefolder,
    jsonl_table,
    labelstudio,
)
from app.pool.export_formats.common import ExportError, ExportOptions, FormatWriter

WRITERS: dict[str, FormatWriter] = {
    module.WRITER.name: module.WRITER
    for module in (imagefolder, csv_table, jsonl_table, labelstudio, hf_imagefolder, hf_parquet,
                   coco, fiftyone)
}
#: The names ``labelloop export --format`` accepts, in the order shown.
EXPORT_FORMATS = tuple(WRITERS)


def writer_for(name: str) -> FormatWriter:
    """The writer of format ``name``; ExportError names the choices otherwise."""
    try:
        return WRITERS[name]
    except KeyError:
        raise ExportError(f"unknown export format {name!r}; choose one of {EXPORT_FORMATS}") \
            from None


__all__ = ["EXPORT_FORMATS", "WRITERS", "ExportError", "ExportOptions", "writer_for"]
