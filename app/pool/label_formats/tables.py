"""Label tables: today's ``file,label`` CSV, Labelloop's own ``labels.csv`` /
``labels.jsonl`` exports, and Hugging Face ``metadata.csv`` / ``metadata.jsonl``.

The file column may be called ``file``, ``path`` (Labelloop's exports) or
``file_name`` (Hugging Face, relative to the metadata file's folder, where
the images are).  Optional ``annotator`` and ``sha256`` columns are used
when present.  Hugging Face labels given as class indices are named
through the dataset card beside the metadata.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from app.pool.label_formats.dataset_card import card_class_names
from app.pool.label_formats.entries import LabelEntry, LabelSource
from app.project.workspace import WorkspaceError

#: Accepted names of the file column, and the format each implies.
FILE_COLUMNS = {"file": "csv", "path": "labelloop-table", "file_name": "hf-metadata"}


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def entries_from_rows(path: Path, rows: list[dict], source_name: str) -> LabelSource:
    """Entries from table rows (dicts) whose columns were recognised."""
    keys = set().union(*(row.keys() for row in rows)) if rows else set()
    column = next((c for c in FILE_COLUMNS if c in keys), None)
    if column is None or "label" not in keys:
        raise WorkspaceError(
            f"{path}: needs a header with 'file' and 'label' columns "
            f"(or 'file_name' / 'path'; found {sorted(keys) or None})")
    source = LabelSource(FILE_COLUMNS[column] if source_name == "table" else source_name)
    base = path.parent
    names = None
    if column == "file_name" and any(_is_index(row.get("label")) for row in rows):
        names = card_class_names(base)  # Hugging Face labels given as class indices
    for row in rows:
        file = _cell(row.get(column))
        local = base / file if column == "file_name" and file else None
        label = row.get("label")
        if names is not None and _is_index(label) and 0 <= int(label) < len(names):
            label = names[int(label)]
        source.entries.append(LabelEntry(
            file=file, label=_cell(label).strip(),
            annotator=_cell(row.get("annotator")).strip() or None,
            sha256=_cell(row.get("sha256")).strip().lower() or None,
            local_file=local))
    return source


def read_csv(path: Path, text: str) -> LabelSource:
    """A CSV with a header naming a file column and ``label``."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        fields = reader.fieldnames
        if fields is None or "label" not in fields or not set(FILE_COLUMNS) & set(fields):
            raise WorkspaceError(
                f"{path}: needs a header with 'file' and 'label' columns "
                f"(or 'file_name' / 'path'; found {fields})")
        rows = list(reader)
    except csv.Error as exc:
        raise WorkspaceError(f"{path}: not a readable CSV file ({exc})") from exc
    return entries_from_rows(path, rows, "table")


def read_jsonl(path: Path, rows: list[dict]) -> LabelSource:
    """JSON Lines records, one per file (Labelloop's labels.jsonl, HF metadata.jsonl)."""
    return entries_from_rows(path, rows, "table")
