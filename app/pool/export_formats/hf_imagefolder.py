"""``hf``: a Hugging Face ``imagefolder`` tree that ``datasets`` loads as is.

Layout::

    OUT/README.md                       dataset card (class names)
    OUT/train/CLASS/000042_name.png     images, one folder per class
    OUT/train/metadata.jsonl            file_name, label, annotator, labeled_at,
                                        sha256 (and video, frame_index,
                                        timestamp for video frames)

``datasets.load_dataset(OUT)`` reads it with the card's features: ``label``
a ``ClassLabel`` of the project's classes, in order.
``datasets.load_dataset("imagefolder", data_dir=OUT)`` reads it too, but that
builder never reads the card and, once a metadata file exists, neither keeps
the class inferred from the folders: it types every column from the metadata
file alone, and JSON has no class type, so ``label`` is a string there.  With
``hf_metadata="parquet"`` the metadata is ``metadata.parquet``, whose Arrow
schema carries the ``datasets`` features, and both calls give a ``ClassLabel``.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.records import Item
from app.pool.export_formats.common import (
    ExportContext,
    ExportedItem,
    ExportError,
    FormatWriter,
    frame_fields,
)
from app.pool.export_formats.hf_card import dataset_card

SPLIT = "train"
METADATA_KINDS = ("jsonl", "parquet")


def metadata_rows(items: list[ExportedItem], relative_to: str | None) -> list[dict]:
    """One metadata record per item; ``file_name`` relative to ``relative_to``."""
    rows = []
    for item in items:
        name = item.path
        if relative_to is not None:
            name = Path(item.path).relative_to(relative_to).as_posix()
        rows.append({"file_name": name, "label": item.label,
                     "annotator": item.annotation.annotator,
                     "labeled_at": item.annotation.created_at,
                     "sha256": item.source_sha256, **frame_fields(item)})
    return rows


def require_pyarrow(what: str):
    """pyarrow, or an ExportError saying how to get it."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ExportError(f"{what} needs pyarrow: pip install 'labelloop[interop]'") from None
    return pyarrow


def arrow_table(rows: list[dict], classes: list[str], image_column: dict[str, list] | None):
    """The rows as an Arrow table whose schema metadata holds ``datasets`` features.

    ``datasets`` reads the ``huggingface`` schema metadata back as the
    features, which is how ``label`` comes back as a ``ClassLabel``.
    """
    pa = require_pyarrow("this export")
    index = {name: i for i, name in enumerate(classes)}
    columns: dict[str, list] = {}
    features: dict[str, dict] = {}
    if image_column is not None:
        columns["image"] = [{"bytes": b, "path": p}
                            for b, p in zip(image_column["bytes"], image_column["path"],
                                            strict=True)]
        features["image"] = {"_type": "Image"}
    names = list(rows[0]) if rows else ["file_name", "label", "annotator", "labeled_at",
                                         "sha256"]
    for row in rows:  # frame columns appear when any item is a frame
        names += [k for k in row if k not in names]
    types = {"frame_index": pa.int64(), "timestamp": pa.float64()}
    arrays = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if name == "label":
            arrays[name] = pa.array([index[v] for v in values], pa.int64())
            features[name] = {"_type": "ClassLabel", "names": list(classes)}
        else:
            arrays[name] = pa.array(values, types.get(name, pa.string()))
            kind = {"frame_index": "int64", "timestamp": "float64"}
            features[name] = {"_type": "Value", "dtype": kind.get(name, "string")}
    if image_column is not None:
        arrays = {"image": pa.array(columns["image"], pa.struct(
            [("bytes", pa.binary()), ("path", pa.string())])), **arrays}
    table = pa.table(arrays)
    metadata = {"huggingface": json.dumps({"info": {"features": features}})}
    return table.replace_schema_metadata(metadata)


def card_columns(items: list[ExportedItem]) -> list[tuple[str, str]]:
    """The columns after ``image`` and ``label``, with the frame columns if any frame."""
    columns = [("annotator", "string"), ("labeled_at", "string"), ("sha256", "string")]
    if any(item.sample.is_frame for item in items):
        columns += [("video", "string"), ("frame_index", "int64"), ("timestamp", "float64")]
    return columns


class HfImageFolderWriter(FormatWriter):
    name = "hf"
    summary = "Hugging Face imagefolder: train/CLASS/*.png + metadata.jsonl + README.md"

    def image_path(self, ctx: ExportContext, sample: Item, label: str, source: Path) -> str:
        return f"{SPLIT}/{ctx.class_folders[label]}/{ctx.image_name(sample, source)}"

    def write(self, ctx: ExportContext, items: list[ExportedItem]) -> None:
        kind = ctx.options.hf_metadata
        if kind not in METADATA_KINDS:
            raise ExportError(f"unknown metadata kind {kind!r}; choose one of {METADATA_KINDS}")
        rows = metadata_rows(items, SPLIT)
        if kind == "jsonl":
            with ctx.open_text(f"{SPLIT}/metadata.jsonl") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            table = arrow_table(rows, ctx.classes, None)
            import pyarrow.parquet as pq

            pq.write_table(table, ctx.new_file(f"{SPLIT}/metadata.parquet"))
        body = ("# Labelloop export\n\nLoad with `datasets.load_dataset(...)` on this "
                "folder (`label` is a `ClassLabel` of the classes below) or "
                '`datasets.load_dataset("imagefolder", data_dir=...)`; '
                f"`{SPLIT}/metadata.{kind}` lists each image's label, annotator, time and "
                "sha256.")
        ctx.write_text("README.md", dataset_card(ctx, card_columns(items), f"{SPLIT}/**", body))


WRITER = HfImageFolderWriter()
