"""Parquet label files: HF ``metadata.parquet`` and ``hf-parquet`` shards.

A ``label`` column of integers is named through the ``ClassLabel`` that
``datasets`` stores in the schema metadata.  Shards with an ``image``
column of ``{bytes, path}`` are matched by the sha256 of those bytes.
Needs pyarrow (``pip install 'labelloop[interop]'``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.pool.label_formats.entries import LabelEntry, LabelSource
from app.project.workspace import WorkspaceError


def _class_names(schema) -> list[str] | None:
    raw = (schema.metadata or {}).get(b"huggingface")
    try:
        features = json.loads(raw)["info"]["features"] if raw else {}
        label = features.get("label", {})
        return list(label["names"]) if label.get("_type") == "ClassLabel" else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_parquet(paths: list[Path]) -> LabelSource:
    """Entries from one or more Parquet files of the same dataset.

    Read in record batches, and the image bytes only when no ``sha256``
    column names them, so shards of any size are read in bounded memory.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise WorkspaceError(f"{paths[0]}: reading Parquet needs pyarrow: "
                             "pip install 'labelloop[interop]'") from None
    source = LabelSource("hf-parquet")
    for path in paths:
        try:
            handle = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{path}: not a readable Parquet file ({exc})") from exc
        schema = handle.schema_arrow
        columns = set(schema.names)
        if "label" not in columns or not columns & {"image", "file_name"}:
            raise WorkspaceError(f"{path}: needs 'label' and 'image' or 'file_name' columns "
                                 f"(found {sorted(columns)})")
        names = _class_names(schema)
        wanted = [c for c in ("file_name", "label", "annotator", "sha256") if c in columns]
        if "image" in columns:
            # With a sha256 column only the image's name is needed, not its bytes.
            wanted.append("image.path" if "sha256" in columns else "image")
        # Shards carry the images; an imagefolder's metadata.parquet names files.
        source.format = "hf-parquet" if "image" in columns else "hf-metadata"
        try:
            for batch in handle.iter_batches(batch_size=256, columns=wanted):
                for row in batch.to_pylist():
                    source.entries.append(_entry(path, row, names, "file_name" in columns))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"{path}: not a readable Parquet file ({exc})") from exc
    return source


def _entry(path: Path, row: dict, names: list[str] | None, names_files: bool) -> LabelEntry:
    label = row.get("label")
    if isinstance(label, int) and not isinstance(label, bool) and names is not None:
        label = names[label] if 0 <= label < len(names) else None
    image = row.get("image") if isinstance(row.get("image"), dict) else None
    file = str(row.get("file_name") or (image or {}).get("path") or "")
    sha = row.get("sha256")
    if not sha and image and image.get("bytes"):
        sha = hashlib.sha256(image["bytes"]).hexdigest()
    annotator = row.get("annotator")
    # A file name (metadata.parquet) or an image stored by reference: the file
    # itself, where it exists, is matched by its content.
    by_reference = names_files or (image is not None and not image.get("bytes"))
    return LabelEntry(
        file=file, label="" if label is None else str(label),
        annotator=str(annotator) if annotator else None,
        sha256=str(sha).lower() if sha else None,
        local_file=path.parent / file if by_reference and file else None)
